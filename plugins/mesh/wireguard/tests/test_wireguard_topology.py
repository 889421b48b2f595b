"""Topology rules: AllowedIPs, endpoints, keepalive, location gateways and their failover."""

from __future__ import annotations

import base64
import ipaddress
import itertools
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sloth_mesh_wireguard.model import WireGuardMeshSpec
from sloth_mesh_wireguard.topology import (
    MeshError,
    MeshMember,
    MeshPlan,
    build_mesh,
    trace_route,
)

FULL = WireGuardMeshSpec()
LOCATION = WireGuardMeshSpec(topology="location")


def key(number: int) -> str:
    return base64.b64encode(number.to_bytes(32, "big")).decode()


def member(index: int, **overrides: object) -> MeshMember:
    values: dict[str, object] = {
        "name": f"n{index}",
        "mesh_address": f"10.100.{index // 250}.{index % 250 + 1}",
        "public_key": key(index + 1),
        "index": index,
        "public_address": f"198.51.{index // 250}.{index % 250 + 1}",
        "private_address": f"172.16.{index // 250}.{index % 250 + 1}",
        "network_id": "net-a",
    }
    values.update(overrides)
    return MeshMember(**values)  # type: ignore[arg-type]


@st.composite
def meshes(draw: st.DrawFn, max_nodes: int = 12) -> list[MeshMember]:
    count = draw(st.integers(1, max_nodes))
    locations = draw(st.integers(1, 4))
    out = []
    for index in range(count):
        location = f"loc{draw(st.integers(0, locations - 1))}"
        out.append(
            member(
                index,
                location=location,
                network_id=location if draw(st.booleans()) else f"solo-{index}",
                public_address=draw(st.sampled_from([None, f"198.51.100.{index + 1}"])),
                behind_nat=draw(st.booleans()),
                extra_allowed_ips=(f"10.42.{index}.0/24",) if draw(st.booleans()) else (),
            )
        )
    return out


def assert_peer_lists_are_sound(plan: MeshPlan) -> None:
    for node in plan.nodes.values():
        prefixes = [ipaddress.ip_network(p) for peer in node.peers for p in peer.allowed_ips]
        assert all(prefix.prefixlen > 0 for prefix in prefixes), "catch-all AllowedIPs"
        ordered = sorted(prefixes, key=lambda n: (n.version, int(n.network_address)))
        for one, two in itertools.pairwise(ordered):
            assert not one.overlaps(two), f"{node.name}: {one} and {two} on two peers"
        assert node.name not in {peer.name for peer in node.peers}
        assert f"{node.address.split('/')[0]}/32" not in {str(p) for p in prefixes}


def assert_keepalive_rule(plan: MeshPlan, spec: WireGuardMeshSpec) -> None:
    for node in plan.nodes.values():
        for peer in node.peers:
            back = next(p for p in plan.nodes[peer.name].peers if p.name == node.name)
            assert not (peer.persistent_keepalive and back.persistent_keepalive)
            if peer.persistent_keepalive:
                assert peer.endpoint is not None  # keepalive only from the end that can dial
            if spec.persistent_keepalive and (peer.endpoint or back.endpoint):
                assert peer.persistent_keepalive or back.persistent_keepalive


@settings(max_examples=150, deadline=None)
@given(members=meshes())
def test_full_mesh_invariants(members: list[MeshMember]) -> None:
    plan = build_mesh(members, FULL)
    assert_peer_lists_are_sound(plan)
    assert_keepalive_rule(plan, FULL)
    own = {m.name: m.own_allowed_ips for m in members}
    for node in plan.nodes.values():
        assert {peer.name for peer in node.peers} == set(own) - {node.name}
        for peer in node.peers:
            assert peer.allowed_ips == own[peer.name]  # exactly the peer's own prefixes
    unreachable = {frozenset(pair) for pair in plan.unreachable}
    for node in plan.nodes.values():
        for peer in node.peers:
            back = next(p for p in plan.nodes[peer.name].peers if p.name == node.name)
            dead = peer.endpoint is None and back.endpoint is None
            assert dead == (frozenset((node.name, peer.name)) in unreachable)


def assert_everyone_reaches_everyone(
    plan: MeshPlan, members: list[MeshMember], skip: frozenset[str] = frozenset()
) -> None:
    location = {m.name: m.location for m in members}
    alive = [m.name for m in members if m.name not in skip]
    for source in alive:
        for target in alive:
            if source == target:
                continue
            path = trace_route(plan, members, source, target)
            assert path is not None, f"{source} cannot reach {target}"
            assert not skip & set(path), f"{source}->{target} goes through a dead node: {path}"
            crossings = sum(location[a] != location[b] for a, b in itertools.pairwise(path))
            assert crossings <= 1, path
            assert len(path) <= 4, path
            for a, b in itertools.pairwise(path):
                if location[a] != location[b]:
                    assert plan.nodes[a].gateway
                    assert plan.nodes[b].gateway


@settings(max_examples=100, deadline=None)
@given(members=meshes())
def test_location_mesh_reaches_everyone_and_survives_any_single_gateway_loss(
    members: list[MeshMember],
) -> None:
    plan = build_mesh(members, LOCATION)
    assert_peer_lists_are_sound(plan)
    assert_keepalive_rule(plan, LOCATION)
    sizes: dict[str, int] = {}
    for m in members:
        sizes[m.location or ""] = sizes.get(m.location or "", 0) + 1
    for location, gateways in plan.gateways.items():
        assert len(gateways) == min(2, sizes[location])
    for source in plan.nodes.values():  # full mesh inside each location
        same = {m.name for m in members if m.location == source.location} - {source.name}
        assert same <= {peer.name for peer in source.peers}
    assert_everyone_reaches_everyone(plan, members)
    for gateways in plan.gateways.values():
        for dead in gateways:
            failed_over = build_mesh(members, LOCATION, down={dead})
            assert dead not in {g for gws in failed_over.gateways.values() for g in gws}
            assert_peer_lists_are_sound(failed_over)
            assert_everyone_reaches_everyone(failed_over, members, skip=frozenset({dead}))


def test_plans_are_deterministic_whatever_the_input_order() -> None:
    members = [member(i, location=f"l{i % 3}") for i in range(12)]
    assert build_mesh(members, LOCATION) == build_mesh(list(reversed(members)), LOCATION)


def test_endpoint_is_private_on_a_shared_network_and_public_otherwise() -> None:
    a = member(0, network_id="aws:vpc-1")
    b = member(1, network_id="aws:vpc-1")
    c = member(2, network_id="hetzner:net-9")
    plan = build_mesh([a, b, c], FULL)
    peers = {peer.name: peer for peer in plan.nodes["n0"].peers}
    assert peers["n1"].endpoint == "172.16.0.2:51820"
    assert peers["n2"].endpoint == "198.51.0.3:51820"


def test_endpoint_preference_per_pool() -> None:
    spec = WireGuardMeshSpec(endpoint_preference={"edge": "public", "peered": "private"})
    a = member(0)
    edge = member(1, pool="edge")
    peered = member(2, pool="peered", network_id="other-vpc")
    peers = {peer.name: peer for peer in build_mesh([a, edge, peered], spec).nodes["n0"].peers}
    assert peers["n1"].endpoint == "198.51.0.2:51820"  # same network, yet public
    assert peers["n2"].endpoint == "172.16.0.3:51820"  # other network, yet private


def test_nat_node_has_no_endpoint_dials_out_and_keeps_the_pair_alive() -> None:
    public = member(5, network_id="dc")
    natted = member(1, network_id="home", behind_nat=True)
    plan = build_mesh([public, natted], FULL)
    [to_natted] = plan.nodes["n5"].peers
    [to_public] = plan.nodes["n1"].peers
    assert to_natted.endpoint is None  # it will connect to us
    assert to_public.endpoint == "198.51.0.6:51820"
    assert (to_public.persistent_keepalive, to_natted.persistent_keepalive) == (25, 0)


def test_keepalive_on_the_lower_index_only_and_off_when_disabled() -> None:
    plan = build_mesh([member(0), member(1)], FULL)
    assert plan.nodes["n0"].peers[0].persistent_keepalive == 25
    assert plan.nodes["n1"].peers[0].persistent_keepalive == 0
    quiet = build_mesh([member(0), member(1)], WireGuardMeshSpec(persistent_keepalive=0))
    assert all(not p.persistent_keepalive for n in quiet.nodes.values() for p in n.peers)


def test_two_nodes_behind_separate_nats_are_reported_unreachable() -> None:
    a = member(0, network_id="home-a", behind_nat=True)
    b = member(1, network_id="home-b", behind_nat=True)
    assert build_mesh([a, b], FULL).unreachable == (("n0", "n1"),)


def test_ipv6_public_endpoint_is_bracketed() -> None:
    a = member(0, network_id="x")
    b = member(1, network_id="y", public_address="2001:db8::1")
    assert build_mesh([a, b], FULL).nodes["n0"].peers[0].endpoint == "[2001:db8::1]:51820"


def test_gateways_prefer_public_reachable_nodes_then_lowest_index() -> None:
    members = [
        member(0, location="fsn", public_address=None),
        member(1, location="fsn", behind_nat=True),
        member(2, location="fsn"),
        member(3, location="fsn"),
        member(4, location="fsn"),
        member(5, location="nbg"),
    ]
    plan = build_mesh(members, LOCATION)
    assert plan.gateways == {"fsn": ("n2", "n3"), "nbg": ("n5",)}
    assert plan.nodes["n0"].home_gateway == "n2"
    assert plan.nodes["n1"].home_gateway == "n3"
    assert plan.nodes["n4"].home_gateway == "n2"
    # Failover: with n2 dead the next candidate is promoted and takes over its nodes.
    failed = build_mesh(members, LOCATION, down={"n2"})
    assert failed.gateways["fsn"] == ("n3", "n4")
    assert failed.nodes["n0"].home_gateway == "n3"


def test_location_mesh_has_far_fewer_peers_than_full_mesh() -> None:
    members = [member(i, location=f"l{i % 5}", network_id=f"l{i % 5}") for i in range(100)]
    plan = build_mesh(members, LOCATION)
    worst = max(len(node.peers) for node in plan.nodes.values())
    assert worst == 19 + 2 * 4  # own location + other locations' gateways (gateways only)
    assert min(len(node.peers) for node in plan.nodes.values()) == 19


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([member(0), member(1, name="n0")], "same name"),
        ([member(0), member(1, public_key=key(1))], "same key"),
        ([member(0), member(1, mesh_address="10.100.0.1")], "same address"),
        ([member(0, public_key="not-a-key")], "not a WireGuard public key"),
        ([member(0, mesh_address="10.99.0.1")], "not a usable address"),
        ([member(0, mesh_address="10.100.0.0")], "not a usable address"),
        ([member(0, extra_allowed_ips=("0.0.0.0/0",))], "catch-all"),
        ([member(0, extra_allowed_ips=("::/0",))], "catch-all"),
        ([member(0, extra_allowed_ips=("10.100.9.0/24",))], "overlaps the mesh"),
        (
            [
                member(0, extra_allowed_ips=("10.42.0.0/16",)),
                member(1, extra_allowed_ips=("10.42.3.0/24",)),
            ],
            "allowed IPs overlap",
        ),
    ],
)
def test_inconsistent_members_are_refused(members: list[MeshMember], message: str) -> None:
    with pytest.raises(MeshError, match=message) as caught:
        build_mesh(members, FULL)
    assert "0.0.0.0/0" not in str(caught.value.hint or "")


def test_one_thousand_node_full_mesh_is_computed_in_under_two_seconds() -> None:
    members = [member(i, network_id=f"net{i % 4}") for i in range(1000)]
    started = time.perf_counter()
    plan = build_mesh(members, FULL)
    elapsed = time.perf_counter() - started
    assert sum(len(node.peers) for node in plan.nodes.values()) == 1000 * 999
    assert elapsed < 2.0, f"{elapsed:.2f} s"
