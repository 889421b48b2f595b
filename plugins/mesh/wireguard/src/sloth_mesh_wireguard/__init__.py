"""WireGuard mesh plugin for sloth-kubernetes: config model, topology, rendering, node commands.

The modules here are pure (no I/O): the plugin's hook implementations run the commands from
:mod:`.commands` on nodes and feed what they read back into :mod:`.render`.
"""

from __future__ import annotations

from sloth_mesh_wireguard.model import WireGuardMeshSpec
from sloth_mesh_wireguard.topology import MeshMember, MeshPlan, NodeMeshConfig, Peer, build_mesh

__all__ = ["MeshMember", "MeshPlan", "NodeMeshConfig", "Peer", "WireGuardMeshSpec", "build_mesh"]
