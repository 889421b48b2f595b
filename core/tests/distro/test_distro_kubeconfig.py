"""Admin kubeconfig: renamed after the cluster, pointed at the endpoint, merged without loss."""

from __future__ import annotations

import stat

import pytest
from sloth_kubernetes.distro import credentials, kubeconfig
from sloth_kubernetes.state import ClusterRecord, open_store

K3S_WRITTEN = """\
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Q0E=
    server: https://127.0.0.1:6443
  name: default
contexts:
- context: {cluster: default, user: default}
  name: default
current-context: default
kind: Config
users:
- name: default
  user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZ}
"""

OTHER = """\
apiVersion: v1
kind: Config
clusters:
- {name: prod, cluster: {server: "https://prod:6443"}}
users:
- {name: prod, user: {token: abc}}
contexts:
- {name: prod, context: {cluster: prod, user: prod}}
current-context: prod
"""


def test_for_cluster_points_at_the_endpoint_under_the_cluster_name():
    data = kubeconfig.load(kubeconfig.for_cluster(K3S_WRITTEN, "demo", "https://api.x:6443"))
    assert data["clusters"] == [
        {
            "name": "demo",
            "cluster": {"certificate-authority-data": "Q0E=", "server": "https://api.x:6443"},
        }
    ]
    assert data["contexts"][0] == {"name": "demo", "context": {"cluster": "demo", "user": "demo"}}


def test_merge_keeps_other_contexts_and_replaces_its_own():
    ours = kubeconfig.for_cluster(K3S_WRITTEN, "demo", "https://api.x:6443")
    once = kubeconfig.merge(OTHER, ours, "demo")
    twice = kubeconfig.merge(
        once, kubeconfig.for_cluster(K3S_WRITTEN, "demo", "https://b:6443"), "demo"
    )
    data = kubeconfig.load(twice)
    assert sorted(c["name"] for c in data["contexts"]) == ["demo", "prod"]
    assert data["current-context"] == "prod"  # never switched behind the user's back
    servers = {c["name"]: c["cluster"]["server"] for c in data["clusters"]}
    assert servers == {"prod": "https://prod:6443", "demo": "https://b:6443"}


def test_cli_writes_0600_and_merges(sloth_cli, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    with open_store(url) as store:
        credentials.store_kubeconfig(
            store, "demo", kubeconfig.for_cluster(K3S_WRITTEN, "demo", "https://api.x:6443")
        )
    target = tmp_path / "out" / "demo.yaml"
    result = sloth_cli("--state", url, "kubeconfig", "demo", "-o", str(target))
    assert result.exit_code == 0, result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert "https://api.x:6443" in target.read_text()

    home_config = tmp_path / "home" / ".kube" / "config"
    home_config.parent.mkdir(parents=True)
    home_config.write_text(OTHER)
    monkeypatch.setenv("KUBECONFIG", str(home_config))
    result = sloth_cli("--state", url, "kubeconfig", "demo", "--merge")
    assert result.exit_code == 0, result.stderr
    merged = kubeconfig.load(home_config.read_text())
    assert {c["name"] for c in merged["contexts"]} == {"prod", "demo"}
    assert stat.S_IMODE(home_config.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("half", ["cluster 'half' has no kubeconfig", "run `up`"]),
        ("nope", ["there is no cluster 'nope'", "known clusters: half"]),
    ],
)
def test_cli_without_a_kubeconfig_says_why_and_how_to_get_one(sloth_cli, tmp_path, name, expected):
    url = f"sqlite:///{tmp_path / 's.db'}"
    with open_store(url) as store:
        store.put_cluster(ClusterRecord("half", {}))  # a cluster whose distro phase never ran
    result = sloth_cli("--state", url, "kubeconfig", name)
    assert result.exit_code == 1
    for text in expected:
        assert text in result.stderr
