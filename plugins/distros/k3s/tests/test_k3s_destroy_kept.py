"""`destroy` on machines you already have (the ``ssh`` provider) takes K3s off them and keeps them.

The whole path through the real CLI on real local hosts (systemd): `artifacts import` of the
test kit's distribution twin of k3s (``distro_twin``), `up` through the distro phase (prepare, a
real wireguard-go mesh, the twin k3s joined over it), a stopped agent repaired by a plain `up`
(the distro's live check), then `destroy`: the machines keep running, and K3s's units, files and
processes are gone.
"""

from __future__ import annotations

import json

import pytest
from sloth_distro_k3s.plugin import installer
from sloth_kubernetes.testing import distro_twin

BALANCER = "/etc/sloth-kubernetes/api-balancer.cfg"

pytestmark = [pytest.mark.hosts, pytest.mark.slow, pytest.mark.timeout(300)]

K3S_LEFTOVERS = [
    "/usr/local/bin/k3s", "/usr/local/bin/kubectl", "/etc/rancher/k3s", "/var/lib/rancher/k3s",
    "/etc/systemd/system/k3s.service", "/etc/systemd/system/k3s-agent.service",
    "/etc/systemd/system/k3s.service.d", "/etc/systemd/system/k3s-agent.service.d",
    "/var/lib/sloth-kubernetes/artifacts/k3s",
]  # fmt: skip


def _config(hosts) -> str:
    return distro_twin.ssh_cluster_config(
        "bare",
        hosts,
        [("servers", 1, "server"), ("agents", 2, "agent")],
        kubernetes={"distribution": "k3s", "k3s": {"readiness": "ssh", "readyTimeout": 60}},
    )


def test_destroy_uninstalls_k3s_from_kept_machines(
    local_hosts, with_ssh_provider, sloth_cli, tmp_path
):
    bundle = distro_twin.twin_bundle(installer(), tmp_path / "bundle")
    imported = sloth_cli("artifacts", "import", str(bundle))
    assert imported.exit_code == 0, imported.stderr
    hosts = local_hosts(3, mode="systemd")
    config = tmp_path / "bare.yaml"
    config.write_text(_config(hosts))
    state = ("--state", f"sqlite:///{tmp_path / 'state.db'}", "--yes")

    up = sloth_cli(*state, "up", "-f", str(config), "--until", "distro", "--no-progress")
    assert up.exit_code == 0, up.stdout + up.stderr
    status = json.loads(sloth_cli(*state, "-o", "json", "status", "bare").stdout)
    assert {n["name"]: n["phases"].get("distro") for n in status["nodes"]} == {
        "bare-servers-1": "done", "bare-agents-1": "done", "bare-agents-2": "done",
    }  # fmt: skip
    units = {hosts[0]: "k3s", hosts[1]: "k3s-agent", hosts[2]: "k3s-agent"}
    for host, unit in units.items():
        assert host.run(f"systemctl is-active {unit}").stdout.strip() == "active"
    # both agents (one batch) registered with the first server over the mesh
    mesh = {n["name"]: n["meshAddress"] for n in status["nodes"]}
    assert mesh["bare-servers-1"] != hosts[0].address
    assert sorted(j.node for j in distro_twin.joins(hosts[0])) == ["bare-agents-1", "bare-agents-2"]
    for agent in hosts[1:]:  # through the node-local balancer (apiEndpoint mode nodeLocal)
        (start,) = distro_twin.starts(agent)
        assert start["server"] == "https://127.0.0.1:6443"
        assert f"{mesh['bare-servers-1']}:6443 check" in agent.run(f"cat {BALANCER}").stdout

    # A plain `up` repairs the distribution from live state: a stopped agent service is found
    # by the distro's live check (the journal still says done) and started again.
    hosts[2].run("systemctl stop k3s-agent")
    again = sloth_cli(*state, "up", "-f", str(config), "--until", "distro", "--no-progress")
    assert again.exit_code == 0, again.stdout + again.stderr
    assert "repaired: distro: bare-agents-2: k3s-agent is inactive" in again.stdout
    assert hosts[2].run("systemctl is-active k3s-agent").stdout.strip() == "active"
    quiet = sloth_cli(*state, "up", "-f", str(config), "--until", "distro", "--no-progress")
    assert "distro     skipped — nothing to do (checked live on 3 nodes)" in quiet.stdout

    gone = sloth_cli(*state, "destroy", "bare")
    assert gone.exit_code == 0, gone.stdout + gone.stderr
    for host, unit in units.items():
        assert host.run("hostname").stdout.strip() == host.name  # the machine still runs
        leftovers = host.run(
            f"for p in {' '.join(K3S_LEFTOVERS)}; do [ ! -e $p ] || echo $p; done"
        ).stdout.split()
        assert leftovers == [], f"{host.name}: {leftovers}"
        assert host.run(f"systemctl is-active {unit}", check=False).stdout.strip() != "active"
        assert "k3s" not in host.run("systemctl list-unit-files --no-legend").stdout
        assert host.run("pgrep -f 'k3s (server|agent)'", check=False).returncode == 1
        assert ":6443" not in host.run("ss -ltn").stdout  # the "API server" went with it
        # and the node-local balancer (its unit and config; the haproxy package stays)
        assert "sloth-api-balancer" not in host.run("systemctl list-unit-files --no-legend").stdout
        assert host.run(f"test -e {BALANCER}", check=False).returncode == 1
    states = sloth_cli(*state, "-o", "json", "status", "bare")
    assert states.exit_code != 0  # the cluster is forgotten
