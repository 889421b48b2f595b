"""Gateway failover done by the nodes themselves (``topology: location``).

WireGuard has no multipath: a prefix belongs to exactly one peer of an interface, and a packet
whose source is not in the sending peer's AllowedIPs is dropped. So when a gateway ``G`` dies, the
prefixes it relays must move — on every node that routes through ``G`` — to the *same* live
gateway ``B`` of ``G``'s location:

* a non-gateway node homed on ``G`` moves "every other location" (its outbound path) to ``B``;
* every remote gateway moves the ``/32``\\ s (and extra CIDRs) of the nodes homed on ``G`` (the
  inbound path) to ``B``;
* ``B`` itself needs nothing: it already peers with every node of its location and every
  remote gateway.

The planner writes, for each node, a :class:`FailoverTable`: each gateway peer that relays
something for this node (a *rule*: the relayed prefixes and the location's other gateways, in
the plan's order, as backups) and the normal AllowedIPs of every peer the rules mention. The
node's watcher (``sloth-wg-IFACE watch``, :mod:`.node_script`) probes those peers every
``failoverInterval`` seconds and keeps the live AllowedIPs equal to :func:`desired_allowed_ips`
for what answers — one ``wg set`` per change (WireGuard moves a prefix to the last peer given it).
Every observer picks the first live backup in the same order, so both directions of a path agree.
:func:`apply_failover` does the same to a whole plan, for the property tests.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable, Mapping, Sequence

import attrs

from .topology import MeshMember, MeshPlan


@attrs.frozen
class FailoverPeer:
    """A peer the watcher probes and may rewrite: its mesh address and its normal AllowedIPs."""

    name: str
    public_key: str
    probe_address: str
    allowed_ips: tuple[str, ...]


@attrs.frozen
class FailoverRule:
    """When ``gateway`` does not answer, ``relayed`` moves to the first of ``backups`` that does."""

    gateway: str
    relayed: tuple[str, ...]
    backups: tuple[str, ...]


@attrs.frozen
class FailoverTable:
    """One node's failover rules (empty when nothing routes through a gateway)."""

    node: str
    peers: tuple[FailoverPeer, ...] = ()
    rules: tuple[FailoverRule, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.rules


class _Canonical:
    """Canonical prefix lists (`wg show allowed-ips` prints canonical forms and the watcher
    compares strings), computed once per distinct list: peers of a large mesh share them."""

    def __init__(self) -> None:
        self._lists: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._one: dict[str, str] = {}

    def __call__(self, prefixes: tuple[str, ...]) -> tuple[str, ...]:
        found = self._lists.get(prefixes)
        if found is None:
            found = tuple(map(self._prefix, prefixes))
            self._lists[prefixes] = found
        return found

    def _prefix(self, prefix: str) -> str:
        found = self._one.get(prefix)
        if found is None:
            found = str(ipaddress.ip_network(prefix, strict=False))
            self._one[prefix] = found
        return found


def failover_tables(plan: MeshPlan, members: Sequence[MeshMember]) -> dict[str, FailoverTable]:
    """Every node's :class:`FailoverTable` (all empty for the full topology)."""
    if plan.topology != "location":
        return {name: FailoverTable(name) for name in plan.nodes}
    canonical = _Canonical()
    own = {member.name: frozenset(member.own_allowed_ips) for member in members}
    address = {member.name: member.mesh_address for member in members}
    location_of = {gw: location for location, gws in plan.gateways.items() for gw in gws}
    # A gateway's entry is the same tuple at every node that sees it the same way.
    relayed_of: dict[tuple[str, tuple[str, ...]], tuple[str, ...]] = {}
    tables = {}
    for name, node in plan.nodes.items():
        peer_names = {peer.name for peer in node.peers}
        rules = []
        used: set[str] = set()
        for peer in node.peers:
            location = location_of.get(peer.name)
            if location is None:
                continue
            cache_key = (peer.name, peer.allowed_ips)
            relayed = relayed_of.get(cache_key)
            if relayed is None:
                mine = own[peer.name]
                relayed = canonical(tuple(p for p in peer.allowed_ips if p not in mine))
                relayed_of[cache_key] = relayed
            backups = tuple(
                gw for gw in plan.gateways[location] if gw != peer.name and gw in peer_names
            )
            if relayed and backups:
                rules.append(FailoverRule(peer.name, relayed, backups))
                used.update((peer.name, *backups))
        tables[name] = FailoverTable(
            name,
            tuple(
                FailoverPeer(
                    peer.name, peer.public_key, address[peer.name], canonical(peer.allowed_ips)
                )
                for peer in node.peers
                if peer.name in used
            ),
            tuple(rules),
        )
    return tables


def desired_allowed_ips(table: FailoverTable, alive: Collection[str]) -> dict[str, tuple[str, ...]]:
    """AllowedIPs of every peer of ``table`` when only ``alive`` answer: a dead gateway's
    relayed prefixes go to its first live backup; nothing moves when no backup answers.
    (The node watcher's awk program computes exactly this; a test runs both.)"""
    wanted = {peer.name: list(peer.allowed_ips) for peer in table.peers}
    for rule in table.rules:
        if rule.gateway in alive:
            continue
        backup = next((name for name in rule.backups if name in alive), None)
        if backup is None:
            continue
        moved = set(rule.relayed)
        wanted[rule.gateway] = [p for p in wanted[rule.gateway] if p not in moved]
        wanted[backup] += [p for p in rule.relayed if p not in wanted[backup]]
    return {name: tuple(prefixes) for name, prefixes in wanted.items()}


def apply_failover(
    plan: MeshPlan, tables: Mapping[str, FailoverTable], dead: Iterable[str]
) -> MeshPlan:
    """``plan`` as the mesh is after every live node's watcher reacted to ``dead`` (which
    answer no probe); the dead nodes' own configs are left as they were."""
    dead_set = frozenset(dead)
    nodes = dict(plan.nodes)
    for name, table in tables.items():
        if name in dead_set or table.empty:
            continue
        alive = [peer.name for peer in table.peers if peer.name not in dead_set]
        wanted = desired_allowed_ips(table, alive)
        node = plan.nodes[name]
        peers = tuple(
            attrs.evolve(peer, allowed_ips=wanted[peer.name]) if peer.name in wanted else peer
            for peer in node.peers
        )
        nodes[name] = attrs.evolve(node, peers=peers)
    return attrs.evolve(plan, nodes=nodes)


def render_failover(table: FailoverTable, interface: str) -> str:
    """The node's ``IFACE.failover`` file, read by ``sloth-wg-IFACE watch``: ``peer NAME KEY
    ADDRESS PREFIXES`` and ``rule GATEWAY RELAYED BACKUP...`` lines (prefixes comma-joined)."""
    words = [table.node, *(f for peer in table.peers for f in (peer.name, peer.public_key))]
    if any(not word or any(c.isspace() for c in word) for word in words):
        raise ValueError(f"node {table.node}: names and keys in a failover table are single words")
    lines = [
        f"# sloth-kubernetes gateway failover for {interface} on {table.node}; do not edit.",
        "# peer NAME PUBLIC-KEY PROBE-ADDRESS NORMAL-ALLOWED-IPS",
        "# rule GATEWAY RELAYED-PREFIXES BACKUP... (first answering backup takes them)",
    ]
    for peer in table.peers:
        lines.append(
            f"peer {peer.name} {peer.public_key} {peer.probe_address} {','.join(peer.allowed_ips)}"
        )
    for rule in table.rules:
        lines.append(f"rule {rule.gateway} {','.join(rule.relayed)} {' '.join(rule.backups)}")
    return "\n".join(lines) + "\n"
