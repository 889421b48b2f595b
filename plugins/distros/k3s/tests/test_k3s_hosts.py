"""The K3s distro phase on real local hosts (systemd) with a FAKE k3s binary (tests/fake/).

The fake reaches the hosts the way a real release does: bundled with its checksum file and
imported with `artifacts import` into the operator's cache; the distro phase uploads it.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest
from sloth_distro_k3s.installer import DEFAULT_VERSION
from sloth_distro_k3s.plugin import installer
from sloth_kubernetes import api, api_distro
from sloth_kubernetes.context import ClusterContext
from sloth_kubernetes.distro import credentials
from sloth_kubernetes.model import NodeRecord
from sloth_kubernetes.paths import data_dir
from sloth_kubernetes.remote import RemoteSession
from sloth_kubernetes.state import open_store

pytestmark = [pytest.mark.hosts, pytest.mark.slow]

FAKE = Path(__file__).parent / "fake" / "fake-k3s.sh"
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


def _bundle(tmp_path: Path) -> Path:
    """A release bundle holding the fake binary, as `artifacts fetch --out` writes one."""
    flags = installer().flags
    script = (
        FAKE.read_text()
        .replace("@SERVER_KEYS@", " ".join(flags.server))
        .replace("@AGENT_KEYS@", " ".join(flags.agent))
        .replace("@VERSION@", DEFAULT_VERSION)
    )
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "k3s").write_text(script)
    digest = hashlib.sha256(script.encode()).hexdigest()
    (bundle / "sha256sum-amd64.txt").write_text(f"{digest}  k3s\n")
    manifest = {"distro": "k3s", "version": DEFAULT_VERSION, "arch": "amd64", "files": ["k3s"]}
    (bundle / "sloth-bundle.json").write_text(json.dumps(manifest))
    return bundle


def _records(handles):
    names = ["demo-servers-1", "demo-servers-2", "demo-servers-3", "demo-agents-1", "demo-agents-2"]
    return [
        NodeRecord(
            cluster="demo",
            name=name,
            pool=name.split("-")[1],
            provider="local",
            roles=("server",) if "servers" in name else ("agent",),
            public_address=h.address,
            mesh_address=h.address,
            host_key=h.host.host_public_key,
            ssh_port=h.port,
        )
        for name, h in zip(names, handles, strict=True)
    ]


def _joins(first) -> list[list[str]]:
    text = first.run("cat /var/lib/sloth-fake/joins.log").stdout
    return [line.split()[1:] for line in text.splitlines()]


def test_servers_join_one_at_a_time_agents_in_batches_token_never_exposed(
    local_hosts, sloth_manager, tmp_path
):
    api_distro.artifacts_import(_bundle(tmp_path), manager=sloth_manager)
    handles = local_hosts(5, mode="systemd")
    records = _records(handles)
    config_file = tmp_path / "cluster.yaml"
    config_file.write_text(CONFIG)
    config = api.load([config_file], manager=sloth_manager)
    events: list[dict] = []
    with (
        open_store(f"sqlite:///{tmp_path / 'state.db'}") as store,
        RemoteSession(
            records, private_key_path=handles[0].private_key, work_dir=tmp_path / "remote"
        ) as session,
    ):
        assert not session.connect()
        context = ClusterContext(
            config=config, state=store, data_dir=data_dir(), remote=session, emit=events.append
        )
        started = time.monotonic()
        updated = sloth_manager.hooks.install_distro(context, "k3s", records)
        first_run = time.monotonic() - started
        token = store.get_secret("demo", credentials.TOKEN_SECRET).reveal()
        assert store.get_secret("demo", credentials.KUBECONFIG_SECRET) is not None
        assert store.get_node("demo", "demo-servers-1").extra["distro"]["init"] is True

        # order: servers one at a time (each saw the previous one registered), then agents
        joins = _joins(handles[0])
        assert [j[:2] for j in joins] == [
            ["JOIN", "demo-servers-2"], ["JOIN", "demo-servers-3"],
            ["JOIN", "demo-agents-1"], ["JOIN", "demo-agents-2"],
        ]  # fmt: skip
        assert [j[3] for j in joins] == [
            "members_before=1", "members_before=2", "members_before=3", "members_before=4",
        ]  # fmt: skip
        assert {u.name: u.extra["distro"]["role"] for u in updated}["demo-agents-2"] == "agent"

        # token: same hash everywhere, in 0600 files only, never in argv, logs or events
        token_sha = hashlib.sha256(token.encode()).hexdigest()[:12]
        for handle, record in zip(handles, records, strict=True):
            log = handle.run("cat /var/lib/sloth-fake/invocations.log").stdout
            assert f"name={record.name} token_sha={token_sha}" in log
            assert "config_mode=600" in log
            assert token not in log
            assert handle.run("stat -c %a /etc/rancher/k3s/config.yaml").stdout.strip() == "600"
            processes = handle.run("ps -eo args").stdout
            assert token not in processes
            assert "k3s server" in processes or "k3s agent" in processes
        assert (
            "cluster_init=true" in handles[0].run("cat /var/lib/sloth-fake/invocations.log").stdout
        )
        assert handles[0].run("stat -c %a /etc/rancher/k3s/k3s.yaml").stdout.strip() == "600"
        assert token not in json.dumps(events, default=str)

        # a converged cluster: nothing restarts
        before = [h.run("wc -l < /var/lib/sloth-fake/invocations.log").stdout for h in handles]
        sloth_manager.hooks.install_distro(context, "k3s", updated)
        after = [h.run("wc -l < /var/lib/sloth-fake/invocations.log").stdout for h in handles]
        assert before == after
    print(f"\nk3s fake install, 3 servers + 2 agents: {first_run:.1f}s")
