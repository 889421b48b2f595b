"""The apply path against the Kubernetes API stand-in: server-side apply, registry, pruning."""

from __future__ import annotations

import pytest
from sloth_kubernetes.addons import AddonManifests, install_manifests, kube
from sloth_kubernetes.context import ClusterContext


def configmap(name, data, namespace="apps"):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace}, "data": data}  # fmt: skip


def test_lightkube_applies_to_the_stand_in(kube_api):
    from sloth_kubernetes.addons.manifests import manifests_of

    with kube.kube_client(None, kube_api.kubeconfig) as client:
        kube.apply_objects(client, manifests_of("addon/x", [configmap("a", {"k": "v"})]))
    assert kube_api.objects()["configmaps/apps/a"]["data"] == {"k": "v"}


@pytest.fixture
def cluster(tmp_path, config_factory, sloth_manager, dummy_provider, kube_api, monkeypatch):
    """A cluster on the dummy distro (no deployer of its own: server-side apply is used), its
    admin kubeconfig recorded in a real SQLite state store, pointing at the API stand-in."""
    from ruamel.yaml import YAML
    from sloth_kubernetes import api
    from sloth_kubernetes.secrets import Secret
    from sloth_kubernetes.state import open_store

    monkeypatch.setenv("SLOTH_STATE_PASSPHRASE", "test passphrase")
    config = api.load([config_factory()], manager=sloth_manager)
    import io

    text = io.StringIO()
    YAML(typ="safe").dump(kube_api.kubeconfig, text)
    with open_store(f"sqlite:///{tmp_path}/state.db") as store:
        store.put_secret("test", kube.KUBECONFIG_SECRET, Secret(text.getvalue()))
        context = ClusterContext(config=config, state=store)
        distro = config.spec.kubernetes.distribution
        context.delivery = sloth_manager.hooks.manifest_delivery(context, distro)  # as `up` does
        yield context


def helm_object():
    from sloth_kubernetes.addons import helm_chart

    return helm_chart("demo", chart="demo", repo="https://charts.example.org", version="1.0.0",
                      target_namespace="demo", values={"a": 1})  # fmt: skip


def namespace(name):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def test_apply_records_and_reapplies_only_what_changed(cluster, kube_api):
    objects = [configmap("one", {"k": "1"}), namespace("apps"), helm_object()]
    first = install_manifests(cluster, "addon", "demo", AddonManifests(objects))
    assert first.delivery == "server-side apply"
    assert len(first.applied) == 3
    live = kube_api.objects()
    assert live["configmaps/apps/one"]["data"] == {"k": "1"}
    assert "namespaces/-/apps" in live
    assert live["helmcharts/kube-system/demo"]["spec"]["version"] == "1.0.0"
    records = {r.key: r for r in cluster.state.list_manifests("test")}
    assert set(records) == set(first.applied)
    assert {r.plugin for r in records.values()} == {"addon/demo"}

    again = install_manifests(cluster, "addon", "demo", AddonManifests(objects))
    assert again.applied == ()
    assert len(again.unchanged) == 3
    assert again.delivery == ""

    objects[0] = configmap("one", {"k": "2"})
    changed = install_manifests(cluster, "addon", "demo", AddonManifests(objects))
    assert changed.applied == ("v1/ConfigMap/apps/one",)
    assert kube_api.objects()["configmaps/apps/one"]["data"] == {"k": "2"}
    new_sha = {r.key: r.sha256 for r in cluster.state.list_manifests("test")}
    assert new_sha["v1/ConfigMap/apps/one"] != records["v1/ConfigMap/apps/one"].sha256


def test_objects_no_longer_rendered_are_pruned(cluster, kube_api):
    both = [namespace("apps"), configmap("one", {}), configmap("two", {})]
    install_manifests(cluster, "addon", "demo", AddonManifests(both))
    result = install_manifests(cluster, "addon", "demo", AddonManifests(both[:2]))
    assert result.removed == ("v1/ConfigMap/apps/two",)
    assert "configmaps/apps/two" not in kube_api.objects()
    assert "configmaps/apps/one" in kube_api.objects()
    assert "v1/ConfigMap/apps/two" not in {r.key for r in cluster.state.list_manifests("test")}


def test_removed_addon_is_deleted_only_after_confirmation(cluster, kube_api):
    from sloth_kubernetes.addons import remove_components, removed_components

    install_manifests(cluster, "addon", "demo", AddonManifests([configmap("one", {})]))
    removed = removed_components(cluster, [])
    assert list(removed) == ["addon/demo"]
    questions = []
    assert remove_components(cluster, removed, confirm=lambda q: questions.append(q) or False) == []
    assert "configmaps/apps/one" in kube_api.objects()
    assert "addon/demo (1 objects)" in questions[0]
    assert remove_components(cluster, removed, confirm=lambda q: True) == ["addon/demo"]
    assert "configmaps/apps/one" not in kube_api.objects()
    assert cluster.state.list_manifests("test") == []


def test_invalid_manifest_is_refused_before_anything_is_applied(cluster, kube_api):
    from sloth_kubernetes.errors import PluginError

    bad = configmap("one", {"k": 1})  # ConfigMap data values must be strings
    with pytest.raises(PluginError, match=r"addon/demo: ConfigMap apps/one: data.k"):
        install_manifests(cluster, "addon", "demo", AddonManifests([configmap("ok", {}), bad]))
    assert kube_api.objects() == {}
    assert cluster.state.list_manifests("test") == []


def test_dry_run_reports_and_changes_nothing(cluster, kube_api):
    import attrs

    dry = attrs.evolve(cluster, dry_run=True)
    result = install_manifests(dry, "addon", "demo", AddonManifests([configmap("one", {})]))
    assert result.delivery == "dry run"
    assert result.applied == ("v1/ConfigMap/apps/one",)
    assert kube_api.objects() == {}
    assert cluster.state.list_manifests("test") == []


def test_distro_deployer_receives_changes_and_removals(
    cluster, register_plugin, kube_api, sloth_manager
):
    from sloth_kubernetes.hookspecs import hookimpl

    delivered = []

    def deliver(context, manifests, removed):
        delivered.append(([m.file_name for m in manifests], [m.key for m in removed]))
        return [m.key for m in manifests]

    class Deployer:
        @hookimpl
        def manifest_delivery(self, context, distro):
            return deliver

    register_plugin(Deployer(), "deployer")
    distro = cluster.config.spec.kubernetes.distribution
    cluster.delivery = sloth_manager.hooks.manifest_delivery(cluster, distro)  # as `up` does
    install_manifests(cluster, "addon", "demo", AddonManifests([helm_object()]))
    install_manifests(cluster, "addon", "demo", AddonManifests([]))
    assert delivered == [(["helmchart-kube-system-demo.yaml"], []),
                         ([], ["helm.cattle.io/v1/HelmChart/kube-system/demo"])]  # fmt: skip
    assert kube_api.objects() == {}  # nothing went through the API
