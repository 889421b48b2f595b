"""What each node would receive, computed without touching any machine (``render``).

The same functions build the files for ``up`` and for ``render``; rendering only swaps every
secret for :data:`~.installer.SECRET_MARKER` and uses placeholders for addresses not known yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from ..context import ClusterContext
from ..model import NodeRecord
from . import endpoint as api_endpoint
from .installer import SECRET_MARKER, Installer, role_of
from .orchestrate import endpoint_of, make_plan, settings_of
from .topology import plan_topology


def placeholder_address(node: str) -> str:
    return f"<mesh address of {node}>"


def with_placeholders(nodes: Sequence[NodeRecord]) -> list[NodeRecord]:
    """Nodes whose mesh address is not known yet get a readable placeholder."""
    return [
        n if n.mesh_address else attrs.evolve(n, mesh_address=placeholder_address(n.name))
        for n in nodes
    ]


def render_node_files(
    context: ClusterContext, installer: Installer, nodes: Sequence[NodeRecord], default: Any
) -> dict[str, dict[str, str]]:
    """{node: {path: content}} for every node; secrets replaced by the marker."""
    nodes = with_placeholders(nodes)
    topology = plan_topology(context.config, nodes)
    settings = settings_of(context, default)
    plan = attrs.evolve(
        make_plan(context, installer, settings, topology, SECRET_MARKER), reveal=False
    )
    endpoint = endpoint_of(context, installer, topology, settings)
    return {
        node.name: {
            f.path: f.content
            for f in (
                *installer.node_files(plan, node),
                *api_endpoint.balancer_files(endpoint, role_of(node)),
            )
        }
        for node in (*topology.servers, *topology.agents)
    }
