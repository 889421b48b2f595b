"""From the core's node records to mesh members, and what the plugin records about each node.

A node's mesh data lives in ``NodeRecord.extra["wireguard"]`` (public key, implementation,
supervisor, location, gateway role) — public values only; the private key never leaves the node.
Addresses come from the state store's allocator (pool ``mesh``), so they survive re-runs, node
replacement and resumed runs. Operator peers (``vpn join``) are kept in the state store as
records under ``wireguard/operators/<name>`` (encrypted like every state secret, though they hold
only a public key and an address).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Sequence
from typing import Any

import attrs
from sloth_kubernetes.plugin import ClusterConfig, NodeRecord, PluginBlock

from .model import WireGuardMeshSpec
from .topology import MeshMember, NodeMeshConfig, Peer

EXTRA_KEY = "wireguard"
ADDRESS_POOL = "mesh"
CLIENT_POOL = "client"
OPERATOR_PREFIX = "wireguard/operators/"


def spec_of(config: ClusterConfig) -> WireGuardMeshSpec:
    """The cluster's ``spec.mesh`` settings (defaults when the block is absent)."""
    block = config.spec.mesh
    settings = block.settings if isinstance(block, PluginBlock) else None
    return settings if isinstance(settings, WireGuardMeshSpec) else WireGuardMeshSpec()


def mesh_data(node: NodeRecord) -> dict[str, Any]:
    """What the plugin recorded about ``node`` (empty before its first mesh run)."""
    data = node.extra.get(EXTRA_KEY)
    return dict(data) if isinstance(data, dict) else {}


def index_of(address: str, spec: WireGuardMeshSpec) -> int:
    """A stable, unique ordering key: the address's offset in the mesh range."""
    return int(ipaddress.IPv4Address(address)) - int(spec.network.network_address)


def location_of(node: NodeRecord, config: ClusterConfig) -> str:
    """The node's location: its ``location`` label, its pool's ``location``, else
    provider+region."""
    label = node.labels.get("location") or node.labels.get("sloth/location")
    if label:
        return label
    pool = next((p for p in config.spec.node_pools if p.name == node.pool), None)
    if pool is not None and pool.location:
        return pool.location
    placement = node.extra.get("placement")
    region = placement.get("region") if isinstance(placement, dict) else None
    if region is None and pool is not None:
        region = pool.region
    return f"{node.provider}:{region}" if region else node.provider or "default"


def network_of(node: NodeRecord) -> str:
    """Which provider network the node's private address belongs to: the provider's
    ``extra["network"]`` when it says, else provider+region (a VPC is regional on most clouds)."""
    network = node.extra.get("network")
    if isinstance(network, str) and network:
        return network
    placement = node.extra.get("placement")
    region = placement.get("region") if isinstance(placement, dict) else None
    return f"{node.provider}:{region or ''}"


def member_of(
    node: NodeRecord, address: str, public_key: str, spec: WireGuardMeshSpec, config: ClusterConfig
) -> MeshMember:
    return MeshMember(
        name=node.name,
        mesh_address=address,
        public_key=public_key,
        index=index_of(address, spec),
        public_address=node.public_address,
        private_address=node.private_address,
        network_id=network_of(node),
        location=location_of(node, config),
        behind_nat=bool(node.labels.get("behind-nat") == "true" or node.extra.get("behindNat")),
        pool=node.pool or None,
    )


def recorded_members(
    nodes: Iterable[NodeRecord], spec: WireGuardMeshSpec, config: ClusterConfig
) -> list[MeshMember]:
    """Members from what earlier runs recorded (nodes without mesh data are left out)."""
    members = []
    for node in nodes:
        data = mesh_data(node)
        if node.mesh_address and data.get("publicKey"):
            members.append(member_of(node, node.mesh_address, data["publicKey"], spec, config))
    return members


@attrs.frozen
class OperatorPeer:
    """An operator's device (``vpn join``): its public key and its address from clientCidr."""

    name: str
    public_key: str
    address: str
    created: str = ""

    def to_json(self) -> str:
        return json.dumps(
            {"publicKey": self.public_key, "address": self.address, "created": self.created}
        )

    @classmethod
    def from_json(cls, name: str, text: str) -> OperatorPeer:
        data = json.loads(text)
        return cls(name, str(data["publicKey"]), str(data["address"]), str(data.get("created", "")))


def operator_peers(store: Any, cluster: str) -> list[OperatorPeer]:
    """Every operator peer recorded for the cluster, by name."""
    peers = []
    for secret_name in store.list_secret_names(cluster):
        if secret_name.startswith(OPERATOR_PREFIX):
            value = store.get_secret(cluster, secret_name)
            if value is not None:
                name = secret_name[len(OPERATOR_PREFIX) :]
                peers.append(OperatorPeer.from_json(name, value.reveal()))
    return sorted(peers, key=lambda peer: peer.name)


def with_operators(node: NodeMeshConfig, operators: Sequence[OperatorPeer]) -> NodeMeshConfig:
    """A node's config plus one peer per operator device: AllowedIPs exactly the device's /32,
    no endpoint (devices roam and sit behind NAT: they connect to us, with keepalive on their
    end)."""
    if not operators:
        return node
    extra = tuple(
        Peer(f"operator:{op.name}", op.public_key, None, (f"{op.address}/32",), 0)
        for op in operators
    )
    return attrs.evolve(node, peers=node.peers + extra)
