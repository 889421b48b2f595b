"""The distribution twin's model does what K3s/RKE2 do on their own (upstream rules cited in
core/src/sloth_kubernetes/testing/twin/README.md)."""

from __future__ import annotations

import json

import pytest
from sloth_kubernetes.testing.twin import ObjectKey, deployed_objects, merge_config_files

K3S = ("k3s", "v1.31.4+k3s1")
RKE2 = ("rke2", "v1.31.4+rke2r1")
HELM = "helm.cattle.io/v1"


def chart(name, namespace="kube-system", **spec):
    return {"apiVersion": HELM, "kind": "HelmChart",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}  # fmt: skip


def chart_config(name, values, namespace="kube-system"):
    return {"apiVersion": HELM, "kind": "HelmChartConfig",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"valuesContent": json.dumps(values)}}  # fmt: skip


def test_config_dropins_replace_and_plus_keys_append():
    merged = merge_config_files(
        {"disable": ["traefik"], "node-label": "a=1", "debug": False},
        {"20-b.yaml": {"disable+": "servicelb"}, "10-a.yml": {"node-label+": ["b=2"]},
         "30-c.YAML": {"debug": True}, "notes.txt": {"debug": False}},
    )  # fmt: skip
    assert merged == {"disable": ["traefik", "servicelb"], "node-label": ["a=1", "b=2"],
                      "debug": True}  # fmt: skip


def test_k3s_defaults_run_flannel_policy_controller_and_a_default_local_path_class():
    deployment = deployed_objects(*K3S, {}, {}, node_name="s1")
    assert deployment.running("cni") == ["flannel"]
    assert deployment.running("network-policy") == ["network-policy-controller"]
    classes = [o for o in deployment.objects if o.key.kind == "StorageClass"]
    assert [c.key.name for c in classes] == ["local-path"]
    assert {r.name for r in deployment.releases} == {"traefik", "traefik-crd"}


def test_k3s_disable_and_flannel_none_turn_components_off():
    config = {"flannel-backend": "none", "disable-network-policy": True,
              "disable": ["local-storage", "traefik"], "disable-kube-proxy": True}  # fmt: skip
    deployment = deployed_objects(*K3S, config, {}, node_name="s1")
    assert deployment.running("cni") == []
    assert deployment.running("network-policy") == []
    assert deployment.running("service-proxy") == []
    assert not any(o.key.kind == "StorageClass" for o in deployment.objects)
    assert deployment.releases == []


def test_k3s_without_flannel_has_a_pod_network_only_from_a_bootstrap_cni_chart():
    """helm-controller v0.16.5 runs a ``bootstrap`` chart's job on the host network, tolerating
    not-ready nodes; any other chart's job needs a pod network, which no CNI provides yet."""
    config = {"flannel-backend": "none", "disable-network-policy": True}
    cilium = {"chart": "cilium", "repo": "https://helm.cilium.io"}
    plain = {
        "sloth-cni.yaml": [chart("cilium", **cilium)],
        "sloth-app.yaml": [chart("app", chart="app", repo="https://example.test")],
    }
    deployment = deployed_objects(*K3S, config, plain, node_name="s1")
    assert not deployment.pod_network()
    assert deployment.running("cni") == []
    pending = sorted(f.message.split(":")[0] for f in deployment.ignored)
    names = ("app", "cilium", "traefik", "traefik-crd")
    assert pending == [f"HelmChart kube-system/{name}" for name in names]
    assert all("never installs" in f.message for f in deployment.ignored)

    bootstrap = {**plain, "sloth-cni.yaml": [chart("cilium", bootstrap=True, **cilium)]}
    deployment = deployed_objects(*K3S, config, bootstrap, node_name="s1")
    assert deployment.pod_network()
    assert deployment.running("cni") == ["helm:kube-system/cilium"]
    assert deployment.ignored == []  # with a pod network every other chart installs too


def test_k3s_refuses_an_unknown_flannel_backend_and_skips_unknown_keys():
    deployment = deployed_objects(*K3S, {"flannel-backend": "wireguard"}, {}, node_name="s1")
    assert not deployment.starts
    assert "invalid flannel backend" in deployment.refused[0].message
    deployment = deployed_objects(*K3S, {"cni": ["calico"]}, {}, node_name="s1")
    assert deployment.ignored[0].message == "Unknown flag --cni found in config.yaml, skipping"


def test_rke2_default_cni_is_canal_with_cluster_values_injected():
    deployment = deployed_objects(*RKE2, {"cluster-cidr": ["10.60.0.0/16"]}, {}, node_name="s1")
    assert deployment.running("cni") == ["helm:kube-system/rke2-canal"]
    canal = deployment.release("rke2-canal")
    assert canal is not None
    assert canal.bootstrap
    assert canal.bundled
    assert canal.value("global.clusterCIDRv4") == "10.60.0.0/16"
    assert deployment.release("rke2-multus") is None
    assert deployment.release("rke2-calico") is None


def test_rke2_cni_none_runs_no_cni_and_a_helmchartconfig_alone_changes_nothing():
    files = {"my-calico.yaml": [chart_config("rke2-calico", {"installation": {}})]}
    deployment = deployed_objects(*RKE2, {"cni": ["none"]}, files, node_name="s1")
    assert deployment.running("cni") == []
    assert any("has no HelmChart" in f.message for f in deployment.ignored)


@pytest.mark.parametrize(("cni", "problem"), [(["multus"], "alongside"),
                                              (["canal", "calico"], "multus is the first"),
                                              (["weave"], "invalid value")])  # fmt: skip
def test_rke2_refuses_bad_cni_selections(cni, problem):
    deployment = deployed_objects(*RKE2, {"cni": cni}, {}, node_name="s1")
    assert not deployment.starts
    assert problem in deployment.refused[0].message


def test_rke2_multus_first_keeps_multus_and_the_primary():
    deployment = deployed_objects(*RKE2, {"cni": "multus,cilium"}, {}, node_name="s1")
    assert deployment.running("cni") == ["helm:kube-system/rke2-cilium"]
    assert deployment.running("cni-meta") == ["helm:kube-system/rke2-multus"]


def test_rke2_skips_k3s_only_keys():
    deployment = deployed_objects(*RKE2, {"flannel-iface": "wg0"}, {}, node_name="s1")
    assert [f.source for f in deployment.ignored] == ["config.yaml: flannel-iface"]


def test_helm_values_merge_order_chart_then_config_then_set():
    files = {"a.yaml": [chart("app", repo="https://x", chart="app", version="1.0.0",
                              valuesContent=json.dumps({"a": {"b": 1, "c": 1}, "l": [1, 2]}),
                              set={"a.c": 3})],
             "b.yaml": [chart_config("app", {"a": {"b": 2, "d": 2}, "l": [9]})]}  # fmt: skip
    release = deployed_objects(*K3S, {}, files, node_name="s1").release("app")
    assert release is not None
    assert release.values == {"a": {"b": 2, "c": 3, "d": 2}, "l": [9]}


def test_helmchartconfig_applies_only_in_the_charts_namespace():
    files = {"a.yaml": [chart("app", chart="app", repo="r", version="1")],
             "b.yaml": [chart_config("app", {"x": 1}, namespace="other")]}  # fmt: skip
    deployment = deployed_objects(*K3S, {}, files, node_name="s1")
    assert deployment.release("app").values == {}
    assert any("has no HelmChart" in f.message for f in deployment.ignored)


def config_map(name):
    return [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}]


def test_deploy_controller_skip_disable_and_addon_names():
    files = {"one.yaml": config_map("a"),
             "one.yaml.skip": [], "notes.md": [],
             "x.first.yaml": config_map("b"),
             "x.second.yaml": config_map("c"),
             "mine.yaml": config_map("d")}  # fmt: skip
    deployment = deployed_objects(*K3S, {"disable": ["mine"]}, files, node_name="s1")
    names = {o.key.name for o in deployment.objects if o.key.kind == "ConfigMap"}
    assert "c" in names
    assert not names & {"a", "b", "d"}
    assert any("same Addon 'x'" in f.message for f in deployment.refused)


def test_two_sources_of_one_object_are_visible():
    files = {"sc.yaml": [{"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                          "metadata": {"name": "local-path"}}]}  # fmt: skip
    owners = deployed_objects(*K3S, {}, files, node_name="s1").owners()
    assert len(owners[ObjectKey("StorageClass", "", "local-path")]) == 2


def test_chart_storage_classes_follow_values():
    values = json.dumps({"persistence": {"defaultClass": False}})
    files = {"lh.yaml": [chart("longhorn", repo="r", chart="longhorn", version="1.7.2",
                               valuesContent=values)]}  # fmt: skip
    deployment = deployed_objects(*K3S, {"disable": ["local-storage"]}, files, node_name="s1")
    (sc,) = [o for o in deployment.objects if o.key.kind == "StorageClass"]
    annotations = sc.body["metadata"]["annotations"]
    assert annotations["storageclass.kubernetes.io/is-default-class"] == "false"


PSA = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "AdmissionConfiguration",
       "plugins": [{"name": "PodSecurity", "configuration": {
           "defaults": {"enforce": "restricted"},
           "exemptions": {"namespaces": ["kube-system"]}}}]}  # fmt: skip


def deployment_in(namespace, **pod):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "app", "namespace": namespace},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x:1"}],
                                           **pod}}}}  # fmt: skip


def test_pod_security_restricted_refuses_host_access_unless_labelled_or_exempt():
    config = {"kube-apiserver-arg": ["admission-control-config-file=/psa.yaml"]}
    files = {"/psa.yaml": json.dumps(PSA)}
    host = {"hostNetwork": True}
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": "ok", "labels": {"pod-security.kubernetes.io/enforce": "privileged"}}}  # fmt: skip
    manifests = {"a.yaml": [deployment_in("apps", **host)],
                 "b.yaml": [namespace, deployment_in("ok", **host)],
                 "c.yaml": [deployment_in("kube-system", **host)]}  # fmt: skip
    deployment = deployed_objects(*K3S, config, manifests, node_name="s1", files=files)
    refused = [f.message for f in deployment.refused]
    assert len(refused) == 1
    assert "Deployment apps/app: PodSecurity restricted in apps refuses" in refused[0]
    assert "hostNetwork" in refused[0]


def test_rke2_cis_profile_enforces_restricted_except_its_exemptions():
    files = {"lh.yaml": [chart("longhorn", repo="r", chart="longhorn", version="1.7.2",
                               targetNamespace="longhorn-system")]}  # fmt: skip
    plain = deployed_objects(*RKE2, {}, files, node_name="s1")
    assert plain.refused == []
    cis = deployed_objects(*RKE2, {"profile": "cis"}, files, node_name="s1")
    assert [f.source for f in cis.refused] == ["helm:longhorn-system/longhorn"]


def test_a_missing_admission_file_stops_the_server():
    config = {"kube-apiserver-arg": ["admission-control-config-file=/nowhere.yaml"]}
    deployment = deployed_objects(*K3S, config, {}, node_name="s1", files={})
    assert not deployment.starts
    # without files= the caller did not say what is on the host: admission is not checked
    assert deployed_objects(*K3S, config, {}, node_name="s1").starts


def test_the_model_runs_on_a_bare_python_with_the_standard_library_only(tmp_path):
    """Test nodes run it with their own python3: copied alone, isolated and without
    site-packages, it imports nothing outside the standard library."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    import sloth_kubernetes.testing.twin as twin

    shutil.copytree(Path(twin.__file__).parent, tmp_path / "twin")
    script = (
        "import sys; sys.path.insert(0, '.'); from twin import deployed_objects; "
        "d = deployed_objects('k3s', 'v1.31.4+k3s1', {}, {}, node_name='n'); "
        "stdlib = set(sys.stdlib_module_names) | {'twin', '__main__'}; "
        "print(d.running('cni'), sorted({m.split('.')[0] for m in sys.modules} - stdlib))"
    )
    result = subprocess.run([sys.executable, "-I", "-S", "-c", script], cwd=tmp_path,
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['flannel'] []"


def test_an_addon_name_that_is_not_an_object_name_is_never_applied():
    files = {"My_App.yaml": config_map("a"), "fine.yaml": config_map("b")}
    deployment = deployed_objects(*K3S, {}, files, node_name="s1")
    names = {o.key.name for o in deployment.objects if o.key.kind == "ConfigMap"}
    assert "b" in names
    assert "a" not in names
    assert any("'My_App' is not a valid object name" in f.message for f in deployment.refused)
