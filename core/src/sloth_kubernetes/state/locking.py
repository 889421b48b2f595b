"""Per-cluster locks that guard mutating commands, correct across processes and hosts.

A lock is a row (holder user, host, pid, process key, command, since, token) written in a
serialised write transaction, so of two processes that try at once exactly one inserts it. A lock
whose holder pid is gone *on this same host* is stale and taken over (with a warning); a lock held
from another host cannot be checked from here and is refused until ``force_unlock``.

"Same host" is decided by the host name *and*, on Linux, the boot id and pid namespace: two
containers sharing a host name (``--network host``) cannot see each other's processes, and a
machine with the same name may be another machine, so neither may declare the other's lock stale.
(A lock left from before a reboot therefore needs ``state unlock --force`` too.)
"""

from __future__ import annotations

import getpass
import logging
import os
import secrets
import socket
from collections.abc import Callable
from types import TracebackType

import attrs

from sloth_kubernetes.errors import LockedError
from sloth_kubernetes.state.db import Row, Tx
from sloth_kubernetes.state.records import LockInfo
from sloth_kubernetes.state.util import utc_now

log = logging.getLogger("sloth_kubernetes.state")
_COLUMNS = "cluster, username, host, pid, command, since, process_key"


@attrs.frozen
class Identity:
    """Who is acting: the login user, this host's name, this process."""

    user: str
    host: str
    pid: int
    process_key: str


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return str(os.getuid())


def current_identity() -> Identity:
    pid = os.getpid()
    return Identity(current_user(), socket.gethostname(), pid, process_key(pid))


def machine_scope() -> str:
    """``boot id:pid namespace`` of this process ("" without /proc)."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            boot = handle.read().strip()
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return ""
    return f"{boot}:{namespace}"


def process_key(pid: int) -> str:
    """``boot id:pid namespace:start time`` of ``pid`` (Linux), or "" when unknown."""
    scope, start = machine_scope(), process_start_time(pid)
    return f"{scope}:{start}" if scope and start else ""


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses; fields after it do not.
    return text[text.rfind(")") + 2 :].split()


def process_start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), or "" when unknown."""
    fields = _stat_fields(pid)
    return fields[19] if fields and len(fields) > 19 else ""


def process_is_gone(pid: int, start_time: str) -> bool:
    """True when ``pid`` no longer runs the process started at ``start_time`` (this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # exists, owned by someone else
    fields = _stat_fields(pid)
    if fields is None:
        return False  # no /proc: trust kill(0)
    if fields[0] == "Z":  # a zombie has exited; only its exit status remains
        return True
    return bool(start_time) and len(fields) > 19 and fields[19] != start_time


def holder_is_gone(held: LockInfo, me: Identity) -> bool:
    """True only when we can be sure the holder no longer runs: same host name, same boot and pid
    namespace (when known), and its pid gone or recycled."""
    if held.host != me.host:
        return False
    held_scope, _, held_start = held.process_key.rpartition(":")
    my_scope = me.process_key.rpartition(":")[0]
    if held_scope != my_scope:
        return False  # another machine with our name, another container, or before a reboot
    if held.pid == me.pid and held.process_key == me.process_key:
        return False  # that is us
    return process_is_gone(held.pid, held_start)


def _info(row: Row) -> LockInfo:
    cluster, user, host, pid, command, since, key = row
    return LockInfo(cluster, user, host, int(pid), command, since, key)


def lock_info(tx: Tx, cluster: str) -> LockInfo | None:
    row = tx.one(f"SELECT {_COLUMNS} FROM locks WHERE cluster = ?", (cluster,))  # noqa: S608
    return None if row is None else _info(row)


def unlock_hint(cluster: str) -> str:
    return (
        "wait for that command to finish; if it is gone (crashed, or its machine is), run "
        f"`sloth-kubernetes state unlock {cluster} --force`"
    )


def acquire(tx: Tx, cluster: str, command: str, me: Identity) -> tuple[str, LockInfo | None]:
    """Take the lock; return (token, the stale holder taken over or None). Raises LockedError."""
    held = lock_info(tx, cluster)
    took_over: LockInfo | None = None
    if held is not None:
        if not holder_is_gone(held, me):
            raise LockedError(
                f"cluster {cluster!r} is locked by {held.describe()}",
                holder=held.describe(),
                hint=unlock_hint(cluster),
            )
        took_over = held
        log.warning(
            "taking over the stale lock of cluster %r: its holder %s is no longer running",
            cluster,
            held.describe(),
        )
        tx.execute("DELETE FROM locks WHERE cluster = ?", (cluster,))
    token = secrets.token_hex(16)
    tx.execute(
        "INSERT INTO locks (cluster, username, host, pid, process_key, command, since, token) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (cluster, me.user, me.host, me.pid, me.process_key, command, utc_now(), token),
    )
    return token, took_over


def release(tx: Tx, cluster: str, token: str) -> bool:
    """Drop the lock if it is still ours; False if someone forced it away meanwhile."""
    return tx.execute("DELETE FROM locks WHERE cluster = ? AND token = ?", (cluster, token)) > 0


class LockHandle:
    """A held cluster lock; a context manager that releases it on exit.

    ``took_over_from`` is the stale holder this lock replaced, or None.
    """

    def __init__(
        self,
        cluster: str,
        command: str,
        holder: LockInfo,
        took_over_from: LockInfo | None,
        releaser: Callable[[], bool],
    ) -> None:
        self.cluster = cluster
        self.command = command
        self.holder = holder
        self.took_over_from = took_over_from
        self._releaser = releaser
        self.released = False

    def release(self) -> None:
        """Release the lock (idempotent)."""
        if self.released:
            return
        self.released = True
        if not self._releaser():
            log.warning(
                "the lock of cluster %r was removed by someone else (state unlock --force) "
                "while %s held it",
                self.cluster,
                self.holder.describe(),
            )

    def __enter__(self) -> LockHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
