"""The ``wireguard`` mesh component: the model of ``spec.mesh`` (``type: wireguard``), the packages
its nodes need (``node_packages``: prepare installs them), the mesh phase (``configure_mesh``, with
its live check ``mesh_drift``), ``mesh status|check`` and ``vpn join|leave|list``.

Modules with I/O are imported inside the methods so ``--help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Sequence

from sloth_kubernetes.plugin import (
    ClusterContext,
    Mesh,
    MeshCheckResult,
    MeshNodeStatus,
    NodePackage,
    NodeRecord,
    PluginBlock,
    VpnJoin,
    VpnPeer,
    hookimpl,
)

from .model import WireGuardMeshSpec


def _spec(context: ClusterContext) -> WireGuardMeshSpec:
    from .members import spec_of

    return spec_of(context.config)


#: What every node of a WireGuard mesh needs (prepare installs what is missing, with apt):
#: ``wg`` (keys, peers, dumps), ``ip`` (the interface), ``ping`` (the check matrix and the
#: gateway watcher), and wireguard-go where the kernel has no wireguard module.
NODE_PACKAGES = (
    NodePackage("wireguard-tools"),
    NodePackage("wireguard-go", unless_module="wireguard"),
    NodePackage("iproute2"),
    NodePackage("iputils-ping"),
)


class WireGuardMesh(Mesh):
    """WireGuard between the nodes; every node's private key is generated on it."""

    @hookimpl
    def node_packages(self, context: ClusterContext, node: NodeRecord) -> list[NodePackage]:
        del node  # every node of the mesh
        block = context.config.spec.mesh
        mesh = block.name if isinstance(block, PluginBlock) else self.name  # the default mesh
        return list(NODE_PACKAGES) if mesh == self.name else []

    def configure(self, context: ClusterContext, nodes: Sequence[NodeRecord]) -> list[NodeRecord]:
        from .phase import configure

        return configure(context, _spec(context), nodes)

    def drift(self, context: ClusterContext, nodes: Sequence[NodeRecord]) -> list[str]:
        from .phase import drift

        return drift(context, _spec(context), nodes)

    def status(self, context: ClusterContext, nodes: Sequence[NodeRecord]) -> list[MeshNodeStatus]:
        from .day2 import status

        return status(context, _spec(context), nodes)

    def check(
        self, context: ClusterContext, nodes: Sequence[NodeRecord], repair: bool
    ) -> MeshCheckResult:
        from .day2 import check

        return check(context, _spec(context), nodes, repair=repair)

    def join_vpn(self, context: ClusterContext, nodes: Sequence[NodeRecord], peer: str) -> VpnJoin:
        from .day2 import vpn_join

        return vpn_join(context, _spec(context), nodes, peer)

    def leave_vpn(self, context: ClusterContext, nodes: Sequence[NodeRecord], peer: str) -> VpnPeer:
        from .day2 import vpn_leave

        return vpn_leave(context, _spec(context), nodes, peer)

    def vpn_peers(self, context: ClusterContext) -> list[VpnPeer]:
        from .day2 import vpn_list

        return vpn_list(context)


PLUGIN = WireGuardMesh(
    "wireguard",
    "WireGuard between nodes (kernel or wireguard-go), full or per-location",
    settings=WireGuardMeshSpec,
    features=frozenset({"full", "location", "operator-vpn"}),
)
