"""Rendering configs, reading `wg show dump`, and the incremental peer diff."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sloth_mesh_wireguard.model import WireGuardMeshSpec
from sloth_mesh_wireguard.render import (
    DeviceDump,
    DumpPeer,
    desired_dump,
    diff_peers,
    format_dump,
    nudge_peer,
    parse_dump,
    render_setconf,
    stale_peers,
)
from sloth_mesh_wireguard.topology import MeshMember, build_mesh

KEYS = [base64.b64encode(bytes([n]) * 32).decode() for n in range(1, 6)]
PRIVATE = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="


def members(count: int) -> list[MeshMember]:
    return [
        MeshMember(
            name=f"n{i}",
            mesh_address=f"10.100.0.{i + 1}",
            public_key=KEYS[i],
            index=i,
            public_address=f"198.51.100.{i + 1}",
            network_id=f"net{i}",
            extra_allowed_ips=(f"10.42.{i}.0/24",),
        )
        for i in range(count)
    ]


def test_rendered_config_holds_peers_and_never_a_private_key() -> None:
    node = build_mesh(members(3), WireGuardMeshSpec()).nodes["n0"]
    text = render_setconf(node)
    assert "PrivateKey" not in text
    assert text.startswith("# sloth-kubernetes WireGuard mesh: n0 (10.100.0.1/16)\n[Interface]\n")
    assert "ListenPort = 51820\n" in text
    assert (
        f"[Peer]\n# n1\nPublicKey = {KEYS[1]}\nAllowedIPs = 10.100.0.2/32, 10.42.1.0/24\n"
        "Endpoint = 198.51.100.2:51820\nPersistentKeepalive = 25\n"
    ) in text
    assert text.count("[Peer]") == 2


SAMPLE = (
    f"{PRIVATE}\t{KEYS[0]}\t51820\toff\n"
    f"{KEYS[1]}\t(none)\t198.51.100.2:51820\t10.100.0.2/32,10.42.1.0/24\t1700000000\t1234\t5678\t25\n"
    f"{KEYS[2]}\t(none)\t(none)\t(none)\t0\t0\t0\toff\n"
)


def test_parse_dump_reads_peers_and_drops_the_private_key() -> None:
    device = parse_dump(SAMPLE)
    assert device.public_key == KEYS[0]
    assert device.listen_port == 51820
    assert device.fwmark == 0
    first, second = device.peers
    assert first.allowed_ips == ("10.100.0.2/32", "10.42.1.0/24")
    assert (first.latest_handshake, first.transfer_rx, first.transfer_tx) == (
        1700000000,
        1234,
        5678,
    )
    assert first.persistent_keepalive == 25
    assert second.endpoint is None
    assert second.allowed_ips == ()
    assert second.persistent_keepalive == 0
    assert PRIVATE not in repr(device)
    assert PRIVATE not in format_dump(device)
    assert format_dump(device) == SAMPLE.replace(PRIVATE, "(hidden)")
    assert parse_dump(format_dump(device)) == device


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty"), ("a\tb\n", "interface line"), (SAMPLE + "x\ty\n", "line 4 has 2 fields")],
)
def test_parse_dump_refuses_other_shapes(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_dump(text)


prefixes = st.lists(
    st.builds(lambda a, b: f"10.{a}.{b}.0/24", st.integers(0, 255), st.integers(0, 255)),
    max_size=3,
    unique=True,
)
dump_peers = st.builds(
    DumpPeer,
    public_key=st.sampled_from(KEYS),
    has_preshared_key=st.booleans(),
    endpoint=st.one_of(st.none(), st.just("[2001:db8::1]:51820"), st.just("192.0.2.1:1")),
    allowed_ips=prefixes.map(tuple),
    latest_handshake=st.integers(0, 2**40),
    transfer_rx=st.integers(0, 2**50),
    transfer_tx=st.integers(0, 2**50),
    persistent_keepalive=st.integers(0, 65535),
)


@given(
    public_key=st.one_of(st.none(), st.sampled_from(KEYS)),
    port=st.integers(1, 65535),
    fwmark=st.integers(0, 2**32 - 1),
    peers=st.lists(dump_peers, max_size=5).map(tuple),
)
def test_dump_round_trips(
    public_key: str | None, port: int, fwmark: int, peers: tuple[DumpPeer, ...]
) -> None:
    device = DeviceDump(public_key, port, fwmark, peers)
    assert parse_dump(format_dump(device)) == device


@given(count=st.integers(1, 5), keepalive=st.sampled_from([0, 25]))
def test_diff_is_empty_when_the_node_already_matches(count: int, keepalive: int) -> None:
    plan = build_mesh(members(count), WireGuardMeshSpec(persistent_keepalive=keepalive))
    for node in plan.nodes.values():
        assert diff_peers(desired_dump(node), node) == []
        assert diff_peers(parse_dump(format_dump(desired_dump(node))), node) == []


def test_diff_touches_only_what_changed() -> None:
    spec = WireGuardMeshSpec()
    before = build_mesh(members(3), spec).nodes["n1"]
    live = desired_dump(before)
    grown = build_mesh(members(4), spec).nodes["n1"]
    assert diff_peers(live, grown) == [
        [
            "wg",
            "set",
            "wg-sloth",
            "peer",
            KEYS[3],
            "allowed-ips",
            "10.100.0.4/32,10.42.3.0/24",
            "endpoint",
            "198.51.100.4:51820",
            "persistent-keepalive",
            "25",
        ]
    ]  # n1 has the lower index of the new pair, so it keeps the pair alive
    shrunk = build_mesh(members(2), spec).nodes["n1"]
    assert diff_peers(live, shrunk) == [["wg", "set", "wg-sloth", "peer", KEYS[2], "remove"]]


def test_diff_updates_allowed_ips_endpoint_and_keepalive_in_place() -> None:
    node = build_mesh(members(2), WireGuardMeshSpec()).nodes["n0"]
    stale = DumpPeer(
        KEYS[1],
        False,
        "203.0.113.9:51820",
        ("10.42.1.0/24", "10.100.0.2/32", "10.9.0.0/16"),
        1,
        0,
        0,
        0,
    )
    live = DeviceDump(KEYS[0], 51821, 0, (stale,))
    assert diff_peers(live, node) == [
        ["wg", "set", "wg-sloth", "listen-port", "51820"],
        [
            "wg",
            "set",
            "wg-sloth",
            "peer",
            KEYS[1],
            "allowed-ips",
            "10.100.0.2/32,10.42.1.0/24",
            "endpoint",
            "198.51.100.2:51820",
            "persistent-keepalive",
            "25",
        ],
    ]
    # Same prefixes in another order are not a change; a roamed endpoint is left alone when we
    # have no endpoint of our own for the peer.
    reordered = DumpPeer(
        KEYS[1], False, "198.51.100.2:51820", ("10.42.1.0/24", "10.100.0.2/32"), 1, 0, 0, 25
    )
    assert diff_peers(DeviceDump(KEYS[0], 51820, 0, (reordered,)), node) == []


def test_stale_peers_and_nudge() -> None:
    fresh = DumpPeer(KEYS[1], False, None, (), 1000, 0, 0, 0)
    old = DumpPeer(KEYS[2], False, None, (), 700, 0, 0, 0)
    never = DumpPeer(KEYS[3], False, None, (), 0, 0, 0, 0)
    assert stale_peers(DeviceDump(None, 1, 0, (fresh, old, never)), now=1010) == [old, never]
    node = build_mesh(members(2), WireGuardMeshSpec()).nodes["n0"]
    remove, add = nudge_peer("wg-sloth", node.peers[0])
    assert remove == ["wg", "set", "wg-sloth", "peer", KEYS[1], "remove"]
    assert add[:5] == ["wg", "set", "wg-sloth", "peer", KEYS[1]]
    assert "persistent-keepalive" in add
