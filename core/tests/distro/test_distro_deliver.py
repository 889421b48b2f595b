"""Manifest files delivered into the distribution's auto-deploy directory: each object keeps its
own Addon in K3s's deploy controller (modelled by the distribution twin, which cites it)."""

from __future__ import annotations

from sloth_kubernetes.addons.manifests import manifests_of
from sloth_kubernetes.distro.deliver import manifest_path
from sloth_kubernetes.testing.twin import deployed_objects

DIRECTORY = "/var/lib/rancher/k3s/server/manifests"


def api_service(name):
    return {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": name},
            "spec": {"group": name.split(".", 1)[1], "version": name.split(".", 1)[0]}}  # fmt: skip


def test_objects_with_dotted_names_each_get_their_own_addon():
    objects = [
        api_service("v1beta1.metrics.k8s.io"),
        api_service("v1beta1.custom.metrics.k8s.io"),
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "settings.v1", "namespace": "monitoring"}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "settings-v1", "namespace": "monitoring"}},
    ]  # fmt: skip
    manifests = manifests_of("addon/prometheus-adapter", objects)
    paths = [manifest_path(DIRECTORY, m) for m in manifests]
    files = {p.rsplit("/", 1)[-1]: [m.body] for p, m in zip(paths, manifests, strict=True)}

    deployment = deployed_objects("k3s", "v1.31.4+k3s1", {}, files, node_name="s1")

    assert deployment.refused == []
    applied = {(o.key.kind, o.key.name) for o in deployment.objects}
    assert {(o["kind"], o["metadata"]["name"]) for o in objects} <= applied
    # a name that needed no change keeps its readable file name
    readable = "sloth-addon-prometheus-adapter-configmap-monitoring-settings-v1.yaml"
    assert f"{DIRECTORY}/{readable}" in paths


def test_file_names_are_stable_and_bounded():
    long_name = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a." * 120 + "b"}}
    [manifest] = manifests_of("cni/cilium", [long_name])
    path = manifest_path(DIRECTORY, manifest)
    assert path == manifest_path(DIRECTORY, manifests_of("cni/cilium", [long_name])[0])
    assert len(path.rsplit("/", 1)[-1]) <= 245
