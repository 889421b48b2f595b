"""The HA drill on real local hosts (systemd) run by the **distribution twins** of K3s and RKE2 —
sloth twins, not a real Kubernetes; their etcd is a real etcd — with ``apiEndpoint`` mode
nodeLocal (the default): a real haproxy on every node.

Three servers and an agent come up through the real CLI; then the first server's machine is
stopped (its PID 1 killed: sshd, wireguard-go, etcd, the twin and haproxy die with it). What a
user relies on is then checked and timed (docs/ha.md has the figures):

* the API still answers — on the other servers, and through the balancer on the agent;
* etcd keeps quorum (2 of 3 voting members; ``/readyz`` needs a linearizable read);
* the next ``up`` adds an agent: it joins through its own node-local balancer, the plan goes
  around the lost server (named, not waited for), no other node's distribution restarts and
  nobody initialises a second cluster; the balancers drop the lost server.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from sloth_distro_k3s.plugin import installer as k3s
from sloth_distro_rke2.plugin import installer as rke2
from sloth_kubernetes.testing import distro_twin

pytestmark = [pytest.mark.hosts, pytest.mark.slow, pytest.mark.timeout(900)]

BALANCER = "/etc/sloth-kubernetes/api-balancer.cfg"
#: per distribution: its installer, the registration port, and kubectl on any node with the
#: admin kubeconfig — the twin's own (``k3s kubectl``; RKE2's ``__kubectl``, what
#: ``<data-dir>/bin/kubectl`` runs) pointed at https://127.0.0.1:6443: on an agent that is
#: the node-local balancer
DISTROS = {
    "k3s": (k3s, 6443, "timeout 10 k3s kubectl --kubeconfig /root/admin.yaml"),
    "rke2": (rke2, 9345, "timeout 10 rke2 __kubectl --kubeconfig /root/admin.yaml"),
}


def member_list(distro: str) -> str:
    """etcd's own v3 API (its JSON gateway), asked on a server with its etcd client cert."""
    tls = f"/var/lib/rancher/{distro}/server/tls/etcd"
    return (
        f"curl -sf --cacert {tls}/server-ca.crt --cert {tls}/client.crt --key {tls}/client.key "
        "-X POST -d '{}' https://127.0.0.1:2379/v3/cluster/member/list"
    )


@pytest.fixture
def with_ssh_provider(sloth_manager, register_plugin):
    """The plugin manager with the ``ssh`` provider (machines you already have) registered."""
    if not sloth_manager.pm.has_plugin("ssh"):
        from sloth_provider_ssh import plugin

        register_plugin(plugin.PLUGIN, "ssh")
    return sloth_manager


def _config(distro: str, hosts, agents: int) -> str:
    return distro_twin.ssh_cluster_config(
        "ha",
        hosts,
        [("servers", 3, "server"), ("agents", agents, "agent")],
        kubernetes={"distribution": distro, distro: {"readyTimeout": 120}},
    )


def _until(check, seconds: float) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"not within {seconds}s")
        time.sleep(0.2)
    return time.monotonic() - started


def _ok(host, command: str) -> bool:
    return host.run(command, check=False, timeout=30).returncode == 0


@pytest.mark.parametrize("distro", sorted(DISTROS))
def test_losing_the_first_server_keeps_the_api_joins_and_quorum(
    local_hosts, with_ssh_provider, sloth_cli, tmp_path, distro
):
    installer, port, node_kubectl = DISTROS[distro]
    bundle = distro_twin.twin_bundle(installer(), tmp_path / "bundle")
    assert sloth_cli("artifacts", "import", str(bundle)).exit_code == 0
    hosts = local_hosts(5, mode="systemd")
    first, second, third, agent, spare = hosts
    config = tmp_path / "ha.yaml"
    config.write_text(_config(distro, hosts[:4], agents=1))
    state = ("--state", f"sqlite:///{tmp_path / 'state.db'}", "--yes")

    up = sloth_cli(*state, "up", "-f", str(config), "--no-progress")
    assert up.exit_code == 0, up.stdout + up.stderr

    # every node runs the balancer; the agent registered through it (127.0.0.1, the
    # distribution's port; servers 10000 above it)
    for host in hosts[:4]:
        assert host.run("systemctl is-active sloth-api-balancer").stdout.strip() == "active"
    assert distro_twin.starts(agent)[0]["server"] == f"https://127.0.0.1:{port}"
    assert distro_twin.starts(second)[0]["server"] == f"https://127.0.0.1:{port + 10000}"
    kubeconfig = second.run(f"cat {installer().kubeconfig_path}").stdout
    agent.run(f"umask 077 && cat > /root/admin.yaml <<'EOF'\n{kubeconfig}EOF")
    assert _ok(
        agent, f"{node_kubectl} get nodes -o name"
    )  # kubectl on an agent, through its balancer
    starts_before = {h.name: len(distro_twin.starts(h)) for h in (second, third, agent)}

    # the first server's machine stops
    os.kill(first.host.init_pid, signal.SIGKILL)
    stopped = time.monotonic()
    assert first.run("true", check=False).returncode == 255  # nothing answers there

    # the API answers through the agent's balancer, and on the other servers; etcd has quorum
    via_balancer = _until(lambda: _ok(agent, f"{node_kubectl} get --raw=/readyz"), 60)
    readyz = installer().readyz_command()
    assert second.run(readyz).stdout.strip() == "ok"
    assert third.run(readyz).stdout.strip() == "ok"
    members = json.loads(second.run(member_list(distro)).stdout)["members"]
    assert len(members) == 3  # still 3 voting members, 2 of them up: quorum
    assert not any(m.get("isLearner") for m in members)
    # the balancer has taken the lost server out (2 failed checks, 2 s apart)
    _until(lambda: "DOWN" in agent.run("journalctl -u sloth-api-balancer --no-pager").stdout, 30)
    marked_down = time.monotonic() - stopped

    # the next `up` adds an agent while the first server is still gone
    config.write_text(_config(distro, hosts, agents=2))
    started = time.monotonic()
    again = sloth_cli(*state, "up", "-f", str(config), "--no-progress")
    up_seconds = time.monotonic() - started
    output = again.stdout + again.stderr
    assert again.exit_code == 1, output  # the lost server is named as what failed
    assert "ha-servers-1" in output
    assert "cannot reach" in output
    new = spare
    assert _ok(new, f"test -s {distro_twin.RECORDS}/invocations.log"), output
    (joined,) = distro_twin.starts(new)
    assert joined["server"] == f"https://127.0.0.1:{port}"  # through its own balancer
    assert "node/ha-agents-2" in second.run(installer().nodes_command()).stdout
    # nobody initialised again, nobody else restarted
    assert {h.name: len(distro_twin.starts(h)) for h in (second, third, agent)} == starts_before
    assert all(s["cluster_init"] != "true" for h in (second, third, agent, new)
               for s in distro_twin.starts(h))  # fmt: skip
    # every balancer, the new agent's too, spreads over all three servers: the lost one stays
    # (health checks keep it out; it is taken back by itself when its machine returns) — and
    # so the other nodes' files, the API certificate's names included, did not change
    for host in (second, third, agent, new):
        text = host.run(f"cat {BALANCER}").stdout
        assert all(f"server ha-servers-{i} " in text for i in (1, 2, 3)), text
    assert len(json.loads(second.run(member_list(distro)).stdout)["members"]) == 3

    print(
        f"\nHA drill ({distro} twin, 3 servers): API through an agent's balancer answered "
        f"{via_balancer:.1f}s after the first server stopped; the balancer's DOWN seen in its "
        f"journal after {marked_down:.1f}s; `up` adding an agent with the first server gone: "
        f"exit {again.exit_code} in {up_seconds:.1f}s"
    )
