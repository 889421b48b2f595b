"""Text in and out of ``wg``: render a node's config, parse ``wg show IFACE dump``, diff the two.

The rendered config is in ``wg setconf``/``wg syncconf`` format and never holds a private key: the
node loads its key from the file it generated (``wg set IFACE private-key FILE``). Parsed dumps
drop the private and preshared keys at once, so they cannot leak into logs or state.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

import attrs

from sloth_mesh_wireguard.topology import NodeMeshConfig, Peer

NONE = "(none)"
HIDDEN = "(hidden)"
#: WireGuard rejects a session this long after its handshake (REJECT_AFTER_TIME, seconds); a peer
#: without a handshake for longer is not talking to us.
REJECT_AFTER_SECONDS = 180


@attrs.frozen
class DumpPeer:
    """One peer line of ``wg show IFACE dump``."""

    public_key: str
    has_preshared_key: bool
    endpoint: str | None
    allowed_ips: tuple[str, ...]
    latest_handshake: int  # unix seconds, 0 = never
    transfer_rx: int
    transfer_tx: int
    persistent_keepalive: int  # 0 = off


@attrs.frozen
class DeviceDump:
    """``wg show IFACE dump`` without its secrets."""

    public_key: str | None
    listen_port: int
    fwmark: int  # 0 = off
    peers: tuple[DumpPeer, ...]

    def peer(self, public_key: str) -> DumpPeer | None:
        """The peer with ``public_key``, if configured."""
        return next((peer for peer in self.peers if peer.public_key == public_key), None)


def render_setconf(node: NodeMeshConfig) -> str:
    """``node``'s interface and peers in ``wg setconf`` format (no PrivateKey line)."""
    lines = [f"# sloth-kubernetes WireGuard mesh: {node.name} ({node.address})", "[Interface]"]
    lines.append(f"ListenPort = {node.listen_port}")
    for peer in node.peers:
        lines.append("")
        lines.append(_render_peer(peer))
    return "\n".join(lines) + "\n"


def _render_peer(peer: Peer) -> str:
    allowed = ", ".join(peer.allowed_ips)
    block = f"[Peer]\n# {peer.name}\nPublicKey = {peer.public_key}\nAllowedIPs = {allowed}"
    if peer.endpoint:
        block += f"\nEndpoint = {peer.endpoint}"
    if peer.persistent_keepalive:
        block += f"\nPersistentKeepalive = {peer.persistent_keepalive}"
    return block


def parse_dump(text: str) -> DeviceDump:
    """Parse ``wg show IFACE dump``: an interface line (private-key, public-key, listen-port,
    fwmark) then one line per peer (public-key, preshared-key, endpoint, allowed-ips,
    latest-handshake, transfer-rx, transfer-tx, persistent-keepalive), tab-separated.

    The private key field is discarded whatever it holds. Raises ``ValueError`` on other shapes.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError("empty `wg show dump` output: is the interface up?")
    head = lines[0].split("\t")
    if len(head) != 4:
        raise ValueError(f"`wg show dump` interface line has {len(head)} fields, expected 4")
    public_key = None if head[1] == NONE else head[1]
    peers = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != 8:
            raise ValueError(f"`wg show dump` line {number} has {len(fields)} fields, expected 8")
        key, preshared, endpoint, allowed, handshake, rx, tx, keepalive = fields
        peers.append(
            DumpPeer(
                public_key=key,
                has_preshared_key=preshared != NONE,
                endpoint=None if endpoint == NONE else endpoint,
                allowed_ips=() if allowed == NONE else tuple(allowed.split(",")),
                latest_handshake=int(handshake),
                transfer_rx=int(rx),
                transfer_tx=int(tx),
                persistent_keepalive=0 if keepalive == "off" else int(keepalive),
            )
        )
    return DeviceDump(
        public_key, int(head[2]), 0 if head[3] == "off" else int(head[3]), tuple(peers)
    )


def format_dump(device: DeviceDump) -> str:
    """The dump text :func:`parse_dump` reads, with secrets shown as ``(hidden)``."""
    lines = [
        "\t".join(
            (
                HIDDEN,
                device.public_key or NONE,
                str(device.listen_port),
                str(device.fwmark or "off"),
            )
        )
    ]
    for peer in device.peers:
        lines.append(
            "\t".join(
                (
                    peer.public_key,
                    HIDDEN if peer.has_preshared_key else NONE,
                    peer.endpoint or NONE,
                    ",".join(peer.allowed_ips) or NONE,
                    str(peer.latest_handshake),
                    str(peer.transfer_rx),
                    str(peer.transfer_tx),
                    str(peer.persistent_keepalive or "off"),
                )
            )
        )
    return "\n".join(lines) + "\n"


def _normalized(prefixes: Iterable[str]) -> frozenset[str]:
    return frozenset(str(ipaddress.ip_network(prefix, strict=False)) for prefix in prefixes)


def diff_peers(current: DeviceDump, desired: NodeMeshConfig) -> list[list[str]]:
    """The ``wg set`` argument lists that turn ``current`` into ``desired``, touching only peers
    that differ (no interface restart, existing sessions stay up). Empty when nothing differs.

    Additions and updates come first (a prefix moving between peers is claimed by the new owner
    before the old owner is trimmed or removed), removals last. An endpoint is only set when we
    want a specific one: a peer we cannot reach keeps whatever endpoint it roamed to.
    """
    interface = desired.interface
    commands: list[list[str]] = []
    if current.listen_port != desired.listen_port:
        commands.append(["wg", "set", interface, "listen-port", str(desired.listen_port)])
    by_key = {peer.public_key: peer for peer in current.peers}
    wanted_keys = set()
    for peer in desired.peers:
        wanted_keys.add(peer.public_key)
        live = by_key.get(peer.public_key)
        argv = ["wg", "set", interface, "peer", peer.public_key]
        if live is None or _normalized(live.allowed_ips) != _normalized(peer.allowed_ips):
            argv += ["allowed-ips", ",".join(peer.allowed_ips)]
        if peer.endpoint and (live is None or live.endpoint != peer.endpoint):
            argv += ["endpoint", peer.endpoint]
        if (live is None and peer.persistent_keepalive) or (
            live is not None and live.persistent_keepalive != peer.persistent_keepalive
        ):
            argv += ["persistent-keepalive", str(peer.persistent_keepalive or "off")]
        if len(argv) > 5:
            commands.append(argv)
    for live in current.peers:
        if live.public_key not in wanted_keys:
            commands.append(["wg", "set", interface, "peer", live.public_key, "remove"])
    return commands


def stale_peers(
    current: DeviceDump, now: float, *, max_age: int = REJECT_AFTER_SECONDS
) -> list[DumpPeer]:
    """Peers with no handshake, or none for ``max_age`` seconds: dead nodes or stuck pairs.

    Only meaningful for peers that should be talking (an idle peer without keepalive on either
    end has no reason to handshake); the plugin checks those with a ping first.
    """
    return [
        peer
        for peer in current.peers
        if peer.latest_handshake == 0 or now - peer.latest_handshake > max_age
    ]


def nudge_peer(interface: str, peer: Peer) -> list[list[str]]:
    """``wg set`` argument lists that reset one stuck pair on this end: drop the peer (its
    half-finished handshake state goes with it) and add it back. Other peers are untouched."""
    add = [
        "wg",
        "set",
        interface,
        "peer",
        peer.public_key,
        "allowed-ips",
        ",".join(peer.allowed_ips),
    ]
    if peer.endpoint:
        add += ["endpoint", peer.endpoint]
    if peer.persistent_keepalive:
        add += ["persistent-keepalive", str(peer.persistent_keepalive)]
    return [["wg", "set", interface, "peer", peer.public_key, "remove"], add]


def desired_dump(node: NodeMeshConfig, public_key: str | None = None) -> DeviceDump:
    """What ``wg show dump`` would say right after applying ``node`` (no handshakes yet); used to
    compare plans and in tests."""
    return DeviceDump(
        public_key=public_key,
        listen_port=node.listen_port,
        fwmark=0,
        peers=tuple(_as_dump_peer(peer) for peer in node.peers),
    )


def _as_dump_peer(peer: Peer) -> DumpPeer:
    return DumpPeer(
        public_key=peer.public_key,
        has_preshared_key=False,
        endpoint=peer.endpoint,
        allowed_ips=peer.allowed_ips,
        latest_handshake=0,
        transfer_rx=0,
        transfer_tx=0,
        persistent_keepalive=peer.persistent_keepalive,
    )
