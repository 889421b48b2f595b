"""The prepare phase on real local hosts (fast mode): baseline, hardening, firewall with real
traffic, idempotence, and kernel-global settings reported as the machine's."""

from __future__ import annotations

import shlex
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from sloth_kubernetes.model import ClusterConfig, NodeRecord
from sloth_kubernetes.model.cluster import ClusterSpec, Metadata, SecuritySpec
from sloth_kubernetes.remote import RemoteSession
from sloth_kubernetes.remote.prepare import MACHINE, PrepareResult, prepare_nodes

pytestmark = pytest.mark.hosts

MESH_NET = "10.99.0"


def _config(
    allowed: list[str], hardening: str = "baseline", api: list[str] | None = None
) -> ClusterConfig:
    security = SecuritySpec(hardening=hardening, ssh_allowed_cidrs=allowed)  # type: ignore[arg-type]
    if api is not None:
        security = SecuritySpec(
            hardening=hardening,  # type: ignore[arg-type]
            ssh_allowed_cidrs=allowed,
            api_allowed_cidrs=api,
        )
    return ClusterConfig(
        api_version="sloth-kubernetes.io/v1beta1",
        kind="Cluster",
        metadata=Metadata("demo"),
        spec=ClusterSpec(providers={}, node_pools=[], security=security),
    )


def _records(handles: list[Any], servers: int = 0) -> list[NodeRecord]:
    """The first ``servers`` handles are servers, the others agents."""
    return [
        NodeRecord(
            cluster="demo",
            name=h.name,
            public_address=h.address,
            host_key=h.host.host_public_key,
            ssh_port=h.port,
            roles=("server",) if index < servers else ("agent",),
        )
        for index, h in enumerate(handles)
    ]


def _prepare(
    handles: list[Any],
    config: ClusterConfig,
    tmp_path: Path,
    *,
    require_cgroups: bool = False,
    servers: int = 0,
) -> PrepareResult:
    nodes = _records(handles, servers)
    key = handles[0].private_key
    with RemoteSession(nodes, private_key_path=key, work_dir=tmp_path / "remote") as session:
        return prepare_nodes(session, config, nodes, require_cgroups=require_cgroups)


def _tcp(source: Any, address: str, port: int) -> str:
    """Connect from ``source`` to address:port: "open", "refused" or "dropped" (timed out)."""
    probe = f"exec 3<>/dev/tcp/{address}/{port}"
    done = source.run(f"timeout 1 bash -c {shlex.quote(probe)}", check=False)
    return {0: "open", 124: "dropped"}.get(done.returncode, "refused")


def _tcp_from_here(address: str, port: int) -> str:
    """Connect from this machine (the operator, on the test network's gateway address)."""
    try:
        with socket.create_connection((address, port), timeout=1):
            return "open"
    except TimeoutError:
        return "dropped"
    except OSError:
        return "refused"


def _background(host: Any, command: str) -> None:
    host.run(f"nohup setsid {command} >/dev/null 2>&1 </dev/null &")


def _wireguard(a: Any, b: Any) -> None:
    """A real WireGuard tunnel (wireguard-go) named wg-sloth between a (.1) and b (.2)."""
    keys = {}
    for host in (a, b):
        _background(host, "env WG_PROCESS_FOREGROUND=1 wireguard-go -f wg-sloth")
        host.run(
            "umask 077; wg genkey > /root/wg.key; "
            "for i in $(seq 50); do "
            "[ -S /var/run/wireguard/wg-sloth.sock ] && break; sleep 0.1; done"
        )
        keys[host.name] = host.run("wg pubkey < /root/wg.key").stdout.strip()
    for index, (host, peer) in enumerate(((a, b), (b, a)), start=1):
        keepalive = " persistent-keepalive 1" if index == 1 else ""
        host.run(
            f"wg set wg-sloth private-key /root/wg.key listen-port 51820 peer {keys[peer.name]} "
            f"endpoint {peer.address}:51820 allowed-ips {MESH_NET}.0/24{keepalive} && "
            f"ip address add {MESH_NET}.{index}/24 dev wg-sloth && ip link set wg-sloth up"
        )


def test_prepare_applies_baseline_and_firewall_then_is_idempotent(
    local_hosts: Any, tmp_path: Path
) -> None:
    three_hosts = local_hosts(3)
    a, b, c = three_hosts
    operator = local_hosts.network.gateway
    config = _config([f"{operator}/32", f"{c.address}/32"], hardening="cis")
    _wireguard(a, b)
    for port in (10250, 8080):
        _background(a, f"socat TCP-LISTEN:{port},fork,reuseaddr EXEC:/bin/true")
    time.sleep(0.3)
    # Before: everything reachable (so a later "dropped" is the firewall's doing).
    assert _tcp(b, a.address, 22) == "open"
    assert _tcp(b, a.address, 10250) == "open"
    assert _tcp(b, f"{MESH_NET}.1", 10250) == "open"

    first = _prepare(three_hosts, config, tmp_path)
    assert first.ok, first.summary()
    for node in first.nodes.values():
        assert {"kernel parameters", "sshd hardening", "firewall"} <= set(node.changed)
        # kernel-global settings are the machine's on a fast-mode host: reported, not faked
        assert f"kernel module br_netfilter: {MACHINE} (loaded)" in node.machine
        assert f"time sync: {MACHINE} (the clock is the machine's)" in node.machine
        assert any(item.startswith(f"sysctl kernel.panic: {MACHINE}") for item in node.machine)

    # Real traffic through the firewall.
    assert _tcp(c, a.address, 22) == "open"  # SSH from an allowed CIDR
    assert _tcp(b, a.address, 22) == "dropped"  # SSH from outside the allowed CIDRs
    assert _tcp(b, f"{MESH_NET}.1", 10250) == "open"  # kubelet port on the mesh interface
    assert _tcp(b, a.address, 10250) == "dropped"  # ...but not on the public interface
    assert _tcp(b, f"{MESH_NET}.1", 8080) == "dropped"  # not a Kubernetes port: dropped anywhere
    # The node's own settings changed for real.
    assert a.run("sysctl -n net.ipv4.ip_forward").stdout.strip() == "1"
    assert "passwordauthentication no" in a.run("sshd -T").stdout
    assert a.run("stat -c %a /etc/ssh/sshd_config").stdout.strip() == "600"

    second = _prepare(three_hosts, config, tmp_path)
    assert second.ok, second.summary()
    assert not second.changed
    assert second.summary().endswith("no changes")
    assert second.nodes["h1"].machine == first.nodes["h1"].machine

    # Drift: someone opens the table up; the next run notices and restores it.
    a.run("nft insert rule inet sloth input accept")
    assert _tcp(b, a.address, 22) == "open"
    third = _prepare(three_hosts, config, tmp_path)
    assert third.nodes["h1"].changed == ("firewall",)
    assert third.nodes["h2"].changed == ()
    assert _tcp(b, a.address, 22) == "dropped"


def test_disabling_firewall_and_hardening_removes_them(local_hosts: Any, tmp_path: Path) -> None:
    (host,) = local_hosts(1)
    operator = local_hosts.network.gateway
    assert _prepare([host], _config([f"{operator}/32"]), tmp_path).ok
    assert "table inet sloth" in host.run("nft list tables").stdout
    config = _config([f"{operator}/32"], hardening="none")
    config = ClusterConfig(
        api_version=config.api_version,
        kind=config.kind,
        metadata=config.metadata,
        spec=ClusterSpec(
            providers={}, node_pools=[], security=SecuritySpec(hardening="none", firewall=False)
        ),
    )
    result = _prepare([host], config, tmp_path)
    # the persisted kernel parameters lose the hardening keys (live values stay until reboot)
    assert set(result.nodes["h1"].changed) == {"kernel parameters", "sshd hardening", "firewall"}
    assert "sloth" not in host.run("nft list tables").stdout
    assert host.run("ls /etc/ssh/sshd_config.d").stdout.strip() == ""


def test_refusals_name_the_node_and_touch_nothing(local_hosts: Any, tmp_path: Path) -> None:
    (host,) = local_hosts(1)
    operator = local_hosts.network.gateway
    result = _prepare([host], _config([f"{operator}/32"]), tmp_path, require_cgroups=True)
    assert "node h1: no cgroups: the kubelet cannot run on this node" in str(result.failed["h1"])
    # A firewall that would shut the operator out is refused too.
    locked = _prepare([host], _config(["192.0.2.0/24"]), tmp_path)
    assert "would lock the operator out" in str(locked.failed["h1"])
    assert "sloth" not in host.run("nft list tables").stdout
    with pytest.raises(Exception, match="no cgroups"):
        result.raise_for_failures()


def test_the_api_port_is_public_on_servers_to_the_allowed_cidrs_only(
    local_hosts: Any, tmp_path: Path
) -> None:
    from sloth_kubernetes.distro.readiness import check_reachable
    from sloth_kubernetes.errors import RemoteError

    server, agent, outsider = local_hosts(3)
    operator = local_hosts.network.gateway
    for host in (server, agent):
        _background(host, "socat TCP-LISTEN:6443,fork,reuseaddr EXEC:/bin/true")
    time.sleep(0.3)
    assert _tcp(outsider, agent.address, 6443) == "open"  # before: nothing filters

    config = _config([f"{operator}/32"], api=[f"{operator}/32"])
    first = _prepare([server, agent], config, tmp_path, servers=1)
    assert first.ok, first.summary()
    assert _tcp_from_here(server.address, 6443) == "open"  # the operator reaches the API
    assert _tcp(outsider, server.address, 6443) == "dropped"  # a CIDR outside the list
    assert _tcp_from_here(agent.address, 6443) == "dropped"  # never on an agent
    assert not first.nodes[server.name].warnings  # the operator is inside the list: all well
    url = f"https://{agent.address}:6443"
    with pytest.raises(RemoteError, match="not reachable from this machine") as caught:
        check_reachable(url, cause="port 6443 is open to 192.0.2.0/24", hint="h", seconds=1)
    assert "timed out: something drops the packets): port 6443 is open to" in str(caught.value)

    # The list changes: the rule follows (idempotent otherwise), and the operator, now outside
    # it, is told before the distro phase.
    moved = _config([f"{operator}/32"], api=[f"{outsider.address}/32"])
    second = _prepare([server, agent], moved, tmp_path, servers=1)
    assert second.nodes[server.name].changed == ("firewall",)
    assert second.nodes[agent.name].changed == ()
    assert _tcp(outsider, server.address, 6443) == "open"
    assert _tcp_from_here(server.address, 6443) == "dropped"
    (warning,) = second.nodes[server.name].warnings
    expected = f"this machine connects from {operator}, outside spec.security.apiAllowedCIDRs"
    assert expected in warning
    assert not second.nodes[agent.name].warnings
    assert not _prepare([server, agent], moved, tmp_path, servers=1).changed

    # `apiAllowedCIDRs: []`: the API stays on the mesh, the public rule is gone.
    mesh_only = _prepare([server, agent], _config([f"{operator}/32"], api=[]), tmp_path, servers=1)
    assert mesh_only.nodes[server.name].changed == ("firewall",)
    assert _tcp(outsider, server.address, 6443) == "dropped"
