"""Registers the ``wireguard`` mesh and the model of ``spec.mesh`` (``type: wireguard``), and
implements the mesh phase (``configure_mesh``, with its live check ``mesh_drift``),
``mesh status|check`` and ``vpn join|leave|list``.

Each hook answers only for ``mesh == "wireguard"`` (dispatch: other meshes' plugins answer for
theirs). Modules with I/O are imported inside the hooks so ``--help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sloth_kubernetes.plugin import ClusterContext, Component, ConfigBlock, NodeRecord, hookimpl

from .model import WireGuardMeshSpec

NAME = "wireguard"


@hookimpl
def register_meshes(register: Any) -> None:
    register(
        Component(
            kind="mesh",
            name=NAME,
            description="WireGuard between nodes (kernel or wireguard-go), full or per-location",
            features=frozenset({"full", "location", "operator-vpn"}),
        )
    )


@hookimpl
def register_config_models(register: Any) -> None:
    register(ConfigBlock("mesh", NAME, WireGuardMeshSpec))


def _spec(context: ClusterContext) -> WireGuardMeshSpec:
    from .members import spec_of

    return spec_of(context.config)


@hookimpl
def configure_mesh(
    context: ClusterContext, mesh: str, nodes: Sequence[NodeRecord]
) -> list[NodeRecord] | None:
    if mesh != NAME:
        return None
    from .phase import configure

    return configure(context, _spec(context), nodes)


@hookimpl
def mesh_status(context: ClusterContext, mesh: str, nodes: Sequence[NodeRecord]) -> Any:
    if mesh != NAME:
        return None
    from .day2 import status

    return status(context, _spec(context), nodes)


@hookimpl
def mesh_drift(context: ClusterContext, mesh: str, nodes: Sequence[NodeRecord]) -> Any:
    if mesh != NAME:
        return None
    from .phase import drift

    return drift(context, _spec(context), nodes)


@hookimpl
def mesh_check(
    context: ClusterContext, mesh: str, nodes: Sequence[NodeRecord], repair: bool
) -> Any:
    if mesh != NAME:
        return None
    from .day2 import check

    return check(context, _spec(context), nodes, repair=repair)


@hookimpl
def vpn_join(context: ClusterContext, mesh: str, nodes: Sequence[NodeRecord], peer: str) -> Any:
    if mesh != NAME:
        return None
    from .day2 import vpn_join as join

    return join(context, _spec(context), nodes, peer)


@hookimpl
def vpn_leave(context: ClusterContext, mesh: str, nodes: Sequence[NodeRecord], peer: str) -> Any:
    if mesh != NAME:
        return None
    from .day2 import vpn_leave as leave

    return leave(context, _spec(context), nodes, peer)


@hookimpl
def vpn_list(context: ClusterContext, mesh: str) -> Any:
    if mesh != NAME:
        return None
    from .day2 import vpn_list as listing

    return listing(context)
