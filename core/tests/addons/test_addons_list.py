"""``addons list``: desired manifests (rendered from the stored or a new spec) against the
registry, filled by really applying to the Kubernetes API stand-in."""

from __future__ import annotations

import json

import attrs
import pytest

STORAGE = [{"type": "local-path", "classes": [{"name": "fast", "default": True}]}]


@pytest.fixture
def applied(tmp_path, config_factory, sloth_manager, dummy_provider, kube_api):
    """Cluster ``test`` as `up` leaves it: spec recorded, local-path applied (server-side apply
    to the stand-in) and recorded in the registry. Yields (state args, config factory)."""
    from sloth_kubernetes import api
    from sloth_kubernetes.addons import install_manifests, kube
    from sloth_kubernetes.config.dump import effective_config
    from sloth_kubernetes.context import ClusterContext
    from sloth_kubernetes.engine.plan import addon_components
    from sloth_kubernetes.model import NodeRecord
    from sloth_kubernetes.state import ClusterRecord, open_store

    url = f"sqlite:///{tmp_path}/state.db"
    config = api.load([config_factory({"spec": {"storage": STORAGE}})], manager=sloth_manager)
    with open_store(url) as store, kube.kube_client(None, kube_api.kubeconfig) as client:
        store.put_cluster(ClusterRecord(name="test", spec=effective_config(config)))
        phases = {"prepare": "done", "mesh": "done", "distro": "done"}
        store.put_node(NodeRecord("test", "test-server-1", roles=("server",), phases=phases))
        context = ClusterContext(config=config, state=store)
        for kind, name, settings in addon_components(config):
            rendered = sloth_manager.hooks.render_addon(context, kind, name, settings)
            install_manifests(context, kind, name, rendered, client=client)
    assert "storageclasses/-/fast" in kube_api.objects()
    return ["--state", url]


def _statuses(data):
    return {o["key"]: o["status"] for c in data["components"] for o in c["objects"]}


def test_stored_spec_is_in_sync_after_apply(sloth_cli, applied):
    result = sloth_cli(*applied, "addons", "list", "test", "-o", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["inSync"] is True
    assert [c["component"] for c in data["components"]] == ["storage/local-path"]
    objects = data["components"][0]["objects"]
    assert "storage.k8s.io/v1/StorageClass/-/fast" in {o["key"] for o in objects}
    assert all(o["desiredSha256"] == o["recordedSha256"] for o in objects)


def test_new_spec_shows_changed_missing_and_removed(sloth_cli, applied, config_factory):
    from sloth_kubernetes.state import open_store

    with open_store(applied[1]) as store:  # something an older spec installed
        store.record_manifest("test", "addon/old", "v1/ConfigMap/old/gone", "0" * 64, "{}")
    classes = [{"name": "fast", "default": True, "reclaimPolicy": "Retain"}, {"name": "slow"}]
    new = config_factory({"spec": {"storage": [{"type": "local-path", "classes": classes}],
                                   "addons": [{"name": "cert-manager"}]}})  # fmt: skip
    result = sloth_cli(*applied, "addons", "list", "test", "-f", str(new), "-o", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["inSync"] is False
    components = {c["component"]: c["status"] for c in data["components"]}
    assert components == {
        "storage/local-path": "changed",
        "addon/cert-manager": "missing",
        "addon/old": "removed",
    }
    statuses = _statuses(data)
    assert statuses["storage.k8s.io/v1/StorageClass/-/fast"] == "changed"
    assert statuses["storage.k8s.io/v1/StorageClass/-/slow"] == "missing"
    assert statuses["v1/ConfigMap/old/gone"] == "removed"
    assert statuses["apps/v1/Deployment/local-path-storage/local-path-provisioner"] == "in sync"

    table = sloth_cli(*applied, "addons", "list", "test", "-f", str(new))
    assert table.exit_code == 0, table.stderr
    assert "addon/cert-manager: missing" in table.stdout
    assert "addon/old: removed" in table.stdout
    assert "storage/local-path: changed" in table.stdout


def test_unknown_cluster_and_mismatched_config_are_errors(sloth_cli, applied, config_factory):
    missing = sloth_cli(*applied, "addons", "list", "nope")
    assert missing.exit_code == 1
    assert "no cluster named 'nope'" in missing.stderr
    assert "test" in missing.stderr  # the hint lists the known clusters
    other = config_factory({"metadata": {"name": "other"}})
    mismatch = sloth_cli(*applied, "addons", "list", "test", "-f", str(other))
    assert mismatch.exit_code == 2
    assert "describes cluster 'other'" in mismatch.stderr


def test_nothing_is_in_sync_while_the_distribution_is_not_installed(sloth_cli, applied):
    """A run whose distro phase failed must not leave `addons list` saying "in sync", even when
    the registry holds records (older versions wrote them after a failed distro phase)."""
    from sloth_kubernetes.state import open_store

    with open_store(applied[1]) as store:
        (server,) = store.list_nodes("test")
        store.put_node(attrs.evolve(server, phases={**server.phases, "distro": "failed"}))
        store.journal_record("test", "r1", "distro", "", "distro", "failed", "no release offline")
    result = sloth_cli(*applied, "addons", "list", "test", "-o", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["inSync"] is False
    assert data["distribution"]["installed"] is False
    assert "no release offline" in data["distribution"]["detail"]
    assert set(_statuses(data).values()) == {"missing"}
    table = sloth_cli(*applied, "addons", "list", "test")
    assert "in sync" not in table.stdout
    assert "is not installed on test" in table.stdout
