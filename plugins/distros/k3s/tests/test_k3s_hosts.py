"""The K3s distro phase on real local hosts (systemd) with the distribution twin of k3s.

The twin (the test kit's ``distro_twin``, strict about argv and the keys of this plugin's
flags.yaml) reaches the hosts the way a real release does: bundled with its checksum file and
imported with `artifacts import` into the operator's cache; the distro phase uploads it.
"""

from __future__ import annotations

import hashlib

import pytest
from sloth_distro_k3s.plugin import installer
from sloth_kubernetes.testing import distro_twin
from sloth_kubernetes.testing.distro_twin import DistroOnHosts, Join

pytestmark = [pytest.mark.hosts, pytest.mark.slow]

CONFIG = """\
apiVersion: sloth-kubernetes.io/v1beta1
kind: Cluster
metadata: {name: demo}
spec:
  providers: {local: {}}
  nodePools:
    - {name: servers, provider: local, count: 3, roles: [server]}
    - {name: agents, provider: local, count: 2, roles: [agent]}
  kubernetes:
    distribution: k3s
    serverConfig: {kube-apiserver-arg: ["v=2"]}
    k3s: {agentBatchSize: 1, readiness: ssh, readyTimeout: 60}
"""
POOLS = [("servers", 3, "server"), ("agents", 2, "agent")]


def test_servers_join_one_at_a_time_agents_in_batches_token_never_exposed(
    local_hosts, sloth_manager, sloth_cli, tmp_path
):
    k3s = installer()
    run = DistroOnHosts.on_new_hosts(local_hosts, sloth_manager, k3s, CONFIG, POOLS, tmp_path)
    handles, records = run.handles, run.records
    with run:
        updated = run.install()
        first_run = run.seconds
        token = run.token()
        assert run.store.get_node("demo", "demo-servers-1").extra["distro"]["init"] is True

        # order: the first server initialised (cluster-init), the others joined one at a time
        # on the API port (each saw the previous one registered), then agents one per batch
        assert distro_twin.joins(handles[0]) == [
            Join("demo-servers-2", "server", 1, 6443), Join("demo-servers-3", "server", 2, 6443),
            Join("demo-agents-1", "agent", 3, 6443), Join("demo-agents-2", "agent", 4, 6443),
        ]  # fmt: skip
        assert len(distro_twin.join_log(handles[0])) == 4  # nothing concurrent or refused
        first_start = distro_twin.starts(handles[0])[0]
        assert first_start["cluster_init"] == "true"
        assert first_start["server"] == ""
        assert {u.name: u.extra["distro"]["role"] for u in updated}["demo-agents-2"] == "agent"

        # token: same hash everywhere, in 0600 files only, never in argv, logs or events
        token_sha = hashlib.sha256(token.encode()).hexdigest()[:12]
        for handle, record in zip(handles, records, strict=True):
            (start,) = distro_twin.starts(handle)
            assert start["name"] == record.name
            assert start["token_sha"] == token_sha
            assert start["config_mode"] == "600"
            processes = handle.run("ps -eo args").stdout
            assert "k3s server" in processes or "k3s agent" in processes
        assert distro_twin.token_exposures(token, handles, k3s.config_path, run.events) == []
        assert handles[0].run(f"stat -c %a {k3s.kubeconfig_path}").stdout.strip() == "600"

        # a converged cluster: nothing restarts
        before = run.start_counts()
        run.install(updated)
        assert run.start_counts() == before

    # the admin kubeconfig, written 0600, points at the first server (no apiEndpoint set)
    written = run.kubeconfig(sloth_cli, tmp_path / "demo.kubeconfig")
    assert written.exit_code == 0, written.output
    assert written.mode == 0o600
    assert f"server: https://{handles[0].address}:6443" in written.text
    assert token not in written.output
    print(f"\nk3s twin install, 3 servers + 2 agents: {first_run:.1f}s")
