"""The RKE2 distro phase on real local hosts (systemd) with the distribution twin of rke2.

The twin (the test kit's ``distro_twin``, strict about argv and the keys of this plugin's
flags.yaml) is packed as RKE2 ships: ``bin/rke2`` inside ``rke2.linux-amd64.tar.gz``, with the
release's checksum file; `artifacts import` puts the bundle in the operator's cache and the
distro phase uploads and extracts it under /usr/local. Like RKE2, the fake registers joining
nodes only on the supervisor port 9345 (the API port refuses registrations), has no
``cluster-init`` (the first server is the one without ``server:``) and no ``kubectl``
subcommand (kubectl is ``<data-dir>/bin/kubectl``).
"""

from __future__ import annotations

import hashlib

import pytest
from sloth_distro_rke2.plugin import installer
from sloth_kubernetes.testing import distro_twin
from sloth_kubernetes.testing.distro_twin import DistroOnHosts, Join

pytestmark = [pytest.mark.hosts, pytest.mark.slow]

ENDPOINT = "api.demo.test"
CONFIG = f"""\
apiVersion: sloth-kubernetes.io/v1beta1
kind: Cluster
metadata: {{name: demo}}
spec:
  providers: {{local: {{}}}}
  nodePools:
    - {{name: servers, provider: local, count: 3, roles: [server]}}
    - {{name: agents, provider: local, count: 2, roles: [agent]}}
  kubernetes:
    distribution: rke2
    apiEndpoint: {ENDPOINT}
    serverConfig: {{kube-apiserver-arg: ["v=2"], etcd-expose-metrics: true}}
    agentConfig: {{kubelet-arg: ["max-pods=120"]}}
    rke2: {{agentBatchSize: 1, readiness: ssh, readyTimeout: 60}}
"""
POOLS = [("servers", 3, "server"), ("agents", 2, "agent")]


def test_rke2_joins_on_the_supervisor_port_one_server_at_a_time_token_never_exposed(
    local_hosts, sloth_manager, sloth_cli, tmp_path
):
    rke2 = installer()
    run = DistroOnHosts.on_new_hosts(local_hosts, sloth_manager, rke2, CONFIG, POOLS, tmp_path)
    handles, records = run.handles, run.records
    first = handles[0]
    with run:
        updated = run.install()
        first_run = run.seconds
        token = run.token()
        assert run.store.get_node("demo", "demo-servers-1").extra["distro"]["init"] is True

        # the first server initialised without `server:`; every other node registered with it
        # on the supervisor port 9345 — through its node-local balancer (apiEndpoint mode
        # nodeLocal, the default: haproxy on 127.0.0.1, the first healthy server in join
        # order): servers one at a time (each saw the previous one registered), then agents
        # one per batch (agentBatchSize: 1)
        starts = [distro_twin.starts(h) for h in handles]
        assert starts[0][0]["server"] == ""
        assert [s[0]["server"] for s in starts[1:]] == [
            "https://127.0.0.1:19345", "https://127.0.0.1:19345",
            "https://127.0.0.1:9345", "https://127.0.0.1:9345",
        ]  # fmt: skip
        assert distro_twin.joins(first) == [
            Join("demo-servers-2", "server", 1, 9345), Join("demo-servers-3", "server", 2, 9345),
            Join("demo-agents-1", "agent", 3, 9345), Join("demo-agents-2", "agent", 4, 9345),
        ]  # fmt: skip
        assert len(distro_twin.join_log(first)) == 4  # nothing concurrent, refused, wrong port
        roles = {u.name: u.extra["distro"]["role"] for u in updated}
        assert roles == {r.name: r.roles[0] for r in records}

        # installed from the tarball under /usr/local; units enabled and running per role
        for handle, record in zip(handles, records, strict=True):
            unit = "rke2-server" if record.is_server else "rke2-agent"
            assert handle.run(f"systemctl is-active {unit}").stdout.strip() == "active"
            assert handle.run("/usr/local/bin/rke2 --version").stdout.startswith(
                f"rke2 version {rke2.default_version()}"
            )
            assert f"rke2 {record.roles[0]}" in handle.run("ps -eo args").stdout
        config = first.run(f"cat {rke2.config_path}").stdout
        assert f'"{ENDPOINT}"' in config  # a TLS SAN, so the endpoint's certificate is valid
        assert "kubelet-arg" in handles[4].run(f"cat {rke2.config_path}").stdout

        # token: same hash everywhere, in 0600 files only, never in argv, logs or events
        token_sha = hashlib.sha256(token.encode()).hexdigest()[:12]
        assert [s[0]["token_sha"] for s in starts] == [token_sha] * 5
        assert [s[0]["config_mode"] for s in starts] == ["600"] * 5
        assert distro_twin.token_exposures(token, handles, rke2.config_path, run.events) == []
        for server in handles[:3]:
            assert server.run(f"stat -c %a {rke2.token_path()}").stdout.strip() == "600"
            assert server.run(f"stat -c %a {rke2.kubeconfig_path}").stdout.strip() == "600"

        # a converged cluster: nothing restarts
        before = run.start_counts()
        assert before == [1] * 5
        run.install(updated)
        assert run.start_counts() == before

    # the admin kubeconfig, written 0600, points at the API endpoint (port 6443, not 9345)
    written = run.kubeconfig(sloth_cli, tmp_path / "demo.kubeconfig")
    assert written.exit_code == 0, written.output
    assert written.mode == 0o600
    assert f"server: https://{ENDPOINT}:6443" in written.text
    assert token not in written.output
    print(f"\nrke2 twin install, 3 servers + 2 agents: {first_run:.1f}s")
