"""Row-level SQL for clusters, nodes, journal, operations and manifests (inside a ``Tx``).

Shared by the store's methods and by export/import/migrate, so every path writes rows the same
way. Columns are always named: a later migration may add columns.
"""

from __future__ import annotations

from sloth_kubernetes.state.db import Row, Tx
from sloth_kubernetes.state.records import (
    ClusterRecord,
    JournalEntry,
    ManifestRecord,
    NodeRecord,
    OperationRecord,
)
from sloth_kubernetes.state.util import from_json, to_json

#: Tables holding one cluster's rows (audit entries deliberately excluded: they outlive it).
CLUSTER_TABLES = ("nodes", "allocations", "secrets", "journal", "operations", "manifests")
CLUSTER_COLUMNS = "name, spec, spec_hash, protect, created_at, updated_at"
NODE_COLUMNS = (
    "cluster, name, pool, provider, cloud_id, roles, public_address, private_address, "
    "mesh_address, host_key, labels, phases, extra, created_at, updated_at, ssh_port, ssh_user"
)
JOURNAL_COLUMNS = "id, cluster, run_id, phase, node, step, status, detail, ts"
OPERATION_COLUMNS = "id, cluster, command, username, host, started_at, ended_at, outcome, summary"
MANIFEST_COLUMNS = "cluster, key, plugin, sha256, body, recorded_at"


def names_with_rows(tx: Tx) -> set[str]:
    """Names of clusters that have a record or any per-cluster rows."""
    union = " UNION ".join(
        ["SELECT name FROM clusters", *(f"SELECT cluster FROM {t}" for t in CLUSTER_TABLES)]  # noqa: S608
    )
    return {str(row[0]) for row in tx.query(union)}  # table names are constants, not input


def delete_cluster_rows(tx: Tx, name: str) -> bool:
    removed = tx.execute("DELETE FROM clusters WHERE name = ?", (name,))
    for table in CLUSTER_TABLES:
        removed += tx.execute(f"DELETE FROM {table} WHERE cluster = ?", (name,))  # noqa: S608
    return removed > 0


def cluster(row: Row) -> ClusterRecord:
    name, spec, spec_hash, protect, created_at, updated_at = row
    return ClusterRecord(
        name, from_json(spec, {}), spec_hash, bool(protect), created_at, updated_at
    )


def put_cluster(tx: Tx, r: ClusterRecord) -> None:
    tx.execute(
        f"INSERT INTO clusters ({CLUSTER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) "  # noqa: S608
        "ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, "
        "spec_hash = excluded.spec_hash, protect = excluded.protect, "
        "updated_at = excluded.updated_at",
        (r.name, to_json(r.spec), r.spec_hash, int(r.protect), r.created_at, r.updated_at),
    )


def node(row: Row) -> NodeRecord:
    (cluster, name, pool, provider, cloud_id, roles, public, private, mesh, host_key, labels,
     phases, extra, created_at, updated_at, ssh_port, ssh_user) = row  # fmt: skip
    return NodeRecord(
        cluster=cluster, name=name, pool=pool, provider=provider, cloud_id=cloud_id,
        roles=from_json(roles, []), public_address=public, private_address=private,
        mesh_address=mesh, host_key=host_key, labels=from_json(labels, {}),
        phases=from_json(phases, {}), extra=from_json(extra, {}), created_at=created_at,
        updated_at=updated_at, ssh_port=int(ssh_port), ssh_user=ssh_user,
    )  # fmt: skip


def put_node(tx: Tx, n: NodeRecord) -> None:
    tx.execute(
        f"INSERT INTO nodes ({NODE_COLUMNS}) VALUES ({', '.join(['?'] * 17)}) "  # noqa: S608
        "ON CONFLICT (cluster, name) DO UPDATE SET pool = excluded.pool, "
        "provider = excluded.provider, cloud_id = excluded.cloud_id, roles = excluded.roles, "
        "public_address = excluded.public_address, "
        "private_address = excluded.private_address, mesh_address = excluded.mesh_address, "
        "host_key = excluded.host_key, labels = excluded.labels, phases = excluded.phases, "
        "extra = excluded.extra, updated_at = excluded.updated_at, "
        "ssh_port = excluded.ssh_port, ssh_user = excluded.ssh_user",
        (
            n.cluster, n.name, n.pool, n.provider, n.cloud_id, to_json(list(n.roles)),
            n.public_address, n.private_address, n.mesh_address, n.host_key,
            to_json(n.labels), to_json(n.phases), to_json(n.extra), n.created_at,
            n.updated_at, n.ssh_port, n.ssh_user,
        ),
    )  # fmt: skip


def journal_entry(row: Row) -> JournalEntry:
    return JournalEntry(int(row[0]), *row[1:])


def insert_journal(tx: Tx, e: JournalEntry) -> int:
    """Insert ``e`` (its id is ignored); return the new id."""
    new_id = tx.scalar(
        "INSERT INTO journal (cluster, run_id, phase, node, step, status, detail, ts) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (e.cluster, e.run_id, e.phase, e.node, e.step, e.status, e.detail, e.ts),
    )
    return int(new_id)


def operation(row: Row) -> OperationRecord:
    op_id, cluster, command, user, host, started, ended, outcome, summary = row
    return OperationRecord(
        int(op_id), cluster, command, user, host, started, ended, outcome, from_json(summary, {})
    )


def insert_operation(tx: Tx, o: OperationRecord) -> int:
    """Insert ``o`` (its id is ignored); return the new id."""
    new_id = tx.scalar(
        "INSERT INTO operations (cluster, command, username, host, started_at, ended_at, "
        "outcome, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (o.cluster, o.command, o.user, o.host, o.started_at, o.ended_at, o.outcome,
         to_json(o.summary)),
    )  # fmt: skip
    return int(new_id)


def manifest(row: Row) -> ManifestRecord:
    return ManifestRecord(*row)


def put_manifest(tx: Tx, m: ManifestRecord) -> None:
    tx.execute(
        f"INSERT INTO manifests ({MANIFEST_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) "  # noqa: S608
        "ON CONFLICT (cluster, key) DO UPDATE SET plugin = excluded.plugin, "
        "sha256 = excluded.sha256, body = excluded.body, recorded_at = excluded.recorded_at",
        (m.cluster, m.key, m.plugin, m.sha256, m.body_json, m.recorded_at),
    )
