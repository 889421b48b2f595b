"""The state store: what sloth-kubernetes knows about the clusters it manages.

``open_store()`` picks the backend from the URL (``--state`` / ``SLOTH_STATE``; default: a SQLite
file in the user data directory) and returns a :class:`StateStore`. See docs/state.md.
"""

from __future__ import annotations

from pathlib import Path

from sloth_kubernetes.state.db import Database
from sloth_kubernetes.state.keys import ENV_PASSPHRASE
from sloth_kubernetes.state.location import ENV_STATE, Location, parse_location
from sloth_kubernetes.state.locking import LockHandle
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
from sloth_kubernetes.state.store import StateStore

__all__ = [
    "ENV_PASSPHRASE",
    "ENV_STATE",
    "JOURNAL_STATUSES",
    "AuditEntry",
    "ClusterRecord",
    "JournalEntry",
    "Location",
    "LockHandle",
    "LockInfo",
    "ManifestRecord",
    "NodeRecord",
    "OperationRecord",
    "StateStore",
    "open_store",
]


def open_store(
    url: str | None = None, *, passphrase: str | None = None, readonly: bool = False
) -> StateStore:
    """Open (creating and migrating as needed) the state store at ``url``.

    ``url``: ``sqlite:///abs/path.db``, a plain file path, or ``postgresql://…`` /
    ``postgres://…``; None means ``$SLOTH_STATE`` or the default SQLite file.
    ``passphrase`` overrides ``$SLOTH_STATE_PASSPHRASE`` for this store's secrets.
    ``readonly``: for commands that only read — a store that does not exist, is empty or has an
    older schema is an error naming it (nothing is created), and no write is possible.
    Raises StateError (with a hint) for an unknown form, an unreachable server, or a schema
    newer than this version.
    """
    location = parse_location(url)
    db: Database
    if location.backend == "postgresql":
        from sloth_kubernetes.state.pg import PostgresDatabase

        db = PostgresDatabase(location.target, location.safe)
        db.readonly = readonly
    else:
        from sloth_kubernetes.state.db import SQLiteDatabase

        db = SQLiteDatabase(Path(location.target), readonly=readonly)
    try:
        return StateStore(db, location, passphrase=passphrase)
    except BaseException:
        db.close()
        raise
