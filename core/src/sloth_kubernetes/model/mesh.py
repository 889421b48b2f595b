"""What mesh plugins return from ``mesh_status``, ``mesh_check`` and ``vpn_join|leave|list``.

Value types of the hook contract (see :mod:`sloth_kubernetes.hookspecs`); the library
(:mod:`sloth_kubernetes.api.mesh`) and the CLI only read them.
"""

from __future__ import annotations

from typing import Any

import attrs

from ..secrets import Secret


@attrs.frozen
class MeshPeerStatus:
    """One peer as a node sees it (``wg show dump`` or the mesh's equivalent)."""

    name: str  # node name, ``operator:<device>``, or ``unknown:<key prefix>``
    public_key: str
    endpoint: str | None
    allowed_ips: tuple[str, ...]
    latest_handshake: int  # unix seconds; 0 = never
    transfer_rx: int
    transfer_tx: int


@attrs.frozen
class MeshNodeStatus:
    """One node: its mesh address, whether its mesh runs, how (or why not), and its peers."""

    node: str
    address: str | None
    running: bool
    detail: str
    peers: tuple[MeshPeerStatus, ...]


@attrs.frozen
class MeshCheckResult:
    """The reachability matrix: ``matrix[source][target]`` is True, False or None (not
    measured); ``down`` names dead nodes with why; ``broken_links`` the failing pairs between
    working nodes; ``repaired`` what ``--repair`` did."""

    nodes: tuple[str, ...]
    matrix: dict[str, dict[str, bool | None]]
    down: dict[str, str]
    broken_links: tuple[tuple[str, str], ...]
    repaired: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.down and not self.broken_links

    def to_data(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "nodes": list(self.nodes),
            "matrix": self.matrix,
            "down": self.down,
            "brokenLinks": [list(pair) for pair in self.broken_links],
            "repaired": list(self.repaired),
        }


@attrs.frozen
class VpnPeer:
    """An operator device that joined the mesh."""

    name: str
    address: str
    public_key: str
    created: str = ""


@attrs.frozen
class VpnJoin:
    """What ``vpn join`` made: the device, its config (holding its private key) and the nodes
    that could not be updated now (they are on the next ``up``)."""

    peer: VpnPeer
    config: Secret
    pending_nodes: tuple[str, ...] = ()
