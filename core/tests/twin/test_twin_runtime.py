"""The distribution twin's runtime pieces that need no host: storage keys, selectors, tables,
the node-side kubectl's jsonpath, strict config reading, and the bundle's banner."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sloth_distro_k3s.plugin import installer as k3s_installer
from sloth_kubernetes.testing.distro_twin import twin_binary, twin_facts
from sloth_kubernetes.testing.twin.runtime import config as twin_config
from sloth_kubernetes.testing.twin.runtime import kubectl, resources, tables
from sloth_kubernetes.testing.twin.runtime.apiserver import _merge, _selected
from sloth_kubernetes.testing.twin.runtime.facts import Facts
from sloth_kubernetes.testing.twin.runtime.store import ApiFailure


def _resource(plural: str, group: str = "") -> resources.Resource:
    return next(r for r in resources.BUILTIN if r.plural == plural and r.group == group)


def test_objects_are_keyed_as_kube_apiserver_keys_them():
    assert _resource("nodes").key("", "n1") == "/registry/minions/n1"
    assert _resource("services").key("default", "k") == "/registry/services/specs/default/k"
    assert _resource("deployments", "apps").key("kube-system", "d") == (
        "/registry/deployments/kube-system/d"
    )
    crds = _resource("customresourcedefinitions", "apiextensions.k8s.io")
    assert crds.key("", "x.y") == "/registry/apiextensions.k8s.io/customresourcedefinitions/x.y"
    (chart,) = resources.from_crd(
        {
            "spec": {
                "group": "helm.cattle.io",
                "scope": "Namespaced",
                "names": {"kind": "HelmChart", "plural": "helmcharts"},
                "versions": [{"name": "v1", "served": True}],
            }
        }
    )
    assert chart.key("kube-system", "c") == "/registry/helm.cattle.io/helmcharts/kube-system/c"


def test_label_and_field_selectors_filter_like_the_api():
    node = {"metadata": {"name": "a", "labels": {"node-role.kubernetes.io/etcd": "true"}}}
    assert _selected(node, {"labelSelector": "node-role.kubernetes.io/etcd=true"})
    assert not _selected(node, {"labelSelector": "node-role.kubernetes.io/etcd!=true"})
    assert not _selected(node, {"labelSelector": "missing"})
    assert _selected(node, {"fieldSelector": "metadata.name=a"})
    with pytest.raises(ApiFailure) as refused:
        _selected(node, {"fieldSelector": "spec.nodeName=a"})
    assert refused.value.code == 400


def test_merge_patch_merges_maps_and_null_deletes():
    assert _merge({"a": {"b": 1, "c": 2}, "d": 1}, {"a": {"b": 3, "c": None}}) == {
        "a": {"b": 3},
        "d": 1,
    }


def test_node_table_has_kubectl_columns():
    node = {
        "metadata": {"name": "n", "creationTimestamp": "2026-01-01T00:00:00Z",
                     "labels": {"node-role.kubernetes.io/control-plane": "true"}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}],
                   "nodeInfo": {"kubeletVersion": "v1.31.4+k3s1"}},
    }  # fmt: skip
    table = tables.table(_resource("nodes"), [node], 7)
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Status", "Roles", "Age", "Version",
    ]  # fmt: skip
    assert table["rows"][0]["cells"][:3] == ["n", "Ready", "control-plane"]


def test_node_side_kubectl_answers_the_installers_jsonpath():
    template = (
        '{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}'
        '{"\\n"}{end}'
    )
    items = [
        {
            "metadata": {"name": "a"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        },
        {"metadata": {"name": "b"}, "status": {"conditions": []}},
    ]
    assert kubectl._jsonpath(template, items) == "a=True\nb=\n"


def _facts(tmp_path) -> Facts:
    data = twin_facts(k3s_installer())
    data.update(config_path=str(tmp_path / "config.yaml"))
    return Facts(**data)


@pytest.mark.parametrize(
    ("text", "refusal"),
    [
        ("token: t\nnode-name: n\nnode-ip: [10.0.0.1]\nno-such-flag: 1\n", "unknown config key"),
        ("token: t\nnode-name: n\nnode-ip: [10.0.0.1]\ncluster-init: yes-please\n", "not a bool"),
        ("node-name: n\nnode-ip: [10.0.0.1]\n", "no token"),
    ],
)
def test_config_is_refused_naming_the_key(tmp_path, text, refusal):
    (tmp_path / "config.yaml").write_text(text)
    with pytest.raises(twin_config.ConfigRefused, match=refusal):
        twin_config.load(_facts(tmp_path), "server")


def test_bundle_binary_says_it_is_a_twin(tmp_path):
    binary = tmp_path / "k3s"
    binary.write_bytes(twin_binary(k3s_installer()))
    out = subprocess.run(
        [sys.executable, str(binary), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert out.startswith("k3s version v1.31.4+k3s1 (sloth twin of K3s v1.31.4+k3s1")
    assert "not a real Kubernetes" in out


def test_an_agent_refuses_to_start_where_its_own_balancer_port_is_taken(tmp_path):
    """As K3s/RKE2 agents do (their client balancer's net.Listen fails): RKE2's takes
    lb-server-port and one below it for the API, so with the node-local balancer on
    127.0.0.1:6443 an RKE2 agent must move it (the installer sets lb-server-port)."""
    import socket

    from sloth_distro_rke2.plugin import installer as rke2_installer
    from sloth_kubernetes.testing.twin.runtime.agent import hold_balancer_ports

    data = twin_facts(rke2_installer())
    data.update(config_path=str(tmp_path / "config.yaml"))
    rke2 = Facts(**data)
    with socket.socket() as taken:  # what the node-local balancer holds, on a free port here
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(twin_config.ConfigRefused, match=f"127.0.0.1:{port}: bind"):
            hold_balancer_ports(rke2, {"lb-server-port": port + 1})  # the API one below: taken
        held = hold_balancer_ports(rke2, {"lb-server-port": port + 3})  # clear of it
        assert sorted(s.getsockname()[1] for s in held) == [port + 2, port + 3]
        k3s = hold_balancer_ports(_facts(tmp_path), {"lb-server-port": port + 5})
        assert [s.getsockname()[1] for s in k3s] == [port + 5]  # K3s: supervisor = API
    for listener in (*held, *k3s):
        listener.close()
