"""``mesh status``, ``mesh check [--repair]`` and ``vpn join|leave|list`` for the WireGuard mesh.

All read live state with ``wg show IFACE dump`` (never a netlink client: those were seen to
truncate long peer lists). Operator devices are peers with AllowedIPs exactly their ``/32`` from
``clientCidr``; joining or leaving changes that one peer on every node (``wg set``) and rewrites
the small operators file every node shares — no other peer is touched.
"""

from __future__ import annotations

import base64
import re
import shlex
import time
from collections.abc import Sequence
from typing import Any

from sloth_kubernetes.plugin import (
    ClusterContext,
    MeshCheckResult,
    MeshNodeStatus,
    MeshPeerStatus,
    NodeRecord,
    Secret,
    UsageError,
    VpnJoin,
    VpnPeer,
    register_secret,
)

from . import commands, node_script, phase, verify
from .members import (
    CLIENT_POOL,
    OPERATOR_PREFIX,
    OperatorPeer,
    mesh_data,
    operator_peers,
    recorded_members,
)
from .model import WireGuardMeshSpec
from .topology import MeshError, Peer, format_endpoint

_PEER_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")


def _connected(context: ClusterContext, nodes: Sequence[NodeRecord]) -> tuple[Any, list[str]]:
    session = context.remote
    if session is None:
        raise MeshError("no SSH session to the nodes", hint="a caller bug: connect first")
    return session, [n.name for n in nodes if n.name in session.connected]


# -- status ------------------------------------------------------------------------------------


def status(
    context: ClusterContext, spec: WireGuardMeshSpec, nodes: Sequence[NodeRecord]
) -> list[MeshNodeStatus]:
    """Per node: running or not, and each peer's endpoint, last handshake and bytes."""
    session, connected = _connected(context, nodes)
    names_by_key = {
        data["publicKey"]: n.name for n in nodes if (data := mesh_data(n)).get("publicKey")
    }
    for operator in operator_peers(context.state, context.name):
        names_by_key[operator.public_key] = f"operator:{operator.name}"
    dumps = phase.read_dumps(session, spec, connected)
    result = []
    for node in sorted(nodes, key=lambda n: n.name):
        data = mesh_data(node)
        how = f"{data.get('implementation', '?')}, {data.get('supervisor', '?')}"
        if node.name not in connected:
            reason = session.failures.get(node.name)
            detail = f"unreachable over SSH: {reason}" if reason else "unreachable over SSH"
            result.append(MeshNodeStatus(node.name, node.mesh_address, False, detail, ()))
            continue
        dump = dumps.get(node.name)
        if dump is None:
            detail = f"WireGuard is not running (no interface {spec.interface})"
            result.append(MeshNodeStatus(node.name, node.mesh_address, False, detail, ()))
            continue
        peers = tuple(
            MeshPeerStatus(
                name=names_by_key.get(peer.public_key, f"unknown:{peer.public_key[:8]}"),
                public_key=peer.public_key,
                endpoint=peer.endpoint,
                allowed_ips=peer.allowed_ips,
                latest_handshake=peer.latest_handshake,
                transfer_rx=peer.transfer_rx,
                transfer_tx=peer.transfer_tx,
            )
            for peer in dump.peers
        )
        result.append(MeshNodeStatus(node.name, node.mesh_address, True, how, peers))
    return result


# -- check -------------------------------------------------------------------------------------


def check(
    context: ClusterContext,
    spec: WireGuardMeshSpec,
    nodes: Sequence[NodeRecord],
    *,
    repair: bool = False,
) -> MeshCheckResult:
    """The NxN reachability matrix over mesh addresses, read-only unless ``repair``.

    ``repair`` runs the mesh phase over the nodes reachable over SSH (restarting stopped
    interfaces, nudging stuck pairs, and re-planning with SSH-unreachable nodes as down — the
    gateway failover of the location topology), then checks again.
    """
    session, connected = _connected(context, nodes)
    repaired: list[str] = []
    if repair:
        reachable = [n for n in nodes if n.name in connected]
        try:
            updated = phase.configure(context, spec, reachable)
        except MeshError as error:
            repaired.append(f"repair incomplete: {error}")
        else:
            for record in updated:
                context.store.put_node(record)
            repaired.append(f"mesh re-applied on {len(updated)} nodes")
            nodes = [*updated, *[n for n in nodes if n.name not in connected]]
    members = {m.name: m.mesh_address for m in recorded_members(nodes, spec, context.config)}
    names = sorted(members)
    dumps = phase.read_dumps(session, spec, [n for n in connected if n in members])
    known_down: dict[str, str] = {}
    for name in names:
        if name not in connected:
            known_down[name] = (
                f"unreachable over SSH ({session.failures.get(name) or 'no session'})"
            )
        elif name not in dumps:
            known_down[name] = f"WireGuard is not running (no interface {spec.interface})"
    sources = [n for n in names if n not in known_down]
    matrix = verify.run_matrix(session, sources, members) if sources else {}
    failing = verify.failing_pairs(matrix)
    if failing:  # one more look at failing pairs: a first packet may wait for a handshake
        time.sleep(0.5)
        only: dict[str, list[str]] = {}
        for a, b in failing:
            for here, there in ((a, b), (b, a)):
                if here in sources:
                    only.setdefault(here, []).append(there)
        matrix = verify.merge(matrix, verify.run_matrix(session, sources, members, only=only))
    for name in known_down:
        matrix[name] = dict.fromkeys((other for other in names if other != name), None)
    diagnosis = verify.diagnose(matrix, names, known_down)
    return MeshCheckResult(
        nodes=tuple(names),
        matrix=matrix,
        down=diagnosis.down,
        broken_links=diagnosis.broken_links,
        repaired=tuple(repaired),
    )


# -- vpn ---------------------------------------------------------------------------------------


def generate_keypair() -> tuple[Secret, str]:
    """A WireGuard key pair made here (X25519): the private half as a registered Secret."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    private = X25519PrivateKey.generate()
    raw_private = private.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    raw_public = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    private_text = base64.b64encode(raw_private).decode()
    register_secret(private_text)
    return Secret(private_text, source="vpn device key"), base64.b64encode(raw_public).decode()


def _check_peer_name(peer: str) -> None:
    if not _PEER_NAME.match(peer):
        raise UsageError(
            f"{peer!r} is not a valid peer name",
            hint="use 1-32 lowercase letters, digits and '-', e.g. `laptop` or `alice-phone`",
        )


def _as_vpn_peer(operator: OperatorPeer) -> VpnPeer:
    return VpnPeer(operator.name, operator.address, operator.public_key, operator.created)


def _operator_peer(operator: OperatorPeer) -> Peer:
    return Peer(
        f"operator:{operator.name}", operator.public_key, None, (f"{operator.address}/32",), 0
    )


def _sync_operators(
    context: ClusterContext,
    spec: WireGuardMeshSpec,
    nodes: Sequence[NodeRecord],
    operators: Sequence[OperatorPeer],
    argv: list[str],
) -> tuple[str, ...]:
    """Rewrite the operators file on every reachable node and run one ``wg set`` there (the
    same command everywhere). Returns the nodes that did not get it (they get it on the next
    ``up``, which writes the same file)."""
    session, connected = _connected(context, nodes)
    meshed = [n.name for n in nodes if n.name in connected and n.mesh_address]
    iface = spec.interface
    script = "\n".join(
        [
            "set -eu",
            commands.write_file(
                node_script.operators_path(iface),
                node_script.render_operators([_operator_peer(op) for op in operators]),
            ),
            f"if ip link show dev {shlex.quote(iface)} >/dev/null 2>&1; then "
            f"{shlex.join(argv)}; ip route replace {spec.client_cidr} dev {iface}; fi",
        ]
    )
    results = session.shell(script, nodes=meshed, timeout=60) if meshed else {}
    missed = [n.name for n in nodes if n.name not in results or results[n.name].exit_status != 0]
    return tuple(sorted(missed))


def vpn_join(
    context: ClusterContext, spec: WireGuardMeshSpec, nodes: Sequence[NodeRecord], peer: str
) -> VpnJoin:
    """Create operator device ``peer``: key made here, address from clientCidr, added to every
    node; returns the device's config (with its private key, as a Secret)."""
    _check_peer_name(peer)
    store, cluster = context.store, context.name
    existing = {op.name: op for op in operator_peers(store, cluster)}
    if peer in existing:
        raise UsageError(
            f"operator peer {peer!r} already joined cluster {cluster}",
            hint=f"`vpn leave {cluster} --peer {peer}` first to issue it a new key",
        )
    members = recorded_members(nodes, spec, context.config)
    if not members:
        raise MeshError(
            f"cluster {cluster} has no WireGuard mesh recorded yet",
            hint="run `sloth up` (at least `--until mesh`) first",
        )
    private_key, public_key = generate_keypair()
    address = store.allocate_address(cluster, CLIENT_POOL, f"operator:{peer}", spec.client_cidr)
    operator = OperatorPeer(
        peer, public_key, address, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    )
    store.put_secret(cluster, OPERATOR_PREFIX + peer, operator.to_json())
    operators = [*existing.values(), operator]
    argv = [
        "wg", "set", spec.interface, "peer", public_key, "allowed-ips", f"{address}/32",
    ]  # fmt: skip
    missed = _sync_operators(context, spec, nodes, operators, argv)
    config = device_config(spec, members, private_key, address)
    return VpnJoin(_as_vpn_peer(operator), config, missed)


def device_config(
    spec: WireGuardMeshSpec, members: Sequence[Any], private_key: Secret, address: str
) -> Secret:
    """The device's ``wg-quick`` config: one peer per node, AllowedIPs exactly that node's /32,
    endpoint its public address (else private), keepalive on the device's end (it roams)."""
    keepalive = spec.persistent_keepalive or 25
    lines = [
        "# sloth-kubernetes operator device; keep this file private (it holds the device key).",
        "[Interface]",
        f"PrivateKey = {private_key.reveal()}",
        f"Address = {address}/32",
        f"MTU = {spec.mtu}",
    ]
    for member in sorted(members, key=lambda m: m.index):
        host = member.public_address or member.private_address
        lines += ["", "[Peer]", f"# {member.name}", f"PublicKey = {member.public_key}"]
        lines.append(f"AllowedIPs = {member.mesh_address}/32")
        if host:
            lines.append(f"Endpoint = {format_endpoint(host, spec.port)}")
        lines.append(f"PersistentKeepalive = {keepalive}")
    text = "\n".join(lines) + "\n"
    register_secret(text)
    return Secret(text, source="vpn device config")


def vpn_leave(
    context: ClusterContext, spec: WireGuardMeshSpec, nodes: Sequence[NodeRecord], peer: str
) -> VpnPeer:
    """Remove operator device ``peer`` from every node and release its address."""
    store, cluster = context.store, context.name
    existing = {op.name: op for op in operator_peers(store, cluster)}
    operator = existing.pop(peer, None)
    if operator is None:
        raise UsageError(
            f"no operator peer {peer!r} in cluster {cluster}",
            hint=f"joined peers: {', '.join(sorted(existing)) or 'none'} (`vpn list {cluster}`)",
        )
    argv = ["wg", "set", spec.interface, "peer", operator.public_key, "remove"]
    _sync_operators(context, spec, nodes, list(existing.values()), argv)
    store.delete_secret(cluster, OPERATOR_PREFIX + peer)
    store.release_address(cluster, CLIENT_POOL, f"operator:{peer}")
    return _as_vpn_peer(operator)


def vpn_list(context: ClusterContext) -> list[VpnPeer]:
    return [_as_vpn_peer(op) for op in operator_peers(context.state, context.name)]
