"""Round-trips of every record type, on both backends."""

from __future__ import annotations

import hashlib
import json

import attrs
import pytest
from sloth_kubernetes.errors import StateError
from sloth_kubernetes.secrets import register
from sloth_kubernetes.state import ClusterRecord, NodeRecord, StateStore


def test_cluster_round_trip_keeps_created_and_moves_updated(store: StateStore) -> None:
    spec = {
        "name": "demo",
        "nodePools": [{"name": "servers", "count": 3}],
        "mesh": {"cidr": "10.8.0.0/16"},
    }
    first = store.put_cluster(ClusterRecord("demo", spec, protect=True))
    assert (
        first.spec_hash
        == hashlib.sha256(
            json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()
    )
    assert store.get_cluster("demo") == first
    assert first.created_at.endswith("+00:00")

    second = store.put_cluster(attrs.evolve(first, spec={**spec, "version": 2}, spec_hash=""))
    again = store.get_cluster("demo")
    assert again == second
    assert again is not None
    assert again.created_at == first.created_at
    assert again.updated_at > first.updated_at
    assert again.spec["version"] == 2
    assert again.protect is True
    store.put_cluster(ClusterRecord("alpha"))
    assert [c.name for c in store.list_clusters()] == ["alpha", "demo"]
    assert store.get_cluster("missing") is None


def test_node_round_trip_and_phase_updates(store: StateStore) -> None:
    node = NodeRecord(
        cluster="demo", name="server-1", pool="servers", provider="hetzner", cloud_id="4711",
        roles=["server", "etcd"], public_address="203.0.113.7", private_address="10.0.0.7",
        mesh_address="10.8.0.1", host_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample",
        labels={"zone": "fsn1"}, phases={"provision": "done"}, extra={"image": "debian-12"},
    )  # fmt: skip
    stored = store.put_node(node)
    assert store.get_node("demo", "server-1") == stored
    assert attrs.evolve(stored, created_at="", updated_at="") == node

    store.set_node_phase("demo", "server-1", "mesh", "done")
    store.set_node_phase("demo", "server-1", "provision", "failed")
    updated = store.get_node("demo", "server-1")
    assert updated is not None
    assert updated.phases == {"provision": "failed", "mesh": "done"}
    assert updated.created_at == stored.created_at

    store.put_node(NodeRecord("demo", "agent-1", pool="agents"))
    store.put_node(NodeRecord("other", "x"))
    assert [n.name for n in store.list_nodes("demo")] == ["agent-1", "server-1"]
    assert store.delete_node("demo", "agent-1") is True
    assert store.delete_node("demo", "agent-1") is False
    assert [n.name for n in store.list_nodes("demo")] == ["server-1"]
    with pytest.raises(StateError, match="no node 'ghost'"):
        store.set_node_phase("demo", "ghost", "mesh", "done")


def test_journal_and_completed_steps(store: StateStore) -> None:
    store.journal_record("demo", "run-1", "prepare", "n1", "packages", "started")
    store.journal_record("demo", "run-1", "prepare", "n1", "packages", "done")
    store.journal_record("demo", "run-1", "prepare", "n2", "packages", "started")
    store.journal_record("demo", "run-1", "prepare", "n2", "packages", "failed", "apt: 404")
    store.journal_record("demo", "run-1", "mesh", None, "keys", "done")
    store.journal_record("demo", "run-2", "mesh", None, "keys", "started")  # re-running it
    store.journal_record("demo", "run-2", "prepare", "n2", "packages", "done")
    store.journal_record("other", "run-9", "prepare", "n1", "packages", "done")

    entries = store.journal_entries("demo", "run-1")
    assert [(e.node, e.status) for e in entries] == [
        ("n1", "started"), ("n1", "done"), ("n2", "started"), ("n2", "failed"), ("", "done"),
    ]  # fmt: skip
    assert entries[3].detail == "apt: 404"
    assert len(store.journal_entries("demo")) == 7
    assert store.completed_steps("demo") == {
        ("prepare", "n1", "packages"),
        ("prepare", "n2", "packages"),
    }
    assert store.completed_steps("demo", "run-1") == {
        ("prepare", "n1", "packages"),
        ("mesh", "", "keys"),
    }
    with pytest.raises(ValueError, match="journal status"):
        store.journal_record("demo", "run-1", "mesh", None, "keys", "finished")


def test_journal_many_steps_in_one_call_all_or_nothing(store: StateStore) -> None:
    recorded = store.journal_records(
        "demo", "run-3", [("connect", f"n{i}", "connect", "done", "") for i in range(3)]
    )
    assert [e.node for e in recorded] == ["n0", "n1", "n2"]
    assert [e.node for e in store.journal_entries("demo", "run-3")] == ["n0", "n1", "n2"]
    with pytest.raises(ValueError, match="journal status"):  # checked before anything is written
        store.journal_records(
            "demo", "run-4", [("connect", "n0", "connect", "done", ""),
                              ("connect", "n1", "connect", "finished", "")],
        )  # fmt: skip
    assert store.journal_entries("demo", "run-4") == []


def test_operations_history(store: StateStore) -> None:
    first = store.begin_operation("demo", "up", "alice", "laptop")
    store.end_operation(first, "success", {"created": ["n1", "n2"], "duration_s": 12.5})
    second = store.begin_operation("demo", "scale servers=5", "bob", "ci-7")
    store.begin_operation("other", "up", "carol", "box")

    ops = store.list_operations("demo")
    assert [o.id for o in ops] == [second, first]
    assert ops[0].outcome is None
    assert ops[0].ended_at is None
    assert ops[1].command == "up"
    assert ops[1].user == "alice"
    assert ops[1].host == "laptop"
    assert ops[1].outcome == "success"
    assert ops[1].summary == {"created": ["n1", "n2"], "duration_s": 12.5}
    assert ops[1].ended_at is not None
    assert ops[1].ended_at >= ops[1].started_at
    assert [o.id for o in store.list_operations("demo", limit=1)] == [second]
    with pytest.raises(StateError, match="no operation"):
        store.end_operation(99999, "success", {})


def test_manifest_registry(store: StateStore) -> None:
    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    digest = hashlib.sha256(body.encode()).hexdigest()
    store.record_manifest("demo", "sloth-addon-x", "v1/ConfigMap/kube-system/x", digest, body)
    store.record_manifest(
        "demo", "sloth-cni-flannel", "apps/v1/DaemonSet/kube-flannel/f", "0" * 64, "{}"
    )
    store.record_manifest("demo", "sloth-addon-x", "v1/ConfigMap/kube-system/x", digest, body)

    manifests = store.list_manifests("demo")
    assert [m.key for m in manifests] == [
        "apps/v1/DaemonSet/kube-flannel/f",
        "v1/ConfigMap/kube-system/x",
    ]
    assert manifests[1].plugin == "sloth-addon-x"
    assert manifests[1].sha256 == digest
    assert json.loads(manifests[1].body_json) == json.loads(body)
    assert store.delete_manifest("demo", "apps/v1/DaemonSet/kube-flannel/f") is True
    assert [m.key for m in store.list_manifests("demo")] == ["v1/ConfigMap/kube-system/x"]


def test_delete_cluster_removes_its_rows_but_keeps_the_audit_log(store: StateStore) -> None:
    for name in ("demo", "keep"):
        store.put_cluster(ClusterRecord(name))
        store.put_node(NodeRecord(name, "n1"))
        store.allocate_address(name, "mesh", "n1", "10.8.0.0/24")
        store.put_secret(name, "token", f"value-for-{name}")
        store.journal_record(name, "r", "mesh", "n1", "keys", "done")
        store.begin_operation(name, "up", "alice", "laptop")
        store.record_manifest(name, "p", "k", "0" * 64, "{}")
        store.audit_append(command="up", cluster=name, outcome="ok")

    assert store.delete_cluster("demo") is True
    assert store.get_cluster("demo") is None
    assert store.list_nodes("demo") == []
    assert store.list_allocations("demo", "mesh") == {}
    assert store.list_secret_names("demo") == []
    assert store.journal_entries("demo") == []
    assert store.list_operations("demo") == []
    assert store.list_manifests("demo") == []
    assert [e.cluster for e in store.audit_entries("demo")] == ["demo"]
    assert store.cluster_names() == ["keep"]
    assert store.list_nodes("keep") != []
    assert store.delete_cluster("demo") is False


def test_registered_secret_values_never_reach_logs_in_the_state(store: StateStore) -> None:
    register("tok-8f2b9c1d-sensitive")
    store.journal_record(
        "demo", "r", "distro", "n1", "join", "failed", "join with tok-8f2b9c1d-sensitive failed"
    )
    op = store.begin_operation("demo", "up --token tok-8f2b9c1d-sensitive", "alice", "laptop")
    store.end_operation(op, "failed", {"error": "bad token tok-8f2b9c1d-sensitive"})
    entry = store.audit_append(
        command="up",
        cluster="demo",
        outcome="failed",
        resources={"token": "tok-8f2b9c1d-sensitive"},
    )
    assert "tok-8f2b9c1d-sensitive" not in store.journal_entries("demo")[0].detail
    assert "tok-8f2b9c1d-sensitive" not in json.dumps(
        attrs.asdict(store.list_operations("demo")[0])
    )
    assert entry.resources == {"token": "***"}
    assert store.audit_verify() == []
