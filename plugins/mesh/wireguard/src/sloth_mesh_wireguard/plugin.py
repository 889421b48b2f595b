"""Registers the ``wireguard`` mesh and the model of ``spec.mesh`` (``type: wireguard``).

The mesh phase itself (``configure_mesh``: keys on nodes, peers pushed, handshake and ping checks)
is wired into the engine by the mesh issue; the topology, rendering and commands it uses are in
this package already.
"""

from __future__ import annotations

from typing import Any

from sloth_kubernetes.hookspecs import hookimpl
from sloth_kubernetes.registry import Component, ConfigBlock

from .model import WireGuardMeshSpec


@hookimpl
def register_meshes(register: Any) -> None:
    register(
        Component(
            kind="mesh",
            name="wireguard",
            description="WireGuard between nodes (kernel or wireguard-go), full or per-location",
            features=frozenset({"full", "location", "operator-vpn"}),
        )
    )


@hookimpl
def register_config_models(register: Any) -> None:
    register(ConfigBlock("mesh", "wireguard", WireGuardMeshSpec))
