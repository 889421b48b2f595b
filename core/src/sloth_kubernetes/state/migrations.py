"""Numbered schema migrations, SQL per dialect, applied on open in one transaction.

Add a migration by appending to :data:`MIGRATIONS` with the next version number; never edit a
released one. ``meta.schema_version`` records the version a database is at; a database newer than
this code is refused rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from sloth_kubernetes.errors import StateError
from sloth_kubernetes.state.db import Database

_TYPES = {
    "sqlite": {"id": "INTEGER PRIMARY KEY AUTOINCREMENT", "blob": "BLOB"},
    "postgresql": {"id": "BIGSERIAL PRIMARY KEY", "blob": "BYTEA"},
}


@attrs.frozen
class Migration:
    """One schema step: the statements for each dialect, run in order."""

    version: int
    description: str
    sqlite: tuple[str, ...]
    postgresql: tuple[str, ...]

    def statements(self, dialect: str) -> tuple[str, ...]:
        return self.sqlite if dialect == "sqlite" else self.postgresql


def _per_dialect(version: int, description: str, templates: Sequence[str]) -> Migration:
    """A migration whose SQL differs only in column types (``{id}``, ``{blob}``)."""
    return Migration(
        version,
        description,
        tuple(t.format(**_TYPES["sqlite"]) for t in templates),
        tuple(t.format(**_TYPES["postgresql"]) for t in templates),
    )


_V1 = (
    """CREATE TABLE clusters (
        name TEXT PRIMARY KEY, spec TEXT NOT NULL, spec_hash TEXT NOT NULL,
        protect INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
    """CREATE TABLE nodes (
        cluster TEXT NOT NULL, name TEXT NOT NULL, pool TEXT NOT NULL, provider TEXT NOT NULL,
        cloud_id TEXT, roles TEXT NOT NULL, public_address TEXT, private_address TEXT,
        mesh_address TEXT, host_key TEXT, labels TEXT NOT NULL, phases TEXT NOT NULL,
        extra TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
        PRIMARY KEY (cluster, name))""",
    """CREATE TABLE allocations (
        cluster TEXT NOT NULL, pool TEXT NOT NULL, owner TEXT NOT NULL, address TEXT NOT NULL,
        allocated_at TEXT NOT NULL, released_at TEXT, PRIMARY KEY (cluster, pool, owner))""",
    """CREATE UNIQUE INDEX allocations_active_address
        ON allocations (cluster, pool, address) WHERE released_at IS NULL""",
    """CREATE TABLE secrets (
        cluster TEXT NOT NULL, name TEXT NOT NULL, sealed {blob} NOT NULL,
        updated_at TEXT NOT NULL, PRIMARY KEY (cluster, name))""",
    """CREATE TABLE journal (
        id {id}, cluster TEXT NOT NULL, run_id TEXT NOT NULL, phase TEXT NOT NULL,
        node TEXT NOT NULL, step TEXT NOT NULL, status TEXT NOT NULL, detail TEXT NOT NULL,
        ts TEXT NOT NULL)""",
    "CREATE INDEX journal_cluster ON journal (cluster, id)",
    """CREATE TABLE operations (
        id {id}, cluster TEXT NOT NULL, command TEXT NOT NULL, username TEXT NOT NULL,
        host TEXT NOT NULL, started_at TEXT NOT NULL, ended_at TEXT, outcome TEXT,
        summary TEXT NOT NULL)""",
    "CREATE INDEX operations_cluster ON operations (cluster, id)",
    """CREATE TABLE manifests (
        cluster TEXT NOT NULL, key TEXT NOT NULL, plugin TEXT NOT NULL, sha256 TEXT NOT NULL,
        body TEXT NOT NULL, recorded_at TEXT NOT NULL, PRIMARY KEY (cluster, key))""",
    """CREATE TABLE audit (
        seq BIGINT PRIMARY KEY, ts TEXT NOT NULL, actor TEXT NOT NULL, host TEXT NOT NULL,
        command TEXT NOT NULL, cluster TEXT NOT NULL, outcome TEXT NOT NULL,
        resources TEXT NOT NULL, hash TEXT NOT NULL)""",
    """CREATE TABLE locks (
        cluster TEXT PRIMARY KEY, username TEXT NOT NULL, host TEXT NOT NULL,
        pid BIGINT NOT NULL, process_key TEXT NOT NULL, command TEXT NOT NULL,
        since TEXT NOT NULL, token TEXT NOT NULL)""",
)

_V2 = (
    "ALTER TABLE nodes ADD COLUMN ssh_port INTEGER NOT NULL DEFAULT 22",
    "ALTER TABLE nodes ADD COLUMN ssh_user TEXT NOT NULL DEFAULT 'root'",
)

MIGRATIONS: tuple[Migration, ...] = (
    _per_dialect(1, "initial schema", _V1),
    _per_dialect(2, "nodes: how the operator reaches them (ssh_port, ssh_user)", _V2),
)


def latest_version(migrations: Sequence[Migration] = MIGRATIONS) -> int:
    return migrations[-1].version if migrations else 0


def check_schema(db: Database, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """The schema version of ``db`` read without writing: StateError unless it is current
    (a read-only command neither creates nor upgrades a store)."""
    known = latest_version(migrations)
    with db.read() as tx:
        has_meta = tx.query(_META_EXISTS[db.dialect])
        current = int(tx.get_meta("schema_version") or 0) if has_meta else 0
    if current == 0:
        raise StateError(
            f"{db.safe} holds no sloth-kubernetes state (it is empty or another database)",
            hint="check --state / SLOTH_STATE (`sloth-kubernetes up` creates the state)",
        )
    if current < known:
        raise StateError(
            f"the state at {db.safe} has schema v{current}; this version reads v{known}",
            hint="run any changing command once (e.g. `sloth-kubernetes up`, `state unlock "
            "NAME`) to upgrade it; read-only commands never write",
        )
    _refuse_newer(db, current, known)
    return current


_META_EXISTS = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
    "postgresql": "SELECT to_regclass('meta')::text WHERE to_regclass('meta') IS NOT NULL",
}


def _refuse_newer(db: Database, current: int, known: int) -> None:
    if current > known:
        raise StateError(
            f"state schema v{current} is newer than this sloth-kubernetes "
            f"(knows up to v{known}) at {db.safe}",
            hint="upgrade sloth-kubernetes (pip install -U sloth-kubernetes) before using "
            "this state; it was written by a newer version",
        )


def apply_migrations(db: Database, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Bring ``db`` to the newest schema in one transaction; return the resulting version.

    Raises StateError if the database is newer than ``migrations`` know. A failing migration
    rolls back every step of this call, so the database stays at its previous version.
    """
    known = latest_version(migrations)
    with db.write() as tx:
        tx.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        current = int(tx.get_meta("schema_version") or 0)
        _refuse_newer(db, current, known)
        for migration in migrations:
            if migration.version <= current:
                continue
            for statement in migration.statements(db.dialect):
                tx.execute(statement)
            tx.set_meta("schema_version", str(migration.version))
            current = migration.version
    return current
