"""A real WireGuard mesh (wireguard-go in network namespaces) built only from this plugin's
rendered configs and commands: tunnel up, then a third node added without disturbing the pair."""

from __future__ import annotations

import os
import shutil
import time

import pytest
import wireguard_netns_lab
from sloth_mesh_wireguard import commands
from sloth_mesh_wireguard.model import WireGuardMeshSpec
from sloth_mesh_wireguard.render import DeviceDump, diff_peers, parse_dump, render_setconf
from sloth_mesh_wireguard.topology import MeshMember, MeshPlan, build_mesh

pytestmark = [
    pytest.mark.hosts,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
    pytest.mark.skipif(
        not all(
            shutil.which(tool) for tool in ("wg", "wireguard-go", "ping", "nsenter", "unshare")
        ),
        reason="needs wireguard-tools, wireguard-go, iputils-ping, util-linux",
    ),
]

SPEC = WireGuardMeshSpec(interface="wg-sloth", persistent_keepalive=25)


def bring_up(host: wireguard_netns_lab.LabHost, index: int) -> MeshMember:
    """Key + interface on one host, with the plugin's own commands; returns its mesh member."""
    public_key = host.run(commands.ensure_key(SPEC.interface)).strip()
    implementation = host.run(
        commands.ensure_interface(SPEC.interface, log_file="/run/wireguard/wg-go.log")
    ).splitlines()[-1]
    assert implementation in (commands.KERNEL, commands.USERSPACE)
    key_file = commands.key_path(SPEC.interface)
    assert host.run(f"stat -c %a {key_file}").strip() == "600"
    return MeshMember(
        name=host.name,
        mesh_address=f"10.100.0.{index}",
        public_key=public_key,
        index=index,
        private_address=host.underlay_address,
        network_id="lab",
        location="lab",
    )


def apply_full(host: wireguard_netns_lab.LabHost, plan: MeshPlan) -> None:
    node = plan.nodes[host.name]
    host.run(commands.install_config(SPEC.interface), stdin=render_setconf(node))
    host.run(commands.configure_address(SPEC.interface, node.address, node.mtu))
    host.run(commands.apply_config(SPEC.interface))


def dump(host: wireguard_netns_lab.LabHost) -> DeviceDump:
    return parse_dump(host.run(commands.show_dump(SPEC.interface)))


def wait_for_ping(host: wireguard_netns_lab.LabHost, address: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            host.run(f"ping -c 1 -W 1 {address}")
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise


def test_mesh_comes_up_and_grows_without_interrupting_existing_pairs() -> None:
    with wireguard_netns_lab.Lab() as lab:
        first, second = lab.add_host(), lab.add_host()
        members = [bring_up(first, 1), bring_up(second, 2)]
        plan = build_mesh(members, SPEC)
        for host in (first, second):
            apply_full(host, plan)

        wait_for_ping(first, "10.100.0.2")
        second.run("ping -c 2 -W 2 10.100.0.1")
        one, two = dump(first), dump(second)
        private_key = first.run(f"cat {commands.key_path(SPEC.interface)}").strip()
        assert private_key not in first.run(commands.show_dump(SPEC.interface))
        assert one.public_key == members[0].public_key  # key loaded from the node's own file
        assert one.peers[0].latest_handshake > 0
        assert two.peers[0].latest_handshake > 0
        # Keepalive on exactly one end of the pair (the lower index).
        assert (one.peers[0].persistent_keepalive, two.peers[0].persistent_keepalive) == (25, 0)
        assert diff_peers(one, plan.nodes["h1"]) == []  # converged: nothing to do
        handshake_before = one.peers[0].latest_handshake

        # A third node joins: the existing nodes only gain a peer entry (no restart).
        third = lab.add_host()
        members.append(bring_up(third, 3))
        grown = build_mesh(members, SPEC)
        background = first.start(["ping", "-q", "-i", "0.2", "-w", "6", "10.100.0.2"])
        changes = {
            host.name: diff_peers(dump(host), grown.nodes[host.name]) for host in (first, second)
        }
        for host in (first, second):
            assert [argv[:5] for argv in changes[host.name]] == [
                ["wg", "set", "wg-sloth", "peer", members[2].public_key]
            ]
            host.run(commands.set_peers(changes[host.name]))
        apply_full(third, grown)
        wait_for_ping(third, "10.100.0.1")
        third.run("ping -c 2 -W 2 10.100.0.2")
        out, err = background.communicate(timeout=20)
        assert background.returncode == 0, out + err
        assert " 0% packet loss" in out, out  # the existing pair never dropped a packet
        after = dump(first)
        pair = after.peer(members[1].public_key)
        assert pair is not None
        assert pair.latest_handshake == handshake_before  # same session, no new handshake
        for host in (first, second, third):
            assert diff_peers(dump(host), grown.nodes[host.name]) == []

        # The third node leaves: the others drop exactly that peer.
        shrunk = build_mesh(members[:2], SPEC)
        removal = diff_peers(dump(first), shrunk.nodes["h1"])
        assert removal == [["wg", "set", "wg-sloth", "peer", members[2].public_key, "remove"]]
        first.run(commands.set_peers(removal))
        assert [peer.public_key for peer in dump(first).peers] == [members[1].public_key]
        first.run("ping -c 1 -W 2 10.100.0.2")

        # Removing the interface stops wireguard-go too (its control socket goes away).
        third.run(commands.remove_interface(SPEC.interface))
        deadline = time.monotonic() + 5
        while third.run("ls /run/wireguard").split().count("wg-sloth.sock"):
            assert time.monotonic() < deadline, (
                "wireguard-go kept running after the link was deleted"
            )
            time.sleep(0.1)
        assert "wg-sloth" not in third.run("ip -o link show")
