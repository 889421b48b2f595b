"""The state store: one interface over the SQLite and PostgreSQL backends.

Open it with :func:`sloth_kubernetes.state.open_store`. Every method runs in its own transaction
(writes serialised store-wide, see ``db.py``), so no write is ever half-applied. A store object is
safe to share between threads of one process; each process opens its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any

import attrs

from sloth_kubernetes.errors import StateError
from sloth_kubernetes.secrets import Secret, redact, register
from sloth_kubernetes.state import audit, ipam, locking, rows
from sloth_kubernetes.state.db import Database, Tx
from sloth_kubernetes.state.keys import Keyring, associated_data, seal, unseal
from sloth_kubernetes.state.location import Location
from sloth_kubernetes.state.migrations import apply_migrations, check_schema
from sloth_kubernetes.state.records import (
    JOURNAL_STATUSES,
    AuditEntry,
    ClusterRecord,
    JournalEntry,
    LockInfo,
    ManifestRecord,
    NodeRecord,
    OperationRecord,
)
from sloth_kubernetes.state.util import (
    canonical_json,
    from_json,
    redact_tree,
    sha256_hex,
    to_json,
    utc_now,
)


class StateStore:
    """Clusters, nodes, address allocations, encrypted secrets, the phase journal, operations,
    manifests, the audit log and cluster locks, in SQLite or PostgreSQL."""

    def __init__(self, db: Database, location: Location, *, passphrase: str | None = None) -> None:
        self._db = db
        self.location = location
        from pathlib import Path

        key_file = Path(location.target).with_name("state.key") if db.dialect == "sqlite" else None
        self.keyring = Keyring(db, key_file, passphrase)
        self.schema_version = check_schema(db) if db.readonly else apply_migrations(db)
        self.identity = locking.current_identity()

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._db.dialect

    def describe(self) -> str:
        """The store's URL with any password masked (for ``doctor`` and messages)."""
        return self.location.safe

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.close()

    def write(self) -> AbstractContextManager[Tx]:
        """A write transaction (context manager yielding ``Tx``) for composite updates."""
        return self._db.write()

    def read(self) -> AbstractContextManager[Tx]:
        """A read transaction (context manager yielding ``Tx``)."""
        return self._db.read()

    # -- clusters ------------------------------------------------------------------------------

    def list_clusters(self) -> list[ClusterRecord]:
        with self._db.read() as tx:
            found = tx.query(f"SELECT {rows.CLUSTER_COLUMNS} FROM clusters ORDER BY name")  # noqa: S608
        return [rows.cluster(row) for row in found]

    def get_cluster(self, name: str) -> ClusterRecord | None:
        with self._db.read() as tx:
            row = tx.one(
                f"SELECT {rows.CLUSTER_COLUMNS} FROM clusters WHERE name = ?",  # noqa: S608
                (name,),
            )
        return None if row is None else rows.cluster(row)

    def put_cluster(self, record: ClusterRecord) -> ClusterRecord:
        """Insert or replace a cluster; keeps ``created_at``, computes ``spec_hash`` if empty."""
        spec_hash = record.spec_hash or sha256_hex(canonical_json(record.spec))
        now = utc_now()
        with self._db.write() as tx:
            created = tx.scalar("SELECT created_at FROM clusters WHERE name = ?", (record.name,))
            stored = attrs.evolve(
                record,
                spec=redact_tree(record.spec),
                spec_hash=spec_hash,
                created_at=created or record.created_at or now,
                updated_at=now,
            )
            rows.put_cluster(tx, stored)
        return stored

    def delete_cluster(self, name: str) -> bool:
        """Remove the cluster and all its rows (audit entries stay). True if anything existed."""
        with self._db.write() as tx:
            return rows.delete_cluster_rows(tx, name)

    def cluster_names(self) -> list[str]:
        """Every cluster name with any rows (a superset of ``list_clusters`` names)."""
        with self._db.read() as tx:
            return sorted(rows.names_with_rows(tx))

    # -- nodes ---------------------------------------------------------------------------------

    def put_node(self, record: NodeRecord) -> NodeRecord:
        """Insert or replace a node; keeps ``created_at``. ``extra`` is stored redacted."""
        now = utc_now()
        with self._db.write() as tx:
            created = tx.scalar(
                "SELECT created_at FROM nodes WHERE cluster = ? AND name = ?",
                (record.cluster, record.name),
            )
            stored = attrs.evolve(
                record,
                roles=list(record.roles),
                extra=redact_tree(record.extra),
                created_at=created or record.created_at or now,
                updated_at=now,
            )
            rows.put_node(tx, stored)
        return stored

    def get_node(self, cluster: str, name: str) -> NodeRecord | None:
        with self._db.read() as tx:
            row = tx.one(
                f"SELECT {rows.NODE_COLUMNS} FROM nodes WHERE cluster = ? AND name = ?",  # noqa: S608
                (cluster, name),
            )
        return None if row is None else rows.node(row)

    def list_nodes(self, cluster: str) -> list[NodeRecord]:
        with self._db.read() as tx:
            found = tx.query(
                f"SELECT {rows.NODE_COLUMNS} FROM nodes WHERE cluster = ? ORDER BY name",  # noqa: S608
                (cluster,),
            )
        return [rows.node(row) for row in found]

    def delete_node(self, cluster: str, name: str) -> bool:
        with self._db.write() as tx:
            return (
                tx.execute("DELETE FROM nodes WHERE cluster = ? AND name = ?", (cluster, name)) > 0
            )

    def set_node_phase(self, cluster: str, name: str, phase: str, status: str) -> None:
        """Set one entry of a node's ``phases`` atomically (other phases untouched)."""
        with self._db.write() as tx:
            phases = tx.scalar(
                "SELECT phases FROM nodes WHERE cluster = ? AND name = ?", (cluster, name)
            )
            if phases is None:
                raise StateError(
                    f"cluster {cluster!r} has no node {name!r} in the state",
                    hint="record the node (put_node) before its phase status",
                )
            updated = {**from_json(phases, {}), phase: status}
            tx.execute(
                "UPDATE nodes SET phases = ?, updated_at = ? WHERE cluster = ? AND name = ?",
                (to_json(updated), utc_now(), cluster, name),
            )

    # -- address allocations -------------------------------------------------------------------

    def allocate_address(self, cluster: str, pool: str, owner: str, cidr: str) -> str:
        """The owner's address in ``cidr`` (allocating one the first time); StateError if full."""
        with self._db.write() as tx:
            return ipam.allocate(tx, cluster, pool, owner, cidr)

    def release_address(self, cluster: str, pool: str, owner: str) -> bool:
        """Free the owner's address; True if it had one."""
        with self._db.write() as tx:
            return ipam.release(tx, cluster, pool, owner)

    def list_allocations(self, cluster: str, pool: str) -> dict[str, str]:
        """Current allocations of a pool: ``{owner: address}``."""
        with self._db.read() as tx:
            return ipam.allocations(tx, cluster, pool)

    # -- secrets -------------------------------------------------------------------------------

    def put_secret(self, cluster: str, name: str, value: str | Secret) -> None:
        """Store ``value`` encrypted (AES-256-GCM, bound to ``cluster``/``name``)."""
        plaintext = value.reveal() if isinstance(value, Secret) else value
        register(plaintext)
        with self._db.write() as tx:
            key = self.keyring.key_in(tx)
            sealed = seal(key, plaintext.encode("utf-8"), associated_data(cluster, name))
            tx.execute(
                "INSERT INTO secrets (cluster, name, sealed, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (cluster, name) DO UPDATE SET sealed = excluded.sealed, "
                "updated_at = excluded.updated_at",
                (cluster, name, sealed, utc_now()),
            )

    def get_secret(self, cluster: str, name: str) -> Secret | None:
        """The decrypted secret, or None if there is none by that name."""
        with self._db.read() as tx:
            sealed = tx.scalar(
                "SELECT sealed FROM secrets WHERE cluster = ? AND name = ?", (cluster, name)
            )
            current = self.keyring.cached(tx.get_meta("key_fingerprint"))
        if sealed is None:
            return None
        key = current or self.keyring.key()
        return Secret(
            self._unseal(key, cluster, name, bytes(sealed)), source=f"state:{cluster}/{name}"
        )

    def _unseal(self, key: bytes, cluster: str, name: str, sealed: bytes) -> str:
        plaintext = unseal(key, sealed, associated_data(cluster, name))
        if plaintext is None:
            raise StateError(
                f"secret {name!r} of cluster {cluster!r} does not decrypt: it was altered or "
                "copied from another row",
                hint="restore the state from a backup, or store the secret again",
            )
        return plaintext.decode("utf-8")

    def delete_secret(self, cluster: str, name: str) -> bool:
        with self._db.write() as tx:
            return (
                tx.execute("DELETE FROM secrets WHERE cluster = ? AND name = ?", (cluster, name))
                > 0
            )

    def list_secret_names(self, cluster: str) -> list[str]:
        with self._db.read() as tx:
            found = tx.query("SELECT name FROM secrets WHERE cluster = ? ORDER BY name", (cluster,))
        return [str(row[0]) for row in found]

    def check_key(self) -> None:
        """StateError (wrong or unset passphrase, missing key file…) unless the current key opens
        the stored secrets; nothing to check while there are none."""
        with self._db.read() as tx:
            count = int(tx.scalar("SELECT COUNT(*) FROM secrets") or 0)
        if count:
            self.keyring.key()

    def count_secrets(self, cluster: str) -> int:
        with self._db.read() as tx:
            return int(tx.scalar("SELECT COUNT(*) FROM secrets WHERE cluster = ?", (cluster,)) or 0)

    def key_fingerprint(self) -> str | None:
        """The fingerprint of the key secrets are encrypted with (None before the first one)."""
        with self._db.read() as tx:
            return self.keyring.fingerprint(tx)

    def rekey(self, new_passphrase: str | None) -> None:
        """Re-encrypt every secret in one transaction: with a key derived from
        ``new_passphrase``, or (None, SQLite only) with a freshly generated key file."""
        from sloth_kubernetes.state import rekeying

        rekeying.rekey(self, self._db, new_passphrase)

    # -- phase journal -------------------------------------------------------------------------

    def journal_record(
        self, cluster: str, run_id: str, phase: str, node: str | None, step: str, status: str,
        detail: str = "",
    ) -> JournalEntry:  # fmt: skip
        """Record one step's status (``started``/``done``/``failed``/``skipped``)."""
        return self.journal_records(cluster, run_id, [(phase, node, step, status, detail)])[0]

    def journal_records(
        self, cluster: str, run_id: str, steps: Sequence[tuple[str, str | None, str, str, str]]
    ) -> list[JournalEntry]:
        """Record many ``(phase, node, step, status, detail)`` in one transaction (the same step
        on every node of a phase: one write, not one per node)."""
        entries = []
        for phase, node, step, status, detail in steps:
            if status not in JOURNAL_STATUSES:
                raise ValueError(
                    f"journal status must be one of {JOURNAL_STATUSES}, not {status!r}"
                )
            entries.append(
                JournalEntry(
                    0, cluster, run_id, phase, node or "", step, status, redact(detail), utc_now()
                )
            )
        with self._db.write() as tx:
            return [attrs.evolve(entry, id=rows.insert_journal(tx, entry)) for entry in entries]

    def journal_entries(self, cluster: str, run_id: str | None = None) -> list[JournalEntry]:
        """Entries oldest first, of one run or of every run."""
        sql = f"SELECT {rows.JOURNAL_COLUMNS} FROM journal WHERE cluster = ?"  # noqa: S608
        sql += " AND run_id = ?" if run_id is not None else ""
        params = (cluster,) if run_id is None else (cluster, run_id)
        with self._db.read() as tx:
            found = tx.query(sql + " ORDER BY id", params)
        return [rows.journal_entry(row) for row in found]

    def completed_steps(self, cluster: str, run_id: str | None = None) -> set[tuple[str, str, str]]:
        """``(phase, node, step)`` of every step whose latest status is ``done``."""
        latest: dict[tuple[str, str, str], str] = {}
        for entry in self.journal_entries(cluster, run_id):
            latest[(entry.phase, entry.node, entry.step)] = entry.status
        return {step for step, status in latest.items() if status == "done"}

    # -- operations history --------------------------------------------------------------------

    def begin_operation(self, cluster: str, command: str, user: str, host: str) -> int:
        """Record the start of a mutating command; returns its id for :meth:`end_operation`."""
        record = OperationRecord(0, cluster, redact(command), user, host, utc_now())
        with self._db.write() as tx:
            return rows.insert_operation(tx, record)

    def end_operation(self, op_id: int, outcome: str, summary: dict[str, Any]) -> None:
        with self._db.write() as tx:
            changed = tx.execute(
                "UPDATE operations SET ended_at = ?, outcome = ?, summary = ? WHERE id = ?",
                (utc_now(), outcome, to_json(redact_tree(summary)), op_id),
            )
        if not changed:
            raise StateError(
                f"no operation #{op_id} in the state",
                hint="pass the id that begin_operation returned",
            )

    def list_operations(self, cluster: str, limit: int | None = None) -> list[OperationRecord]:
        """Operations newest first (at most ``limit``)."""
        sql = f"SELECT {rows.OPERATION_COLUMNS} FROM operations WHERE cluster = ? ORDER BY id DESC"  # noqa: S608
        params: tuple[Any, ...] = (cluster,)
        if limit is not None:
            sql += " LIMIT ?"
            params += (int(limit),)
        with self._db.read() as tx:
            return [rows.operation(row) for row in tx.query(sql, params)]

    # -- manifest registry ---------------------------------------------------------------------

    def record_manifest(
        self, cluster: str, plugin: str, key: str, sha256: str, body_json: str
    ) -> ManifestRecord:
        """Insert or replace the manifest ``key``; the body is stored redacted."""
        record = ManifestRecord(cluster, key, plugin, sha256, redact(body_json), utc_now())
        with self._db.write() as tx:
            rows.put_manifest(tx, record)
        return record

    def list_manifests(self, cluster: str) -> list[ManifestRecord]:
        with self._db.read() as tx:
            found = tx.query(
                f"SELECT {rows.MANIFEST_COLUMNS} FROM manifests WHERE cluster = ? ORDER BY key",  # noqa: S608
                (cluster,),
            )
        return [rows.manifest(row) for row in found]

    def delete_manifest(self, cluster: str, key: str) -> bool:
        with self._db.write() as tx:
            return (
                tx.execute("DELETE FROM manifests WHERE cluster = ? AND key = ?", (cluster, key))
                > 0
            )

    # -- audit log -----------------------------------------------------------------------------

    def audit_append(
        self, *, command: str, cluster: str, outcome: str,
        resources: dict[str, Any] | None = None, actor: str | None = None,
        host: str | None = None,
    ) -> AuditEntry:  # fmt: skip
        """Append an entry (strings redacted); ``actor``/``host`` default to this process's."""
        with self._db.write() as tx:
            return audit.append(
                tx,
                actor=actor or self.identity.user,
                host=host or self.identity.host,
                command=command,
                cluster=cluster,
                outcome=outcome,
                resources=resources,
            )

    def audit_entries(self, cluster: str | None = None) -> list[AuditEntry]:
        with self._db.read() as tx:
            return audit.entries(tx, cluster)

    def audit_verify(self) -> list[str]:
        """Problems found in the audit chain; an empty list means it is intact."""
        with self._db.read() as tx:
            return audit.verify(tx)

    def audit_head(self) -> tuple[str, int]:
        """``(head hash, entry count)``: record it elsewhere to detect a rebuilt chain."""
        with self._db.read() as tx:
            return audit.head(tx)

    # -- locking -------------------------------------------------------------------------------

    def lock(self, cluster: str, command: str) -> locking.LockHandle:
        """Take the cluster's lock now (LockedError if held); use the handle as a context
        manager. A stale lock (holder pid gone, same host) is taken over with a warning."""
        me = self.identity
        with self._db.write() as tx:
            token, took_over = locking.acquire(tx, cluster, command, me)
            holder = locking.lock_info(tx, cluster)
            if took_over is not None:
                audit.append(
                    tx, actor=me.user, host=me.host, command=f"lock takeover ({command})",
                    cluster=cluster, outcome="stale-lock-taken-over",
                    resources={"previous_holder": took_over.describe()},
                )  # fmt: skip
        assert holder is not None

        def release() -> bool:
            with self._db.write() as tx:
                return locking.release(tx, cluster, token)

        return locking.LockHandle(cluster, command, holder, took_over, release)

    def lock_info(self, cluster: str) -> LockInfo | None:
        with self._db.read() as tx:
            return locking.lock_info(tx, cluster)

    def force_unlock(self, cluster: str, actor: str) -> LockInfo | None:
        """Remove the cluster's lock whoever holds it, with an audit entry; returns the holder."""
        with self._db.write() as tx:
            held = locking.lock_info(tx, cluster)
            tx.execute("DELETE FROM locks WHERE cluster = ?", (cluster,))
            audit.append(
                tx, actor=actor, host=self.identity.host, command="state unlock --force",
                cluster=cluster, outcome="unlocked" if held else "not-locked",
                resources={"holder": held.describe() if held else None},
            )  # fmt: skip
        return held

    # -- export / import / migrate -------------------------------------------------------------

    def export_cluster(self, name: str) -> dict[str, Any]:
        """Everything about one cluster as JSON-able data; secrets stay encrypted."""
        from sloth_kubernetes.state import transfer

        return transfer.export_cluster(self, name)

    def import_cluster(self, data: dict[str, Any], *, replace: bool = False) -> str:
        """Load an export; refuses an existing cluster unless ``replace``. Returns its name."""
        from sloth_kubernetes.state import transfer

        return transfer.import_cluster(self, data, replace=replace)

    def migrate_to(self, other: StateStore) -> list[str]:
        """Copy every cluster and the whole audit log into an empty store; returns the names."""
        from sloth_kubernetes.state import transfer

        return transfer.migrate(self, other)
