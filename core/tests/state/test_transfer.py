"""Export/import of one cluster and migration of a whole store (SQLite → PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest
from sloth_kubernetes.errors import StateError
from sloth_kubernetes.secrets import Secret
from sloth_kubernetes.state import ClusterRecord, NodeRecord, StateStore, open_store


def _populate(store: StateStore, name: str) -> None:
    store.put_cluster(ClusterRecord(name, {"name": name, "pools": [{"count": 2}]}, protect=True))
    for index in (1, 2):
        store.put_node(
            NodeRecord(
                name, f"n{index}", pool="servers", provider="local", cloud_id=f"id-{index}",
                roles=["server"], mesh_address=f"10.8.0.{index}",
                host_key=f"ssh-ed25519 KEY{index}",
                labels={"zone": "a"}, phases={"mesh": "done"}, extra={"size": "small"},
            )
        )  # fmt: skip
        store.allocate_address(name, "mesh", f"n{index}", "10.8.0.0/24")
    store.allocate_address(name, "mesh", "gone", "10.8.0.0/24")
    store.release_address(name, "mesh", "gone")  # the tombstone travels too
    store.put_secret(name, "k3s-token", f"token-of-{name}-0123456789")
    store.put_secret(name, "kubeconfig", f"kubeconfig of {name}\nclient-key-data: c2VjcmV0")
    store.journal_record(name, "run-1", "mesh", "n1", "keys", "done")
    store.journal_record(name, "run-1", "mesh", "n2", "keys", "failed", "timeout")
    op = store.begin_operation(name, "up", "alice", "laptop")
    store.end_operation(op, "success", {"nodes": 2})
    store.begin_operation(name, "scale", "bob", "ci")
    store.record_manifest(
        name,
        "sloth-cni-flannel",
        "apps/v1/DaemonSet/kube-flannel/f",
        "a" * 64,
        '{"kind":"DaemonSet"}',
    )
    store.audit_append(
        command="up", cluster=name, outcome="success", resources={"nodes": ["n1", "n2"]}
    )


def _snapshot(store: StateStore, name: str) -> dict[str, object]:
    """Everything a user can read about a cluster (ids of journal/operations excluded)."""
    return {
        "cluster": store.get_cluster(name),
        "nodes": store.list_nodes(name),
        "allocations": store.list_allocations(name, "mesh"),
        "secrets": {n: store.get_secret(name, n) for n in store.list_secret_names(name)},
        "journal": [attrs.evolve(e, id=0) for e in store.journal_entries(name)],
        "operations": [attrs.evolve(o, id=0) for o in store.list_operations(name)],
        "manifests": store.list_manifests(name),
    }


def test_export_is_json_and_keeps_secrets_encrypted(store: StateStore) -> None:
    _populate(store, "demo")
    exported = store.export_cluster("demo")
    text = json.dumps(exported)
    assert "token-of-demo-0123456789" not in text
    assert "kubeconfig of demo" not in text
    assert exported["secrets"]["key_fingerprint"] == store.key_fingerprint()
    assert {i["name"] for i in exported["secrets"]["items"]} == {"k3s-token", "kubeconfig"}
    assert exported["audit"][0]["command"] == "up"
    with pytest.raises(StateError, match="there is no cluster 'nope'"):
        store.export_cluster("nope")


def test_export_then_import_round_trip(store: StateStore) -> None:
    _populate(store, "demo")
    before = _snapshot(store, "demo")
    exported = json.loads(json.dumps(store.export_cluster("demo")))

    with pytest.raises(StateError) as caught:
        store.import_cluster(exported)
    assert "cluster 'demo' already exists" in str(caught.value)
    assert "--replace" in (caught.value.hint or "")

    store.delete_cluster("demo")
    assert store.import_cluster(exported) == "demo"
    assert _snapshot(store, "demo") == before
    # stable addresses survive: the released owner comes back to its old address
    assert store.allocate_address("demo", "mesh", "gone", "10.8.0.0/24") == "10.8.0.3"

    store.put_node(NodeRecord("demo", "n9"))
    assert store.import_cluster(exported, replace=True) == "demo"
    assert _snapshot(store, "demo") == before
    assert [e.outcome for e in store.audit_entries("demo")][-2:] == ["imported", "replaced"]
    assert store.audit_verify() == []


def test_import_with_a_different_key_is_refused(store: StateStore, tmp_path: Path) -> None:
    _populate(store, "demo")
    exported = store.export_cluster("demo")
    with open_store(f"sqlite://{tmp_path / 'other' / 'state.db'}", passphrase="other one") as other:
        other.put_secret("x", "y", "forces-a-key-now")
        with pytest.raises(StateError) as caught:
            other.import_cluster(exported)
        assert "encrypted with key" in str(caught.value)
        assert "SLOTH_STATE_PASSPHRASE" in (caught.value.hint or "")
        assert other.get_cluster("demo") is None  # nothing half-imported


def test_import_into_another_store_with_the_same_passphrase(tmp_path: Path) -> None:
    with open_store(f"sqlite://{tmp_path / 'a.db'}", passphrase="shared team phrase") as source:
        _populate(source, "demo")
        before = _snapshot(source, "demo")
        exported = source.export_cluster("demo")
    with open_store(
        f"sqlite://{tmp_path / 'b' / 'b.db'}", passphrase="shared team phrase"
    ) as target:
        target.put_secret("x", "y", "gives-b-its-own-salt")
        target.import_cluster(exported)
        assert _snapshot(target, "demo") == before


def _renamed(data: dict, path: tuple, new: str) -> dict:
    """``data`` (a deep copy) with the key at ``path`` renamed to ``new``."""
    copy = json.loads(json.dumps(data))
    *parents, key = path
    holder = copy
    for part in parents:
        holder = holder[part]
    holder[new] = holder.pop(key)
    return copy


@pytest.mark.parametrize(
    ("path", "typo", "message"),
    [
        (("secrets",), "secretz", "unknown key 'secretz' in the cluster export (did you mean "
         "'secrets'?)"),
        (("secrets", "items"), "itemz", "unknown key secrets.'itemz' in the cluster export "
         "(did you mean 'items'?)"),
        (("secrets", "items", 0, "sealed"), "seald", "unknown key secrets.items[0].'seald' in "
         "the cluster export (did you mean 'sealed'?)"),
        (("secrets", "items", 1, "name"), "nmae", "unknown key secrets.items[1].'nmae' in the "
         "cluster export (did you mean 'name'?)"),
    ],
)  # fmt: skip
def test_a_misspelled_secrets_key_is_refused_naming_it_never_skipped(
    store: StateStore, path: tuple, typo: str, message: str
) -> None:
    """A misspelled ``secrets``/``items`` used to import the cluster without its secrets
    (exit 0); a misspelled column of one secret said only ``KeyError('sealed')``. Neither the
    sealed bytes nor the secret show in the message."""
    _populate(store, "demo")
    exported = json.loads(json.dumps(store.export_cluster("demo")))
    store.delete_cluster("demo")
    with pytest.raises(StateError) as caught:
        store.import_cluster(_renamed(exported, path, typo))
    assert message in str(caught.value)
    shown = str(caught.value) + (caught.value.hint or "")
    for item in exported["secrets"]["items"]:
        assert item["sealed"] not in shown
    assert "token-of-demo" not in shown
    assert store.get_cluster("demo") is None  # nothing half-imported


def test_an_altered_secret_is_refused_even_under_the_same_key(store: StateStore) -> None:
    import base64

    _populate(store, "demo")
    exported = json.loads(json.dumps(store.export_cluster("demo")))
    store.delete_cluster("demo")
    sealed = bytearray(base64.b64decode(exported["secrets"]["items"][0]["sealed"]))
    sealed[-1] ^= 1
    exported["secrets"]["items"][0]["sealed"] = base64.b64encode(bytes(sealed)).decode()
    with pytest.raises(StateError, match="secret 'k3s-token' in the export does not decrypt"):
        store.import_cluster(exported)
    assert store.get_cluster("demo") is None


def test_import_refuses_something_that_is_no_export(store: StateStore) -> None:
    with pytest.raises(StateError, match="not a sloth-kubernetes cluster export"):
        store.import_cluster({"hello": "world"})


@pytest.mark.postgres
def test_migrate_sqlite_to_postgresql_preserves_everything(
    tmp_path: Path, postgres_database_url: str
) -> None:
    with (
        open_store(f"sqlite://{tmp_path / 'state.db'}") as source,
        open_store(postgres_database_url, passphrase="team passphrase") as target,
    ):
        for name in ("alpha", "beta"):
            _populate(source, name)
        source.put_node(NodeRecord("orphan", "n1"))  # rows without a cluster record move too
        source.force_unlock("beta", actor="admin")
        before = {name: _snapshot(source, name) for name in ("alpha", "beta", "orphan")}
        chain = source.audit_entries()

        assert source.migrate_to(target) == ["alpha", "beta", "orphan"]
        assert {name: _snapshot(target, name) for name in before} == before
        assert target.audit_entries() == chain
        assert target.audit_head() == source.audit_head()
        assert target.audit_verify() == []
        target.audit_append(command="up", cluster="alpha", outcome="ok")  # the chain goes on
        assert target.audit_verify() == []

        with pytest.raises(StateError, match="is not empty"):
            source.migrate_to(target)

    # secrets were re-encrypted with the target's key: readable with its passphrase only
    with open_store(postgres_database_url, passphrase="team passphrase") as reopened:
        assert reopened.get_secret("alpha", "k3s-token") == Secret("token-of-alpha-0123456789")


def test_migrate_refuses_while_a_cluster_is_locked(store: StateStore, tmp_path: Path) -> None:
    _populate(store, "demo")
    target = open_store(f"sqlite://{tmp_path / 'target.db'}")
    with store.lock("demo", "up"), target, pytest.raises(StateError, match="locked: demo"):
        store.migrate_to(target)
