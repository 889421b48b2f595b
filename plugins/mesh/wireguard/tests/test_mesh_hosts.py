"""The mesh phase and the mesh commands on real local hosts: `sloth up --until mesh` builds real
wireguard-go tunnels, `mesh check` pings over them, and the chaos tests break them for real."""

from __future__ import annotations

import json
import re
import time

import pytest

pytestmark = [pytest.mark.hosts, pytest.mark.timeout(240)]

KEEPALIVE = 5  # seconds; short so recovery is measurable in a test


def pool(count: int, name: str = "n", **extra: object) -> dict[str, object]:
    return {"name": name, "provider": "local", "count": count, "roles": ["agent"], **extra}


def layout(count: int) -> list[dict[str, object]]:
    """One server and ``count - 1`` agents (the mesh does not care; the config's etcd rules do)."""
    return [pool(1, "s", roles=["server"]), pool(count - 1, "n")]


def test_full_mesh_of_three_verified_stable_and_supervised(mesh_cluster):
    mesh_cluster.up(layout(3), {"persistentKeepalive": KEEPALIVE})
    nodes = mesh_cluster.nodes()
    assert len(nodes) == 3
    addresses = {name: node["mesh_address"] for name, node in nodes.items()}
    assert all(a and a.startswith("10.100.") for a in addresses.values())

    code, check = mesh_cluster.check()
    assert code == 0, check
    assert check["ok"]
    assert all(check["matrix"][a][b] for a in nodes for b in nodes if a != b)

    status = json.loads(
        mesh_cluster.sloth("-o", "json", "mesh", "status", mesh_cluster.name).stdout
    )
    for node in status:
        assert node["running"], node
        assert {p["name"] for p in node["peers"]} == set(nodes) - {node["node"]}
        for peer in node["peers"]:
            assert peer["allowed_ips"] == [f"{addresses[peer['name']]}/32"]  # never a catch-all
            assert peer["latest_handshake"] > 0
    # Keepalive on exactly one end of every pair (wireguard-go pairs stall with both).
    keepalives = {}
    for name in nodes:
        dump = mesh_cluster.run(name, "wg show wg-sloth dump").stdout.splitlines()[1:]
        keepalives[name] = sorted(line.split("\t")[-1] for line in dump)
    ends = sorted(value for values in keepalives.values() for value in values)
    assert ends == ["5", "5", "5", "off", "off", "off"]

    # The private key never left the node: not in the state's records or secrets.
    node = sorted(nodes)[0]
    private = mesh_cluster.run(node, "cat /etc/wireguard/wg-sloth.key").stdout.strip()
    assert private
    assert private not in json.dumps(mesh_cluster.export())
    assert mesh_cluster.run(node, "stat -c %a /etc/wireguard/wg-sloth.key").stdout.strip() == "600"

    # Re-running the phase is a no-op: same addresses, same keys, same sessions.
    # (wireguard-go lists peers in map order: compare sorted lines)
    before = sorted(mesh_cluster.run(node, "wg show wg-sloth latest-handshakes").stdout.split("\n"))
    mesh_cluster.up(layout(3), {"persistentKeepalive": KEEPALIVE}, only="mesh")
    assert {n: v["mesh_address"] for n, v in mesh_cluster.nodes().items()} == addresses
    after = sorted(mesh_cluster.run(node, "wg show wg-sloth latest-handshakes").stdout.split("\n"))
    assert after == before

    # Supervision without systemd: wireguard-go killed hard comes back with its config.
    mesh_cluster.run(node, "kill -9 $(pidof wireguard-go)")
    took = mesh_cluster.wait_until(lambda: mesh_cluster.check()[0] == 0, 20, "mesh back")
    assert took < 20
    supervisor = mesh_cluster.run(node, "cat /run/sloth-wg-wg-sloth.pid").stdout.strip()
    assert supervisor
    assert mesh_cluster.run(node, f"kill -0 {supervisor}", check=False).returncode == 0


def test_five_nodes_grow_without_interruption_then_chaos(mesh_cluster):
    mesh = {"persistentKeepalive": KEEPALIVE}
    mesh_cluster.up(layout(5), mesh)
    nodes = mesh_cluster.nodes()
    names = sorted(nodes)
    a, b = names[0], names[1]
    key_b = mesh_cluster.run(b, "wg show wg-sloth public-key").stdout.strip()
    handshake = _handshake(mesh_cluster, a, key_b)
    assert handshake > 0

    # Add a sixth node while a and b ping each other every 0.2 s: not one packet lost, and
    # their session is the same one (no new handshake).
    pinger = mesh_cluster.start(a, ["ping", "-q", "-i", "0.2", "-w", "6", nodes[b]["mesh_address"]])
    time.sleep(0.5)
    mesh_cluster.up(layout(6), mesh)
    out, err = pinger.communicate(timeout=30)
    assert pinger.returncode == 0, out + err
    assert " 0% packet loss" in out, out
    assert _handshake(mesh_cluster, a, key_b) == handshake
    nodes = mesh_cluster.nodes()
    names = sorted(nodes)
    assert len(names) == 6
    assert mesh_cluster.check()[0] == 0

    # Kill one node's WireGuard: every other pair still works, the check names that node only.
    dead = names[2]
    dead_key = mesh_cluster.run(dead, "wg show wg-sloth public-key").stdout.strip()
    mesh_cluster.run(dead, "/usr/local/sbin/sloth-wg-wg-sloth down")
    code, check = mesh_cluster.check()
    assert code == 1
    assert list(check["down"]) == [dead]
    assert check["brokenLinks"] == []
    alive = [n for n in names if n != dead]
    assert all(check["matrix"][x][y] for x in alive for y in alive if x != y)
    text = mesh_cluster.sloth("mesh", "check", mesh_cluster.name)
    assert text.exit_code == 1
    assert f"node {dead} down" in text.stderr

    # Reboot-equivalent: the node's own supervisor brings it back, same address and key.
    mesh_cluster.run(dead, "/usr/local/sbin/sloth-wg-wg-sloth up")
    assert mesh_cluster.run(dead, "wg show wg-sloth public-key").stdout.strip() == dead_key
    address = mesh_cluster.run(dead, "ip -4 -o address show dev wg-sloth").stdout
    assert f"{nodes[dead]['mesh_address']}/16" in address
    took = mesh_cluster.wait_until(
        lambda: mesh_cluster.check()[0] == 0, KEEPALIVE + 10, "mesh after restart"
    )
    print(f"restart: whole mesh answering after {took:.1f}s")

    # Block one link with nftables (x drops y's WireGuard packets): exactly that link is named.
    x, y = names[0], names[4]
    underlay_y = nodes[y]["private_address"]
    mesh_cluster.run(
        x,
        "nft add table inet chaos && nft add chain inet chaos input "
        "'{ type filter hook input priority -10; }' && "
        f"nft add rule inet chaos input ip saddr {underlay_y} udp dport 51820 drop",
    )
    # The established session keeps x -> y packets flowing until y's replies are missed.
    mesh_cluster.wait_until(
        lambda: mesh_cluster.check()[1]["brokenLinks"] == [[x, y]], 15, "link reported"
    )
    code, check = mesh_cluster.check()
    assert code == 1
    assert check["down"] == {}
    assert check["brokenLinks"] == [[x, y]]

    # Restore: the link answers again within the keepalive interval (+ WireGuard's 5 s rekey
    # timeout for the handshake the blocked packets left pending).
    mesh_cluster.run(x, "nft delete table inet chaos")
    started = time.monotonic()
    mesh_cluster.wait_until(
        lambda: (
            mesh_cluster.run(x, f"ping -c1 -W1 {nodes[y]['mesh_address']}", check=False).returncode
            == 0
        ),
        KEEPALIVE + 5,
        "link restored",
    )
    print(f"restore: link answering after {time.monotonic() - started:.1f}s")
    assert mesh_cluster.check()[0] == 0


def _handshake(mesh_cluster, node: str, key: str) -> int:
    out = mesh_cluster.run(node, "wg show wg-sloth latest-handshakes").stdout
    for line in out.splitlines():
        peer, _, stamp = line.partition("\t")
        if peer == key:
            return int(stamp)
    raise AssertionError(f"{node} has no peer {key}")


FAILOVER_INTERVAL = 2  # seconds between the watchers' probes; short to keep the test short
SCRIPT = "/usr/local/sbin/sloth-wg-wg-sloth"


@pytest.mark.parametrize("mode", ["fast", "systemd"])
def test_location_topology_survives_losing_a_gateway(mesh_cluster, mode):
    """Fast hosts run the watcher under the script's detached supervision; systemd hosts as
    the unit sloth-wg-IFACE-watch.service, logging to the journal."""
    pools = [
        pool(3, "east", location="east", roles=["server"]),
        pool(3, "west", location="west"),
    ]
    mesh = {
        "topology": "location",
        "persistentKeepalive": KEEPALIVE,
        "failoverInterval": FAILOVER_INTERVAL,
    }
    mesh_cluster.up(pools, mesh, mode=mode)
    code, check = mesh_cluster.check()
    assert code == 0, check
    gateways = _gateways(mesh_cluster)
    assert len(gateways["east"]) == 2
    assert len(gateways["west"]) == 2
    nodes = mesh_cluster.nodes()
    east = sorted(n for n in nodes if "-east-" in n)
    west = sorted(n for n in nodes if "-west-" in n)
    (homed,) = [n for n in east if n not in gateways["east"]]
    (west_homed,) = [n for n in west if n not in gateways["west"]]
    home = _home(mesh_cluster, homed)
    (backup,) = [n for n in gateways["east"] if n != home]
    # Who routes through `home`: the node homed on it (outbound) and the west gateways
    # (inbound). Its co-gateway has nothing to move for it (but watches the west gateways).
    watchers = [homed, *gateways["west"]]
    normal = {node: _allowed_ips(mesh_cluster, node) for node in watchers}
    for node in watchers:  # (run fails when the command does)
        mesh_cluster.run(node, WATCHER_RUNS)
        # Top-level watchers only (children of the host's PID 1): during a round the watcher's
        # own subshells (its pings, pipelines) carry the same command line.
        count = mesh_cluster.run(node, "pgrep -P 1 -fc 'sloth-wg-wg-slot[h] watch'", check=False)
        assert count.stdout.strip() == "1", f"{node}: {count.stdout} watchers"
    backup_key = _key(mesh_cluster, backup)

    # Kill the gateway's WireGuard. Nobody runs a repair: the watchers move the routes through
    # it to the other east gateway, and the homed node reaches the west again.
    stop, start = (
        ("systemctl stop sloth-wg-wg-sloth", "systemctl start sloth-wg-wg-sloth")
        if mode == "systemd"
        else (f"{SCRIPT} down", f"{SCRIPT} up")
    )

    def reaches_again() -> bool:
        west_addresses = [nodes[n]["mesh_address"] for n in west]
        return _reaches(mesh_cluster, homed, west_addresses) and _reaches(
            mesh_cluster, west_homed, [nodes[homed]["mesh_address"]]
        )

    mesh_cluster.run(home, stop)
    took = mesh_cluster.wait_until(
        reaches_again, 3 * FAILOVER_INTERVAL + 5, "failover without repair"
    )
    print(f"failover: {homed} reaches the west again {took:.1f}s after {home} died")
    code, check = mesh_cluster.check()
    assert code == 1
    assert list(check["down"]) == [home], check
    assert check["brokenLinks"] == [], check  # every pair not involving the dead gateway
    # The backup now carries the west for the homed node (its own /32 plus 3 west nodes).
    assert len(_allowed_ips(mesh_cluster, homed)[backup_key]) == 4
    log = mesh_cluster.run(homed, WATCH_LOG).stdout
    assert f"gateway {home} does not answer: its routes move to {backup}" in log

    # Back: the routes return by themselves and every pair answers.
    mesh_cluster.run(home, start)
    took = mesh_cluster.wait_until(
        lambda: all(_allowed_ips(mesh_cluster, n) == normal[n] for n in watchers),
        30,
        "routes back on the gateway",
    )
    print(f"recovery: routes back on every watcher {took:.1f}s after {home} restarted")
    mesh_cluster.wait_until(lambda: mesh_cluster.check()[0] == 0, 20, "mesh whole")
    assert f"gateway {home} answers again" in mesh_cluster.run(homed, WATCH_LOG).stdout
    if mode == "systemd":
        # failoverInterval 0 turns the watchers off (the repair below is the same on both
        # kinds of host).
        mesh_cluster.up(pools, {**mesh, "failoverInterval": 0}, only="mesh", mode=mode)
        for node in watchers:
            assert mesh_cluster.run(node, WATCHER_RUNS, check=False).returncode != 0
        return

    # Lose the gateway's machine (off the network), then repair: `mesh check --repair`
    # re-plans without it, promotes the next node (the location keeps two gateways) and
    # rewrites the watchers' tables; every remaining pair answers.
    lost = mesh_cluster.host(home)
    mesh_cluster.run(home, "ip link set eth0 down")
    took = mesh_cluster.wait_until(reaches_again, 3 * FAILOVER_INTERVAL + 5, "failover again")
    print(f"machine lost: {homed} reaches the west again after {took:.1f}s")
    code, check = mesh_cluster.check("--repair")
    assert list(check["down"]) == [home], check
    assert check["brokenLinks"] == [], check
    gateways = _gateways(mesh_cluster)
    assert home not in gateways["east"]
    assert len(gateways["east"]) == 2
    assert lost.alive


WATCHER_RUNS = (
    "systemctl is-active --quiet sloth-wg-wg-sloth-watch.service 2>/dev/null"
    " || kill -0 $(cat /run/sloth-wg-wg-sloth-watch.pid 2>/dev/null) 2>/dev/null"
)
WATCH_LOG = (
    "journalctl -q -o cat -u sloth-wg-wg-sloth-watch.service 2>/dev/null;"
    " cat /var/log/sloth-wg-wg-sloth.log 2>/dev/null; true"
)


def _allowed_ips(mesh_cluster, node: str) -> dict[str, list[str]]:
    out = mesh_cluster.run(node, "wg show wg-sloth allowed-ips").stdout
    return {
        key: sorted(prefixes.split())
        for key, _, prefixes in (line.partition("\t") for line in out.splitlines())
    }


def _key(mesh_cluster, node: str) -> str:
    return mesh_cluster.run(node, "wg show wg-sloth public-key").stdout.strip()


def _reaches(mesh_cluster, node: str, addresses: list[str]) -> bool:
    checks = "; ".join(f"ping -n -q -c 1 -W 1 {a} >/dev/null || exit 1" for a in addresses)
    return mesh_cluster.run(node, checks, check=False).returncode == 0


def _gateways(mesh_cluster) -> dict[str, list[str]]:
    status = mesh_cluster.export()
    found: dict[str, list[str]] = {"east": [], "west": []}
    for node in status["nodes"]:
        data = node["extra"].get("wireguard", {})
        if data.get("gateway"):
            found[data["location"]].append(node["name"])
    return {k: sorted(v) for k, v in found.items()}


def _home(mesh_cluster, node: str) -> str:
    exported = mesh_cluster.export()
    (record,) = [n for n in exported["nodes"] if n["name"] == node]
    home = record["extra"]["wireguard"]["homeGateway"]
    assert re.match(r".+-east-\d+$", home)
    return str(home)
