"""A thin transaction layer over SQLite and PostgreSQL, so the store's SQL is written once.

SQL uses ``?`` placeholders (translated for psycopg) and must contain no literal ``?`` or ``%``.
Writes are serialised: SQLite takes the database write lock up front (``BEGIN IMMEDIATE``, waiting
up to the busy timeout), PostgreSQL takes one transaction-scoped advisory lock. Every write
therefore sees the latest committed data, which is what makes read-modify-write sequences (address
allocation, the audit chain, the cluster lock) safe across processes without retry loops.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import Any

from sloth_kubernetes.errors import StateError

Row = tuple[Any, ...]
BUSY_TIMEOUT_SECONDS = 30.0


class Tx:
    """One open transaction. Obtain it from :meth:`Database.write` or :meth:`Database.read`."""

    def __init__(self, cursor: Any, dialect: str, *, writable: bool) -> None:
        self._cursor = cursor
        self.dialect = dialect
        self.writable = writable

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgresql" else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; return the number of rows it changed."""
        self._cursor.execute(self._sql(sql), tuple(params))
        return int(self._cursor.rowcount)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self._cursor.execute(self._sql(sql), tuple(params))
        return [tuple(row) for row in self._cursor.fetchall()]

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.one(sql, params)
        return None if row is None else row[0]

    def get_meta(self, key: str) -> str | None:
        value = self.scalar("SELECT value FROM meta WHERE key = ?", (key,))
        return None if value is None else str(value)

    def set_meta(self, key: str, value: str) -> None:
        self.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


class Database:
    """A connection plus serialised write transactions. Not shared between processes."""

    dialect = ""

    def __init__(self, safe: str) -> None:
        self.safe = safe
        self.readonly = False  # set by open_store for read-only commands: write() is refused
        self._mutex = threading.RLock()
        self._current: Tx | None = None

    def _begin(self, writable: bool) -> Tx:
        raise NotImplementedError

    def _finish(self, commit: bool) -> None:
        raise NotImplementedError

    def _translate(self, error: Exception) -> StateError | None:
        """Turn a driver error into a StateError, or None when it is not a database error."""
        raise NotImplementedError

    @contextmanager
    def _transaction(self, writable: bool) -> Iterator[Tx]:
        with self._mutex:
            if self._current is not None:  # nested use joins the outer transaction
                if writable and not self._current.writable:
                    raise RuntimeError("a write transaction cannot be nested in a read one")
                yield self._current
                return
            try:
                tx = self._begin(writable)
            except Exception as error:
                raise (self._translate(error) or error) from error
            self._current = tx
            try:
                yield tx
            except BaseException as error:
                self._current = None
                with suppress(Exception):  # the original error is the one worth reporting
                    self._finish(commit=False)
                translated = self._translate(error) if isinstance(error, Exception) else None
                if translated is not None:
                    raise translated from error
                raise
            self._current = None
            try:
                self._finish(commit=True)
            except Exception as error:
                with suppress(Exception):  # a failed COMMIT can leave the transaction open
                    self._finish(commit=False)
                raise (self._translate(error) or error) from error

    def write(self) -> AbstractContextManager[Tx]:
        """A write transaction (context manager yielding :class:`Tx`), serialised store-wide."""
        if self.readonly:  # a read-only command reached code that writes: our bug, never data
            raise RuntimeError(f"a write to {self.safe}, which was opened read-only")
        return self._transaction(writable=True)

    def read(self) -> AbstractContextManager[Tx]:
        """A read-only transaction (context manager yielding :class:`Tx`)."""
        return self._transaction(writable=False)

    def close(self) -> None:
        raise NotImplementedError


def _create_private_file(path: Path) -> None:
    """Create ``path`` (and missing parents, 0700) as an empty 0600 file unless it exists."""
    parent = path.parent
    if not parent.exists():
        try:
            parent.mkdir(mode=0o700, parents=True)
        except FileExistsError:  # another process made it just now
            pass
        else:
            parent.chmod(0o700)  # mkdir's mode is filtered by the umask
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


class SQLiteDatabase(Database):
    """The embedded backend: one file, write transactions via ``BEGIN IMMEDIATE``."""

    dialect = "sqlite"

    def __init__(
        self, path: Path, *, busy_timeout: float = BUSY_TIMEOUT_SECONDS, readonly: bool = False
    ) -> None:
        super().__init__(f"sqlite://{path}")
        self.path = path
        if readonly and not path.is_file():
            raise StateError(
                f"there is no state at {path}",
                hint="check --state / SLOTH_STATE (`sloth-kubernetes up` creates the state; "
                "read-only commands never do)",
            )
        try:
            if readonly:  # SQLite itself refuses any write through this connection
                target: str | Path = f"{path.as_uri()}?mode=ro"
                self.readonly = True
            else:
                _create_private_file(path)
                target = path
            self._conn = sqlite3.connect(
                target,
                isolation_level=None,
                timeout=busy_timeout,
                check_same_thread=False,
                uri=readonly,
            )
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        except (OSError, sqlite3.Error) as error:
            raise StateError(
                f"cannot open the state database {path}: {error}",
                hint="check that the directory exists and is writable, or choose another "
                "location with --state / SLOTH_STATE",
            ) from error

    def _begin(self, writable: bool) -> Tx:
        cursor = self._conn.cursor()
        cursor.execute("BEGIN IMMEDIATE" if writable else "BEGIN")
        return Tx(cursor, self.dialect, writable=writable)

    def _finish(self, commit: bool) -> None:
        self._conn.execute("COMMIT" if commit else "ROLLBACK")

    def _translate(self, error: Exception) -> StateError | None:
        if not isinstance(error, sqlite3.Error):
            return None
        text = str(error)
        if "locked" in text or "busy" in text:
            return StateError(
                f"the state database {self.path} stayed busy for {BUSY_TIMEOUT_SECONDS:.0f} s",
                hint="another sloth-kubernetes process is writing to it; retry when it finishes",
            )
        if isinstance(error, sqlite3.DatabaseError) and "not a database" in text:
            return StateError(
                f"{self.path} is not a sloth-kubernetes state database (SQLite: {text})",
                hint="point --state / SLOTH_STATE at the right file",
            )
        return StateError(
            f"the state database {self.path} failed: {text}",
            hint="run `sloth-kubernetes doctor`; restore the file from a backup if it is corrupt",
        )

    def close(self) -> None:
        self._conn.close()
