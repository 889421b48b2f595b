"""K3s with its CNI as an add-on (calico: ``flannel-backend: none``) on real local hosts run by
the **distribution twin** (no kubelet, no containers; a real etcd, an API served from it).

A real kubelet stays NotReady ("cni plugin not initialized") until a CNI runs, and with
flannel off the CNI comes only from the add-ons phase. So the distro phase must not wait for
Ready: ``up --until distro`` ends with every node registered and honestly NotReady, with the
kubelet's reason; the full ``up`` delivers the calico chart (``bootstrap``: its install job runs
without a pod network) and then waits for, and gets, every node Ready.
"""

from __future__ import annotations

import json
import shlex
import time

import pytest
from sloth_distro_k3s.plugin import installer
from sloth_kubernetes.testing import distro_twin

pytestmark = [pytest.mark.hosts, pytest.mark.slow, pytest.mark.timeout(600)]

READY = '{.status.conditions[?(@.type=="Ready")]'
NODES = (
    '{range .items[*]}{.metadata.name}{"\\t"}'
    + '{"\\t"}'.join(f"{READY}.{field}}}" for field in ("status", "reason", "message"))
    + '{"\\n"}{end}'
)


def _ready(host) -> dict[str, tuple[str, ...]]:
    """{node: (Ready status, reason, message)} read with K3s's kubectl on a server."""
    reply = host.run(f"k3s kubectl get nodes -o jsonpath={shlex.quote(NODES)}", check=False)
    rows = (line.split("\t") for line in reply.stdout.splitlines() if "\t" in line)
    return {row[0]: tuple(row[1:]) for row in rows}


def test_k3s_with_a_cni_addon_registers_in_the_distro_phase_and_is_ready_after_addons(
    local_hosts, with_ssh_provider, sloth_cli, tmp_path
):
    bundle = distro_twin.twin_bundle(installer(), tmp_path / "bundle")
    assert sloth_cli("artifacts", "import", str(bundle)).exit_code == 0
    hosts = local_hosts(2, mode="systemd")
    config = tmp_path / "cni.yaml"
    config.write_text(
        distro_twin.ssh_cluster_config(
            "cni",
            hosts,
            [("servers", 1, "server"), ("agents", 1, "agent")],
            kubernetes={
                "distribution": "k3s",
                "cni": {"type": "calico"},
                # a short timeout: waiting for Ready here would fail, not hang the test
                "k3s": {"readyTimeout": 60},  # readiness through the API (the default)
            },
        )
    )
    state = ("--state", f"sqlite:///{tmp_path / 'state.db'}", "--yes")

    # the distro phase alone: done, every node registered, NotReady with the kubelet's reason
    started = time.monotonic()
    until = sloth_cli(*state, "-o", "json", "up", "-f", str(config), "--until", "distro")
    assert until.exit_code == 0, until.stdout + until.stderr
    until_seconds = time.monotonic() - started
    outcomes = {o["phase"]: o for o in json.loads(until.stdout)["outcomes"]}
    distro = outcomes["distro"]
    assert distro["status"] == "done"
    assert "2 nodes registered, 2 not Ready until the CNI add-on is delivered" in distro["detail"]
    assert outcomes["addons"]["status"] == "not run"
    server = hosts[0]
    ready = _ready(server)
    assert set(ready) == {"cni-servers-1", "cni-agents-1"}
    for status, reason, message in ready.values():
        assert (status, reason) == ("False", "KubeletNotReady")
        assert "cni plugin not initialized" in message
    # K3s runs no flannel: nothing but the add-on may bring the pod network
    assert 'flannel-backend: "none"' in server.run("cat /etc/rancher/k3s/config.yaml").stdout

    # the whole run: the add-ons phase delivers calico, then waits for Ready and gets it
    started = time.monotonic()
    up = sloth_cli(*state, "-o", "json", "up", "-f", str(config))
    assert up.exit_code == 0, up.stdout + up.stderr
    up_seconds = time.monotonic() - started
    outcomes = {o["phase"]: o for o in json.loads(up.stdout)["outcomes"]}
    assert outcomes["addons"]["status"] == "done"
    assert "2 nodes Ready once the CNI ran" in outcomes["addons"]["detail"]
    assert outcomes["verify"]["status"] == "done"
    # the chart's install job runs without a pod network only because it is `bootstrap`
    chart = server.run(
        "cat /var/lib/rancher/k3s/server/manifests/sloth-cni-calico-helmchart-*.yaml"
    ).stdout
    assert "bootstrap: true" in chart
    ready = _ready(server)
    assert {name: row[:2] for name, row in ready.items()} == {
        "cni-servers-1": ("True", "KubeletReady"),
        "cni-agents-1": ("True", "KubeletReady"),
    }

    # converged: a re-run waits for nothing and changes nothing
    started = time.monotonic()
    again = sloth_cli(*state, "-o", "json", "up", "-f", str(config))
    assert again.exit_code == 0, again.stdout + again.stderr
    assert json.loads(again.stdout)["changed"] == {}
    print(
        f"\nk3s + calico twin, 1 server + 1 agent: `up --until distro` {until_seconds:.1f}s, "
        f"`up` (addons + Ready) {up_seconds:.1f}s, converged re-run "
        f"{time.monotonic() - started:.1f}s"
    )
