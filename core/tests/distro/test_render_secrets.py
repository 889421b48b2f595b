"""The secrets sweep of ``render --out`` (#13): with the cluster's real secrets in the state store
and in the environment, no rendered file — and nothing printed — holds any of them, for every
distribution; each file that holds a secret on the node (0600 there) carries the marker instead.

Planted (random per run): the cluster token (as the distro phase stores it), the state
passphrase, etcd's S3 access and secret keys (``${env:…}``), a kubeconfig; for kubeadm also what
it derives from the token: the bootstrap token, the certificate key and the cluster CA's key.
"""

from __future__ import annotations

import secrets

import pytest
from sloth_distro_kubeadm import join_secrets
from sloth_kubernetes.distro import credentials
from sloth_kubernetes.distro.installer import SECRET_MARKER
from sloth_kubernetes.secrets import Secret
from sloth_kubernetes.state import open_store
from sloth_kubernetes.testing import sweep
from sloth_kubernetes.testing.dummy import stand_in_cni

POOLS = [
    {"name": "servers", "provider": "dummy", "count": 3, "roles": ["server"]},
    {"name": "agents", "provider": "dummy", "count": 1, "roles": ["agent"]},
]
S3 = {"bucket": "b", "accessKey": "${env:SWEEP_S3_ACCESS}", "secretKey": "${env:SWEEP_S3_SECRET}"}
#: Per distribution: the node files that hold a secret on the node (written 0600 there).
SECRET_FILES = {
    "k3s": {"/etc/rancher/k3s/config.yaml"},
    "rke2": {"/etc/rancher/rke2/config.yaml"},
    "kubeadm": {"/etc/kubernetes/sloth/kubeadm.yaml", "/etc/kubernetes/pki/ca.key"},
}


@pytest.mark.parametrize("distro", ["k3s", "rke2", "kubeadm"])
def test_rendered_files_hold_markers_never_secrets(
    distro, sloth_cli, config_factory, dummy_provider, register_plugin, tmp_path, monkeypatch
):
    token = secrets.token_hex(32)
    planted = {
        "cluster token": token,
        "passphrase": "pp-" + secrets.token_urlsafe(24),
        "s3 access key": "AKIA" + secrets.token_hex(10).upper(),
        "s3 secret key": "s3s-" + secrets.token_urlsafe(30),
        "kubeconfig token": "kc-" + secrets.token_hex(24),
        "kubeadm bootstrap token": join_secrets.bootstrap_token(token),
        "kubeadm certificate key": join_secrets.certificate_key(token),
    }
    _cert, ca_key, _pin = join_secrets.cluster_ca(token)
    for index, line in enumerate(x for x in ca_key.splitlines() if "-----" not in x):
        planted[f"kubeadm CA key line {index}"] = line
    monkeypatch.setenv("SLOTH_STATE_PASSPHRASE", planted["passphrase"])
    monkeypatch.setenv("SWEEP_S3_ACCESS", planted["s3 access key"])
    monkeypatch.setenv("SWEEP_S3_SECRET", planted["s3 secret key"])
    state = f"sqlite:///{tmp_path / 'state.db'}"
    with open_store(state) as store:  # what `up` keeps for the cluster
        store.put_secret("test", credentials.TOKEN_SECRET, Secret(token))
        store.put_secret("test", credentials.KUBECONFIG_SECRET, Secret(planted["kubeconfig token"]))
    kubernetes = {"distribution": distro, "apiEndpoint": "api.example.com"}
    if distro == "kubeadm":  # no bundled CNI supports kubeadm yet; kubeadm has no S3 snapshots
        register_plugin(stand_in_cni("kubeadm"), "stand-in-cni")
        kubernetes["cni"] = {"type": "stand-in-cni"}
    else:
        kubernetes[distro] = {"snapshots": {"s3": S3}}
    config = config_factory({"spec": {"nodePools": POOLS, "kubernetes": kubernetes}})
    out = tmp_path / "rendered"

    result = sloth_cli("--debug", "--state", state, "render", "-f", str(config), "--out", str(out))

    assert result.exit_code == 0, result.stderr
    rendered = list(sweep.files_under(out))
    leaks = sweep.exposures(
        planted, [*rendered, sweep.text("output", result.stdout + result.stderr)]
    )
    assert leaks == {}, {kind: [a.where for a in found] for kind, found in leaks.items()}
    # the files that hold a secret on the node show the marker instead, on every node they go to
    nodes = {p.name for p in (out / "nodes").iterdir()}
    assert nodes == {"test-servers-1", "test-servers-2", "test-servers-3", "test-agents-1"}
    marked = {
        "/" + a.where.split("/nodes/", 1)[1].split("/", 1)[1]
        for a in rendered
        if SECRET_MARKER.encode() in a.content
    }
    assert marked == SECRET_FILES[distro]
