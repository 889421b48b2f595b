"""Extra distro settings are checked against the distribution's documented keys at load time."""

from __future__ import annotations

import pytest

SERVERS3 = [
    {"name": "servers", "provider": "dummy", "count": 3, "roles": ["server"]},
    {"name": "agents", "provider": "dummy", "count": 2, "roles": ["agent"]},
]


@pytest.mark.parametrize("distro", ["k3s", "rke2"])
def test_an_unknown_server_key_is_a_located_error_with_a_suggestion(
    sloth_cli, config_factory, distro
):
    path = config_factory(
        {"spec": {"kubernetes": {"distribution": distro, "serverConfig": {"kubelet-args": []}}}}
    )
    result = sloth_cli("config", "validate", "-f", str(path))
    assert result.exit_code == 1
    assert f"{path}:" in result.stderr
    assert "spec.kubernetes.serverConfig.kubelet-args" in result.stderr
    assert "did you mean 'kubelet-arg'" in result.stderr


def test_managed_cluster_wide_and_typed_keys_are_refused(sloth_cli, config_factory):
    path = config_factory(
        {
            "spec": {
                "kubernetes": {
                    "serverConfig": {"token": "hunter22", "etcd-snapshot-retention": "5"},
                    "agentConfig": {"cluster-dns": ["10.43.0.10"], "flannel-conf": "x"},
                }
            }
        }
    )
    result = sloth_cli("config", "validate", "-f", str(path))
    assert result.exit_code == 1
    text = result.stderr
    assert "'token' is set by sloth-kubernetes itself" in text
    assert "etcd-snapshot-retention: expected an integer" in text
    assert "'cluster-dns' is a server setting" in text
    assert "flannel-conf" not in text  # a documented agent key is accepted


def test_documented_extra_keys_are_accepted(sloth_cli, config_factory, dummy_provider):
    path = config_factory(
        {
            "spec": {
                "nodePools": SERVERS3,
                "kubernetes": {
                    "serverConfig": {
                        "kube-apiserver-arg": ["v=2"],
                        "disable-helm-controller": False,
                    },
                    "agentConfig": {"kubelet-arg": ["max-pods=200"]},
                    "k3s": {"agentBatchSize": 10},
                },
            }
        }
    )
    result = sloth_cli("config", "validate", "-f", str(path))
    assert result.exit_code == 0, result.stderr


def test_rke2_bundled_cni_is_validated(sloth_cli, config_factory, dummy_provider):
    path = config_factory(
        {"spec": {"kubernetes": {"distribution": "rke2", "rke2": {"cni": "flannel"}}}}
    )
    result = sloth_cli("config", "validate", "-f", str(path))
    assert result.exit_code == 1
    assert "auto, canal, calico, cilium, none" in result.stderr


@pytest.mark.parametrize(
    ("distro", "key", "value", "hint"),
    [
        ("k3s", "flannel-backend", "none", "spec.kubernetes.cni"),
        ("k3s", "flannel-iface", "eth0", "mesh interface"),
        ("k3s", "disable-network-policy", True, "spec.kubernetes.cni"),
        ("k3s", "disable-kube-proxy", True, "kubeProxyReplacement"),
        ("rke2", "disable-kube-proxy", True, "kubeProxyReplacement"),
        ("rke2", "cni", ["none"], "spec.kubernetes.cni"),
    ],
)
def test_keys_the_cni_decides_are_refused_in_server_config(
    sloth_cli, config_factory, dummy_provider, distro, key, value, hint
):
    """A CNI-related key in serverConfig would override what the CNI block decided (flannel off
    without a CNI, pod traffic off the mesh, no kube-proxy without a replacement)."""
    path = config_factory(
        {"spec": {"kubernetes": {"distribution": distro, "serverConfig": {key: value}}}}
    )
    result = sloth_cli("config", "validate", "-f", str(path))
    assert result.exit_code == 1
    assert f"spec.kubernetes.serverConfig.{key}" in result.stderr
    assert f"{key!r} is set by sloth-kubernetes itself" in result.stderr
    assert hint in result.stderr


def test_k3s_refuses_turning_its_helm_controller_off(sloth_cli, config_factory, dummy_provider):
    path = config_factory(
        {"spec": {"kubernetes": {"serverConfig": {"disable-helm-controller": True}}}}
    )
    result = sloth_cli("config", "validate", "-f", str(path))
    assert result.exit_code == 1
    assert "spec.kubernetes.serverConfig.disable-helm-controller" in result.stderr
    assert "never installed" in result.stderr
