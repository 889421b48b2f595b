"""``up`` with ``distribution: kubeadm`` and calico on real local hosts (systemd) run by the
**distribution twin** of kubeadm (not a real Kubernetes: no containers run; a real etcd).

kubeadm starts no pod network and has no helm-controller: the distro phase ends with the
nodes registered and NotReady; the add-ons phase installs the standalone helm-controller
first, then calico's HelmChart (``bootstrap``), and only then are the nodes Ready. ``destroy``
on these kept machines (``ssh`` provider) runs ``kubeadm reset``: the static pods (and etcd)
stop, kubeadm's files go, the machines keep running.
"""

from __future__ import annotations

import json

import pytest
from sloth_distro_kubeadm.plugin import installer
from sloth_kubernetes.testing import distro_twin

pytestmark = [pytest.mark.hosts, pytest.mark.slow, pytest.mark.timeout(900)]

KUBECTL = "/usr/local/bin/kubectl --kubeconfig /etc/kubernetes/admin.conf"


@pytest.fixture
def with_ssh_provider(sloth_manager, register_plugin):
    if not sloth_manager.pm.has_plugin("ssh"):
        from sloth_provider_ssh import plugin

        register_plugin(plugin.PLUGIN, "ssh")
    return sloth_manager


def test_kubeadm_up_installs_helm_controller_first_then_the_cni_and_nodes_turn_ready(
    local_hosts, with_ssh_provider, sloth_cli, tmp_path
):
    bundle = distro_twin.twin_bundle(installer(), tmp_path / "bundle")
    assert sloth_cli("artifacts", "import", str(bundle)).exit_code == 0
    hosts = local_hosts(2, mode="systemd")
    config = tmp_path / "kubeadm.yaml"
    config.write_text(
        distro_twin.ssh_cluster_config(
            "kadm",
            hosts,
            [("servers", 1, "server"), ("agents", 1, "agent")],
            kubernetes={
                "distribution": "kubeadm",
                "cni": {"type": "calico"},
                "kubeadm": {"readyTimeout": 240},
            },
        )
    )
    state = ("--state", f"sqlite:///{tmp_path / 'state.db'}", "--yes")

    up = sloth_cli(*state, "-o", "json", "up", "-f", str(config))
    assert up.exit_code == 0, up.stdout + up.stderr
    result = json.loads(up.stdout)
    outcomes = {o["phase"]: o for o in result["outcomes"]}
    assert outcomes["distro"]["status"] == "done"
    assert outcomes["addons"]["status"] == "done"
    assert "2 nodes Ready once the CNI ran" in outcomes["addons"]["detail"]
    assert outcomes["verify"]["status"] == "done"
    # the helm-controller before the CNI: nothing else could install calico's HelmChart
    assert result["changed"]["addons"][:2] == ["addon/helm-controller", "cni/calico"]

    server = hosts[0]
    deployments = json.loads(server.run(f"{KUBECTL} get --raw=/apis/apps/v1/deployments").stdout)
    controller = next(d for d in deployments["items"] if d["metadata"]["name"] == "helm-controller")
    assert controller["spec"]["template"]["spec"]["hostNetwork"] is True
    charts = json.loads(
        server.run(f"{KUBECTL} get --raw=/apis/helm.cattle.io/v1/helmcharts").stdout
    )["items"]
    assert [c["metadata"]["name"] for c in charts] == ["tigera-operator"]
    assert charts[0]["spec"]["bootstrap"] is True
    nodes = json.loads(server.run(f"{KUBECTL} get --raw=/api/v1/nodes").stdout)["items"]
    ready = {
        n["metadata"]["name"]: next(c for c in n["status"]["conditions"] if c["type"] == "Ready")
        for n in nodes
    }
    assert {name: c["status"] for name, c in ready.items()} == {
        "kadm-servers-1": "True",
        "kadm-agents-1": "True",
    }

    # the admin kubeconfig, fetched like K3s/RKE2's: 0600, pointing at the first server's API
    out = tmp_path / "kadm.kubeconfig"
    fetched = sloth_cli(*state, "kubeconfig", "kadm", "-o", str(out))
    assert fetched.exit_code == 0, fetched.stdout + fetched.stderr
    assert out.stat().st_mode & 0o777 == 0o600
    assert f"server: https://{server.address}:6443" in out.read_text()

    # converged: a re-run changes nothing
    again = sloth_cli(*state, "-o", "json", "up", "-f", str(config))
    assert again.exit_code == 0, again.stdout + again.stderr
    assert json.loads(again.stdout)["changed"] == {}

    gone = sloth_cli(*state, "destroy", "kadm")
    assert gone.exit_code == 0, gone.stdout + gone.stderr
    for host in hosts:
        assert host.run("hostname").stdout.strip() == host.name  # the machine still runs
        assert " RESET" in distro_twin.invocations(host)  # kubeadm reset ran
        leftovers = host.run(
            "for p in /etc/kubernetes /var/lib/etcd /usr/local/bin/kubeadm "
            "/etc/systemd/system/kubelet.service; do [ ! -e $p ] || echo $p; done"
        ).stdout.split()
        assert leftovers == [], f"{host.name}: {leftovers}"
        assert host.run("systemctl is-active kubelet", check=False).stdout.strip() != "active"
        assert "sloth-twin-pod" not in host.run("systemctl list-units --no-legend").stdout
        assert ":2379" not in host.run("ss -ltn").stdout  # etcd stopped with its pod
        assert ":6443" not in host.run("ss -ltn").stdout
