"""`vpn join|leave|list` with two real operator devices (wireguard-go next to the cluster)."""

from __future__ import annotations

import ipaddress
import json
import stat

import pytest
import wireguard_netns_lab
from sloth_mesh_wireguard import commands

pytestmark = [pytest.mark.hosts, pytest.mark.timeout(180)]


def bring_up_device(host: wireguard_netns_lab.LabHost, config: str, interface: str = "wg0") -> str:
    """What `wg-quick up` does, done by hand: wg-quick-only keys stripped, address, routes."""
    address = next(
        line.split("=")[1].strip() for line in config.splitlines() if line.startswith("Address")
    )
    allowed = [
        line.split("=")[1].strip() for line in config.splitlines() if line.startswith("AllowedIPs")
    ]
    wg_only = "\n".join(
        line for line in config.splitlines() if not line.startswith(("Address", "MTU"))
    )
    host.run(commands.ensure_interface(interface, log_file="/run/wireguard/go.log"))
    host.run(f"wg setconf {interface} /dev/stdin", stdin=wg_only + "\n")
    host.run(f"ip address add {address} dev {interface} && ip link set {interface} up")
    for prefix in allowed:
        host.run(f"ip route replace {prefix} dev {interface}")
    return address


def test_two_operators_join_reach_every_node_and_leave_alone(mesh_cluster, tmp_path):
    mesh_cluster.up(
        [{"name": "s", "provider": "local", "count": 1, "roles": ["server"]},
         {"name": "a", "provider": "local", "count": 2}],
        {"persistentKeepalive": 5},
    )  # fmt: skip
    nodes = mesh_cluster.nodes()
    network = ipaddress.ip_network(mesh_cluster.network.cidr)
    configs = {}
    for peer in ("laptop", "phone"):
        out = tmp_path / f"{peer}.conf"
        args = ("vpn", "join", mesh_cluster.name, "--peer", peer, "--out", str(out))
        result = mesh_cluster.sloth(*args, *(("--qr",) if peer == "phone" else ()))
        assert result.exit_code == 0, result.stderr
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        configs[peer] = out.read_text()
        private = next(x for x in configs[peer].splitlines() if x.startswith("PrivateKey"))
        assert private.split("=", 1)[1].strip() not in result.stdout + result.stderr
        assert "0.0.0.0/0" not in configs[peer]
    assert "█" in result.stdout  # the QR code
    again = mesh_cluster.sloth(
        "vpn", "join", mesh_cluster.name, "--peer", "laptop", "--out", str(tmp_path / "x.conf")
    )
    assert again.exit_code != 0
    assert "already joined" in again.stderr

    listing = json.loads(mesh_cluster.sloth("-o", "json", "vpn", "list", mesh_cluster.name).stdout)
    assert [(p["name"], p["address"]) for p in listing] == [
        ("laptop", "10.101.0.1"),
        ("phone", "10.101.0.2"),
    ]

    with wireguard_netns_lab.Lab(
        mesh_cluster.network.bridge, prefix_length=network.prefixlen
    ) as lab:
        laptop = lab.add_host(str(network[240]))
        phone = lab.add_host(str(network[241]))
        bring_up_device(laptop, configs["laptop"])
        bring_up_device(phone, configs["phone"])
        for device in (laptop, phone):
            for node in nodes.values():
                device.run(f"ping -c1 -w5 {node['mesh_address']}")
        server = next(n for n in nodes if "-s-" in n)
        phone_key = listing[1]["publicKey"]
        before = mesh_cluster.run(server, "wg show wg-sloth latest-handshakes").stdout
        phone_handshake = next(x for x in before.splitlines() if x.startswith(phone_key))

        gone = mesh_cluster.sloth("vpn", "leave", mesh_cluster.name, "--peer", "laptop")
        assert gone.exit_code == 0, gone.stderr
        assert mesh_cluster.run(server, "wg show wg-sloth peers").stdout.count("\n") == 3
        with pytest.raises(AssertionError):
            laptop.run(f"ping -c1 -w2 {nodes[server]['mesh_address']}")
        phone.run(f"ping -c1 -w3 {nodes[server]['mesh_address']}")
        after = mesh_cluster.run(server, "wg show wg-sloth latest-handshakes").stdout
        assert phone_handshake in after  # the other operator's session was not touched
    listing = json.loads(mesh_cluster.sloth("-o", "json", "vpn", "list", mesh_cluster.name).stdout)
    assert [p["name"] for p in listing] == ["phone"]
    # The operators file survives a restart of a node's mesh (it is part of its config).
    mesh_cluster.run(server, "/usr/local/sbin/sloth-wg-wg-sloth restart")
    assert phone_key in mesh_cluster.run(server, "wg show wg-sloth peers").stdout
