"""The PostgreSQL backend (psycopg 3, imported only when a postgresql:// state is opened).

Write transactions start with ``pg_advisory_xact_lock(WRITE_LOCK_KEY)``: one store-wide writer at a
time, released automatically at commit, rollback or disconnect. We chose this over row locks
because the operations that need serialising are read-modify-write sequences over *sets* of rows
(the lowest free address of a pool, the head of the global audit chain, a lock row that may not
exist yet); a row lock cannot guard a row that is absent, and SERIALIZABLE would need retry loops
everywhere. Writes are a few milliseconds each, so one writer at a time costs nothing noticeable
for a team's state, and it gives both backends the same semantics.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sloth_kubernetes.errors import StateError
from sloth_kubernetes.state.db import Database, Tx

#: Arbitrary constant (ASCII "slothkub" folded into 63 bits): the advisory lock of all writes.
WRITE_LOCK_KEY = 0x736C6F74686B7562 & 0x7FFFFFFFFFFFFFFF
CONNECT_TIMEOUT_SECONDS = 10


def describe_target(url: str) -> str:
    """``host:port, database db`` for messages (no user or password)."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or 5432
    database = parts.path.lstrip("/") or "(default)"
    return f"{host}:{port}, database {database!r}"


class PostgresDatabase(Database):
    """A team's shared state in PostgreSQL."""

    dialect = "postgresql"

    def __init__(self, url: str, safe: str) -> None:
        super().__init__(safe)
        import psycopg

        self._password = urlsplit(url).password or ""
        self._target = describe_target(url)
        try:
            self._conn = psycopg.connect(
                url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
            )
        except psycopg.Error as error:
            raise StateError(
                f"cannot connect to the PostgreSQL state at {self._target}: {self._clean(error)}",
                hint="check that the server is running and reachable, that the database "
                "exists, and the user name and password in --state / SLOTH_STATE",
            ) from error
        self._transaction_ctx: Any = None

    def _clean(self, error: Exception) -> str:
        text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if self._password:
            text = text.replace(self._password, "***")
        return text

    def _begin(self, writable: bool) -> Tx:
        self._transaction_ctx = self._conn.transaction()
        self._transaction_ctx.__enter__()
        cursor = self._conn.cursor()
        tx = Tx(cursor, self.dialect, writable=writable)
        if writable:
            tx.execute("SELECT pg_advisory_xact_lock(?)", (WRITE_LOCK_KEY,))
        else:  # the server itself refuses any write in a read transaction
            tx.execute("SET TRANSACTION READ ONLY")
        return tx

    def _finish(self, commit: bool) -> None:
        ctx, self._transaction_ctx = self._transaction_ctx, None
        if ctx is None:
            return
        if commit:
            ctx.__exit__(None, None, None)
        else:
            ctx.__exit__(RuntimeError, RuntimeError("rollback"), None)

    def _translate(self, error: Exception) -> StateError | None:
        import psycopg

        if not isinstance(error, psycopg.Error):
            return None
        if isinstance(error, psycopg.OperationalError):
            return StateError(
                f"lost the connection to the PostgreSQL state at {self._target}: "
                f"{self._clean(error)}",
                hint="check the server and the network, then run the command again "
                "(interrupted runs resume where they stopped)",
            )
        return StateError(
            f"the PostgreSQL state at {self._target} refused an update: {self._clean(error)}",
            hint="run `sloth-kubernetes doctor`; check the database user's privileges",
        )

    def close(self) -> None:
        self._conn.close()
