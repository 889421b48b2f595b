"""Who peers with whom: per-node WireGuard peer lists for a full or per-location mesh.

Pure and deterministic: the same members and spec always give the same plan, so a re-run is a
no-op and :func:`sloth_mesh_wireguard.render.diff_peers` only touches what really changed.

Rules (the README explains why):

* AllowedIPs of a peer are exactly the mesh ``/32`` of that peer plus its ``extra_allowed_ips``
  (pod CIDR, ...) and, in the location topology, the addresses it relays for; never a catch-all.
* Endpoint of a peer: its private address when both ends share a provider network, else its public
  address, adjusted by the peer pool's ``endpointPreference``; ``None`` when we cannot reach it
  (it is behind NAT or has no address we can use) — it will connect to us.
* PersistentKeepalive on exactly one end of each pair: the end that knows the other's endpoint;
  when both do, the end behind NAT, else the lower index. Keepalive on both ends was observed to
  leave wireguard-go pairs without a handshake.
* ``location`` topology: full mesh inside a location; between locations only gateways peer. Each
  non-gateway node has a *home gateway* (nodes are spread over the location's gateways) through
  which all its traffic to other locations flows, and remote gateways send traffic for it to that
  same home gateway, so WireGuard's source check (cryptokey routing) holds in both directions.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import itertools
from collections.abc import Iterable, Sequence

import attrs
from sloth_kubernetes.plugin import SlothError

from sloth_mesh_wireguard.model import WireGuardMeshSpec

DEFAULT_LOCATION = "default"


class MeshError(SlothError):
    """The members cannot form a valid WireGuard mesh (duplicate keys, overlapping CIDRs...)."""


def _tuple_of_str(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class MeshMember:
    """One node as the mesh sees it. ``public_key`` is the node's WireGuard public key."""

    name: str
    mesh_address: str
    public_key: str
    index: int  # stable order (allocation order); decides ties deterministically
    public_address: str | None = None
    private_address: str | None = None
    network_id: str | None = None  # provider network identity, e.g. "aws:vpc-1"
    location: str | None = None  # provider+region or the node's `location` label
    behind_nat: bool = False  # cannot accept inbound connections on its public address
    pool: str | None = None  # node pool, for endpointPreference
    extra_allowed_ips: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)

    @property
    def own_allowed_ips(self) -> tuple[str, ...]:
        """The prefixes that belong to this node: its mesh /32 and its extra CIDRs."""
        return (f"{self.mesh_address}/32", *self.extra_allowed_ips)


@attrs.frozen
class Peer:
    """One ``[Peer]`` of a node's WireGuard interface."""

    name: str
    public_key: str
    endpoint: str | None
    allowed_ips: tuple[str, ...]
    persistent_keepalive: int  # seconds, 0 = off


@attrs.frozen
class NodeMeshConfig:
    """The desired WireGuard state of one node (no private key: that never leaves the node)."""

    name: str
    interface: str
    address: str  # mesh address with the mesh prefix length, e.g. "10.100.0.7/16"
    listen_port: int
    mtu: int
    location: str
    gateway: bool
    home_gateway: str | None  # location topology: the gateway relaying our inter-location traffic
    peers: tuple[Peer, ...]


@attrs.frozen
class MeshPlan:
    """Desired mesh: per-node configs plus what an operator should know about it."""

    topology: str
    nodes: dict[str, NodeMeshConfig]
    gateways: dict[str, tuple[str, ...]]  # location → gateway names (location topology only)
    unreachable: tuple[tuple[str, str], ...]  # pairs where neither end can reach the other
    down: frozenset[str]


def format_endpoint(host: str, port: int) -> str:
    """``host:port``, with IPv6 literals in brackets as ``wg`` expects."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def build_mesh(
    members: Sequence[MeshMember], spec: WireGuardMeshSpec, *, down: Iterable[str] = ()
) -> MeshPlan:
    """Compute every node's peers. ``down`` names nodes `mesh check` found dead: they are never
    chosen as gateways, so re-planning with a dead gateway in ``down`` is the failover step."""
    ordered = sorted(members, key=lambda member: member.index)
    _validate_members(ordered, spec)
    down_set = frozenset(down)
    if spec.topology == "location":
        return _location_mesh(ordered, spec, down_set)
    return _full_mesh(ordered, spec, down_set)


class _PairRules:
    """Endpoint and keepalive decisions; precomputes each member's endpoint strings once."""

    def __init__(self, ordered: Sequence[MeshMember], spec: WireGuardMeshSpec) -> None:
        self.keepalive = spec.persistent_keepalive
        self.public_ep: list[str | None] = []
        self.private_ep: list[str | None] = []
        self.preference: list[str] = []
        for member in ordered:
            reachable_public = member.public_address and not member.behind_nat
            self.public_ep.append(
                format_endpoint(member.public_address, spec.port)
                if reachable_public and member.public_address
                else None
            )
            self.private_ep.append(
                format_endpoint(member.private_address, spec.port)
                if member.private_address
                else None
            )
            self.preference.append(spec.preference_for(member.pool))
        self.networks = [member.network_id for member in ordered]
        self.nat = [member.behind_nat for member in ordered]
        # Cache of Peer objects: a target seen from many nodes differs only in endpoint/keepalive.
        self._peers: dict[tuple[int, str | None, int, tuple[str, ...]], Peer] = {}
        self._ordered = ordered

    def endpoint(self, viewer: int, target: int) -> str | None:
        """Endpoint ``viewer`` uses to reach ``target`` (positions in the ordered list)."""
        network = self.networks[target]
        same_network = network is not None and network == self.networks[viewer]
        preference = self.preference[target]
        private = self.private_ep[target]
        public = self.public_ep[target]
        if preference == "private":
            return private or public
        if preference == "public":
            return public or (private if same_network else None)
        return private if same_network and private else public

    def keepalives(self, a: int, b: int, a_to_b: str | None, b_to_a: str | None) -> tuple[int, int]:
        """Keepalive seconds for (a's entry for b, b's entry for a): at most one is non-zero."""
        if not self.keepalive:
            return 0, 0
        if a_to_b and b_to_a:
            if self.nat[a] != self.nat[b]:
                return (self.keepalive, 0) if self.nat[a] else (0, self.keepalive)
            return (self.keepalive, 0) if a < b else (0, self.keepalive)
        if a_to_b:
            return self.keepalive, 0
        if b_to_a:
            return 0, self.keepalive
        return 0, 0

    def peer(
        self, target: int, endpoint: str | None, keepalive: int, allowed: tuple[str, ...]
    ) -> Peer:
        key = (target, endpoint, keepalive, allowed)
        found = self._peers.get(key)
        if found is None:
            member = self._ordered[target]
            found = Peer(member.name, member.public_key, endpoint, allowed, keepalive)
            self._peers[key] = found
        return found


def _node_config(
    member: MeshMember,
    spec: WireGuardMeshSpec,
    peers: list[Peer],
    *,
    location: str,
    gateway: bool,
    home: str | None,
) -> NodeMeshConfig:
    return NodeMeshConfig(
        name=member.name,
        interface=spec.interface,
        address=f"{member.mesh_address}/{spec.network.prefixlen}",
        listen_port=spec.port,
        mtu=spec.mtu,
        location=location,
        gateway=gateway,
        home_gateway=home,
        peers=tuple(peers),
    )


def _full_mesh(
    ordered: Sequence[MeshMember], spec: WireGuardMeshSpec, down: frozenset[str]
) -> MeshPlan:
    rules = _PairRules(ordered, spec)
    count = len(ordered)
    own = [member.own_allowed_ips for member in ordered]
    peers: list[list[Peer]] = [[] for _ in range(count)]
    unreachable: list[tuple[str, str]] = []
    for a in range(count):
        peers_a = peers[a]
        for b in range(a + 1, count):
            a_to_b = rules.endpoint(a, b)
            b_to_a = rules.endpoint(b, a)
            keep_a, keep_b = rules.keepalives(a, b, a_to_b, b_to_a)
            peers_a.append(rules.peer(b, a_to_b, keep_a, own[b]))
            peers[b].append(rules.peer(a, b_to_a, keep_b, own[a]))
            if a_to_b is None and b_to_a is None:
                unreachable.append((ordered[a].name, ordered[b].name))
    nodes = {
        member.name: _node_config(
            member,
            spec,
            peers[position],
            location=member.location or DEFAULT_LOCATION,
            gateway=False,
            home=None,
        )
        for position, member in enumerate(ordered)
    }
    return MeshPlan("full", nodes, {}, tuple(unreachable), down)


def choose_gateways(
    location_members: Sequence[MeshMember], wanted: int, down: frozenset[str]
) -> tuple[MeshMember, ...]:
    """Deterministic gateways of one location: alive nodes with a reachable public address first,
    then by index. All alive nodes when the location has fewer than ``wanted``."""
    alive = [member for member in location_members if member.name not in down]
    alive.sort(
        key=lambda member: (not (member.public_address and not member.behind_nat), member.index)
    )
    return tuple(alive[:wanted])


def _location_mesh(
    ordered: Sequence[MeshMember], spec: WireGuardMeshSpec, down: frozenset[str]
) -> MeshPlan:
    rules = _PairRules(ordered, spec)
    position = {member.name: at for at, member in enumerate(ordered)}
    groups: dict[str, list[int]] = {}
    for at, member in enumerate(ordered):
        groups.setdefault(member.location or DEFAULT_LOCATION, []).append(at)

    gateways: dict[str, list[int]] = {}
    home: dict[int, int | None] = {}
    for location, positions in groups.items():
        chosen = choose_gateways(
            [ordered[at] for at in positions], spec.gateways_per_location, down
        )
        gateways[location] = [position[member.name] for member in chosen]
        gateway_set = set(gateways[location])
        rank = 0
        for at in positions:
            if at in gateway_set:
                home[at] = at
            elif gateways[location]:
                # Spread nodes over the gateways round-robin by index rank.
                home[at] = gateways[location][rank % len(gateways[location])]
                rank += 1
            else:
                home[at] = None

    own = [member.own_allowed_ips for member in ordered]
    # What each gateway carries for its location: its own prefixes plus those of nodes homed on it.
    carried: dict[int, list[str]] = {at: list(own[at]) for gws in gateways.values() for at in gws}
    for at, gateway in home.items():
        if gateway is not None and gateway != at:
            carried[gateway].extend(own[at])
    remote_prefixes: dict[str, tuple[str, ...]] = {}
    for location in groups:
        remote_prefixes[location] = tuple(
            prefix
            for other, positions in groups.items()
            if other != location
            for at in positions
            for prefix in own[at]
        )

    peers: list[list[Peer]] = [[] for _ in ordered]
    unreachable: list[tuple[str, str]] = []

    def connect(
        a: int, b: int, allowed_at_a: tuple[str, ...], allowed_at_b: tuple[str, ...]
    ) -> None:
        a_to_b = rules.endpoint(a, b)
        b_to_a = rules.endpoint(b, a)
        keep_a, keep_b = rules.keepalives(a, b, a_to_b, b_to_a)
        peers[a].append(rules.peer(b, a_to_b, keep_a, allowed_at_a))
        peers[b].append(rules.peer(a, b_to_a, keep_b, allowed_at_b))
        if a_to_b is None and b_to_a is None:
            unreachable.append((ordered[a].name, ordered[b].name))

    for location, positions in groups.items():
        remote = remote_prefixes[location]
        for i, a in enumerate(positions):
            for b in positions[i + 1 :]:
                # a's entry for b also carries the remote world when b is a's home gateway.
                at_a = own[b] + remote if home[a] == b else own[b]
                at_b = own[a] + remote if home[b] == a else own[a]
                connect(a, b, at_a, at_b)
    locations = sorted(gateways)
    for i, location in enumerate(locations):
        for other in locations[i + 1 :]:
            for a in gateways[location]:
                for b in gateways[other]:
                    connect(a, b, tuple(carried[b]), tuple(carried[a]))

    nodes = {}
    for at, member in enumerate(ordered):
        location = member.location or DEFAULT_LOCATION
        gateway_of = home[at]
        nodes[member.name] = _node_config(
            member,
            spec,
            peers[at],
            location=location,
            gateway=gateway_of == at,
            home=ordered[gateway_of].name if gateway_of is not None else None,
        )
    names = {location: tuple(ordered[at].name for at in gws) for location, gws in gateways.items()}
    return MeshPlan("location", nodes, names, tuple(unreachable), down)


def trace_route(
    plan: MeshPlan, members: Sequence[MeshMember], source: str, target: str
) -> list[str] | None:
    """Follow WireGuard's cryptokey routing from ``source`` to ``target``'s mesh address.

    Returns the node names on the path (both ends included), or ``None`` when a packet would be
    dropped: no peer claims the destination, or the receiving node's entry for the sender does not
    claim the source address (WireGuard drops such packets). Assumes relays forward (ip_forward=1).
    """
    by_name = {member.name: member for member in members}
    source_ip = f"{by_name[source].mesh_address}/32"
    target_ip = f"{by_name[target].mesh_address}/32"
    path = [source]
    current = source
    for _ in range(len(members) + 1):
        if current == target:
            return path
        hop = next(
            (peer for peer in plan.nodes[current].peers if target_ip in peer.allowed_ips), None
        )
        if hop is None:
            return None
        back = next((peer for peer in plan.nodes[hop.name].peers if peer.name == current), None)
        if back is None or source_ip not in back.allowed_ips:
            return None
        path.append(hop.name)
        current = hop.name
    return None  # a routing loop


def _validate_members(ordered: Sequence[MeshMember], spec: WireGuardMeshSpec) -> None:
    network = spec.network
    seen: dict[str, dict[object, str]] = {"name": {}, "index": {}, "key": {}, "address": {}}
    intervals: list[tuple[int, int, int, str, str]] = []  # (version, first, last, owner, cidr)
    for member in ordered:
        for kind, value in (
            ("name", member.name),
            ("index", member.index),
            ("key", member.public_key),
            ("address", member.mesh_address),
        ):
            other = seen[kind].get(value)
            if other is not None:
                raise MeshError(
                    f"mesh members {other} and {member.name} have the same {kind} {value!r}",
                    hint="the state store holds inconsistent mesh data; run `sloth mesh check`",
                )
            seen[kind][value] = member.name
        _check_public_key(member)
        try:
            address = ipaddress.IPv4Address(member.mesh_address)
        except ValueError:
            raise MeshError(
                f"node {member.name}: mesh address {member.mesh_address!r} is not IPv4"
            ) from None
        if address not in network or address in (
            network.network_address,
            network.broadcast_address,
        ):
            raise MeshError(
                f"node {member.name}: mesh address {address} is not a usable address of {network}",
                hint="spec.mesh.cidr changed after addresses were allocated? re-allocate them",
            )
        intervals.append((4, int(address), int(address), member.name, f"{address}/32"))
        for cidr in member.extra_allowed_ips:
            try:
                extra = ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                raise MeshError(
                    f"node {member.name}: extra allowed IPs {cidr!r} is not a network"
                ) from None
            if extra.prefixlen == 0:
                raise MeshError(
                    f"node {member.name}: extra allowed IPs {cidr} is a catch-all",
                    hint="a mesh peer may only claim its own prefixes (e.g. its pod CIDR)",
                )
            if extra.version == 4 and extra.overlaps(network):
                raise MeshError(
                    f"node {member.name}: extra allowed IPs {cidr} overlaps the mesh {network}"
                )
            intervals.append(
                (
                    extra.version,
                    int(extra.network_address),
                    int(extra.broadcast_address),
                    member.name,
                    cidr,
                )
            )
    # One prefix can belong to one peer only: sort and compare neighbours (O(n log n)).
    intervals.sort()
    for (version, _first, last, owner, cidr), (
        next_version,
        first,
        _last,
        other,
        other_cidr,
    ) in itertools.pairwise(intervals):
        if version == next_version and first <= last:
            raise MeshError(
                f"allowed IPs overlap: {cidr} of {owner} and {other_cidr} of {other}",
                hint="each node's extra CIDRs (pod CIDRs) must be disjoint",
            )


def _check_public_key(member: MeshMember) -> None:
    try:
        raw = base64.b64decode(member.public_key, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise MeshError(
            f"node {member.name}: {member.public_key!r} is not a WireGuard public key",
            hint="re-read it on the node with `wg pubkey < /etc/wireguard/<interface>.key`",
        )
