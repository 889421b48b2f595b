"""Gateway failover by the nodes themselves: the tables the planner writes, the watcher's moves
(the real awk program, run here), and that after them every live node still reaches every other."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sloth_mesh_wireguard.failover import (
    FailoverTable,
    apply_failover,
    desired_allowed_ips,
    failover_tables,
    render_failover,
)
from sloth_mesh_wireguard.model import WireGuardMeshSpec
from sloth_mesh_wireguard.node_script import DECIDE_AWK, render_env, render_script
from sloth_mesh_wireguard.topology import MeshMember, MeshPlan, build_mesh
from test_wireguard_topology import (
    assert_everyone_reaches_everyone,
    assert_peer_lists_are_sound,
    member,
    meshes,
)

LOCATION = WireGuardMeshSpec(topology="location")


def two_locations() -> tuple[list[MeshMember], MeshPlan]:
    """east: n0, n1 gateways, n2 homed on n0; west: n3, n4 gateways, n5 homed on n3."""
    members = [member(i, location="east" if i < 3 else "west") for i in range(6)]
    return members, build_mesh(members, LOCATION)


def test_who_fails_over_what() -> None:
    members, plan = two_locations()
    assert plan.gateways == {"east": ("n0", "n1"), "west": ("n3", "n4")}
    assert plan.nodes["n2"].home_gateway == "n0"
    tables = failover_tables(plan, members)
    west = ("10.100.0.4/32", "10.100.0.5/32", "10.100.0.6/32")
    # The homed node: its home gateway carries the other location; n1 takes it over.
    [rule] = tables["n2"].rules
    assert (rule.gateway, rule.relayed, rule.backups) == ("n0", west, ("n1",))
    assert {p.name: p.allowed_ips for p in tables["n2"].peers} == {
        "n0": ("10.100.0.1/32", *west),
        "n1": ("10.100.0.2/32",),
    }
    # A remote gateway: n0's entry carries n2 (homed on it); n1 takes n2 over. Symmetric for
    # west's n3, which carries n5.
    rules = {r.gateway: (r.relayed, r.backups) for r in tables["n4"].rules}
    assert rules == {"n0": (("10.100.0.3/32",), ("n1",))}
    rules = {r.gateway: (r.relayed, r.backups) for r in tables["n1"].rules}
    assert rules == {"n3": (("10.100.0.6/32",), ("n4",))}
    # n0's co-gateway already reaches everything n0 relays: it never needs to move anything
    # for n0 (only for the remote gateway n3).
    assert "n0" not in {r.gateway for r in tables["n1"].rules}
    # The full topology has no gateways, so no tables.
    full = build_mesh(members, WireGuardMeshSpec())
    assert all(t.empty for t in failover_tables(full, members).values())


def test_watchers_move_the_routes_of_a_dead_gateway_and_give_them_back() -> None:
    members, plan = two_locations()
    tables = failover_tables(plan, members)
    failed = apply_failover(plan, tables, {"n0"})
    allowed = {p.name: p.allowed_ips for p in failed.nodes["n2"].peers}
    assert allowed["n0"] == ("10.100.0.1/32",)  # still probed on its own address
    assert set(allowed["n1"]) == {
        "10.100.0.2/32",
        "10.100.0.4/32",
        "10.100.0.5/32",
        "10.100.0.6/32",
    }
    at_n3 = {p.name: p.allowed_ips for p in failed.nodes["n3"].peers}
    assert "10.100.0.3/32" in at_n3["n1"]
    assert "10.100.0.3/32" not in at_n3["n0"]
    assert failed.nodes["n1"] == plan.nodes["n1"]  # the backup itself changes nothing
    assert_everyone_reaches_everyone(failed, members, skip=frozenset({"n0"}))
    # Without the watchers, n2 is cut off from the west.
    with pytest.raises(AssertionError, match="n2->n3 goes through a dead node"):
        assert_everyone_reaches_everyone(plan, members, skip=frozenset({"n0"}))
    # Recovered: exactly the plan again.
    assert apply_failover(plan, tables, set()) == plan


def test_nothing_moves_when_no_gateway_of_the_location_answers() -> None:
    members, plan = two_locations()
    tables = failover_tables(plan, members)
    assert desired_allowed_ips(tables["n2"], alive=[]) == {
        p.name: p.allowed_ips for p in tables["n2"].peers
    }


@st.composite
def failures(draw: st.DrawFn) -> tuple[list[MeshMember], WireGuardMeshSpec, frozenset[str]]:
    members = draw(meshes())
    spec = WireGuardMeshSpec(
        topology="location", gateways_per_location=draw(st.sampled_from([2, 3]))
    )
    plan = build_mesh(members, spec)
    dead: set[str] = set()
    for gateways in plan.gateways.values():
        # Any gateways of a location may die, as long as one of them lives.
        if len(gateways) > 1:
            count = draw(st.integers(0, len(gateways) - 1))
            dead.update(draw(st.permutations(gateways))[:count])
    return members, spec, frozenset(dead)


@settings(max_examples=150, deadline=None)
@given(case=failures())
def test_after_the_watchers_react_every_live_node_reaches_every_other(
    case: tuple[list[MeshMember], WireGuardMeshSpec, frozenset[str]],
) -> None:
    members, spec, dead = case
    plan = build_mesh(members, spec)
    tables = failover_tables(plan, members)
    failed = apply_failover(plan, tables, dead)
    assert_peer_lists_are_sound(failed)  # a moved prefix is on exactly one peer
    assert_everyone_reaches_everyone(failed, members, skip=dead)
    assert apply_failover(plan, tables, ()) == plan


# -- the node's own decision (awk), against the Python model --------------------------------


def run_decide(table_text: str, alive: list[str], live: dict[str, list[str]]) -> list[list[str]]:
    lines = [table_text, *(f"alive {name}" for name in alive)]
    lines += [f"live {key}\t{' '.join(prefixes) or '(none)'}" for key, prefixes in live.items()]
    done = subprocess.run(
        ["awk", DECIDE_AWK],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    return [line.split(" ") for line in done.stdout.splitlines()]


def apply_sets(live: dict[str, list[str]], sets: list[list[str]], keep: set[str]) -> None:
    """What `wg set IFACE peer K allowed-ips P ...` does, peer by peer: a prefix given to a peer
    is taken from whichever peer had it. Fails if a prefix of ``keep`` that was routed is left
    unrouted between two steps (the gaining peer must come first)."""
    for _verb, key, prefixes, _name, count in sets:
        assert int(count) == len(prefixes.split(","))
        wanted = prefixes.split(",")
        routed_before = {p for values in live.values() for p in values}
        for other, values in live.items():
            live[other] = [p for p in values if p not in wanted]
        live[key] = wanted
        routed_after = {p for values in live.values() for p in values}
        assert not (routed_before - routed_after) & keep, "a prefix was unrouted while moving"


@st.composite
def multi_location_meshes(draw: st.DrawFn) -> tuple[list[MeshMember], WireGuardMeshSpec]:
    """2-3 locations of 3-6 nodes: every mesh has gateways with nodes homed on them."""
    # More nodes than gateways in every location: with 3 nodes and 3 gateways no node is homed
    # on a gateway, every failover table is empty and there is nothing to decide.
    gateways = draw(st.sampled_from([2, 3]))
    members = []
    for location in range(draw(st.integers(2, 3))):
        for _ in range(draw(st.integers(gateways + 1, 6))):
            index = len(members)
            extra = (f"10.42.{index}.0/24",) if draw(st.booleans()) else ()
            members.append(member(index, location=f"loc{location}", extra_allowed_ips=extra))
    spec = WireGuardMeshSpec(topology="location", gateways_per_location=gateways)
    return members, spec


@pytest.mark.skipif(shutil.which("awk") is None, reason="needs awk")
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=multi_location_meshes(), data=st.data())
def test_node_watcher_decides_like_the_model(
    case: tuple[list[MeshMember], WireGuardMeshSpec], data: st.DataObject
) -> None:
    members, spec = case
    plan = build_mesh(members, spec)
    tables = [t for t in failover_tables(plan, members).values() if not t.empty]
    table: FailoverTable = data.draw(st.sampled_from(tables))
    names = [peer.name for peer in table.peers]
    keys = {peer.name: peer.public_key for peer in table.peers}
    alive = data.draw(st.lists(st.sampled_from(names), unique=True))
    # The live state: what the watcher left after some earlier round (any answering set).
    earlier = data.draw(st.lists(st.sampled_from(names), unique=True))
    live = {keys[n]: list(p) for n, p in desired_allowed_ips(table, earlier).items()}
    text = render_failover(table, "wg-sloth")
    decided = run_decide(text, alive, live)
    want = desired_allowed_ips(table, alive)
    downs = [line[1:] for line in decided if line[0] == "down"]
    sets = [line for line in decided if line[0] == "set"]
    assert len(downs) + len(sets) == len(decided)
    assert {gateway for gateway, _ in downs} == {
        rule.gateway for rule in table.rules if rule.gateway not in alive
    }
    apply_sets(live, sets, keep={p for prefixes in want.values() for p in prefixes})
    assert {k: sorted(v) for k, v in live.items()} == {keys[n]: sorted(p) for n, p in want.items()}
    # Idempotent: the next round with the same answers changes nothing.
    assert [line for line in run_decide(text, alive, live) if line[0] == "set"] == []


def test_watcher_never_adds_a_peer_that_is_not_configured() -> None:
    members, plan = two_locations()
    table = failover_tables(plan, members)["n2"]
    n1 = next(p for p in table.peers if p.name == "n1")
    n0 = next(p for p in table.peers if p.name == "n0")
    # n1 was removed from the interface (a later run): the watcher leaves it alone.
    decided = run_decide(
        render_failover(table, "wg-sloth"), ["n1"], {n0.public_key: list(n0.allowed_ips)}
    )
    assert [line for line in decided if line[0] == "set"] == []
    assert n1.public_key not in " ".join(" ".join(line) for line in decided)


def test_rendered_table_and_settings() -> None:
    members, plan = two_locations()
    text = render_failover(failover_tables(plan, members)["n4"], "wg-sloth")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines == [
        f"peer n0 {members[0].public_key} 10.100.0.1 10.100.0.1/32,10.100.0.3/32",
        f"peer n1 {members[1].public_key} 10.100.0.2 10.100.0.2/32",
        "rule n0 10.100.0.3/32 n1",
    ]
    env = render_env(
        address="10.100.0.5/16",
        mtu=1420,
        forward=True,
        implementation="userspace",
        client_cidr="10.101.0.0/24",
        supervisor="systemd",
        failover_interval=5,
    )
    assert "SUPERVISOR=systemd\n" in env
    assert "FAILOVER_INTERVAL=5\n" in env
    script = render_script("wg-sloth")
    assert "'" not in DECIDE_AWK  # it sits in single quotes in the script
    assert DECIDE_AWK in script
    checked = subprocess.run(
        ["sh", "-n"], input=script, text=True, capture_output=True, check=False
    )
    assert checked.returncode == 0, checked.stderr


def test_failover_interval_is_validated() -> None:
    assert WireGuardMeshSpec().failover_interval == 5
    assert WireGuardMeshSpec.from_mapping({"failoverInterval": 0}).failover_interval == 0
    with pytest.raises(ValueError, match="failoverInterval must be between 0 and 3600"):
        WireGuardMeshSpec.from_mapping({"failoverInterval": -1})


def test_tables_of_a_thousand_node_location_mesh_are_quick_and_the_watcher_too() -> None:
    members = [
        member(
            i,
            location=f"l{i % 5}",
            network_id=f"l{i % 5}",
            extra_allowed_ips=(f"10.{40 + i // 250}.{i % 250}.0/24",),
        )
        for i in range(1000)
    ]
    plan = build_mesh(members, LOCATION)
    started = time.perf_counter()
    tables = failover_tables(plan, members)
    assert time.perf_counter() - started < 1.0
    # A homed node's table: its home gateway carries the 4 other locations (800 nodes, two
    # prefixes each). One round of the node's decision with that gateway dead stays cheap.
    table = tables["n10"]
    [rule] = table.rules
    assert len(rule.relayed) == 1600
    live = {peer.public_key: list(peer.allowed_ips) for peer in table.peers}
    started = time.perf_counter()
    decided = run_decide(render_failover(table, "wg-sloth"), list(rule.backups), live)
    assert time.perf_counter() - started < 1.0
    assert [line[0] for line in decided] == ["down", "set", "set"]
