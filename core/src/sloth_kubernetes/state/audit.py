"""The append-only, hash-chained audit log.

Each entry stores ``hash = sha256(previous hash + canonical JSON of {seq, ts, actor, host,
command, cluster, outcome, resources})``; the first entry chains on 64 zeros. ``meta`` keeps the
head hash and the entry count, updated in the same transaction as the append, so removing the
newest entries is detected as well as editing or removing older ones. Every string is passed
through :func:`sloth_kubernetes.secrets.redact` before it is stored: the log never holds secret
values. (An attacker who can rewrite the whole database can rebuild a consistent chain; keep a
copy of the head hash elsewhere — ``audit_head()`` — if you need to detect that.)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sloth_kubernetes.errors import StateError
from sloth_kubernetes.state.db import Row, Tx
from sloth_kubernetes.state.records import AuditEntry
from sloth_kubernetes.state.util import canonical_json, from_json, redact_tree, sha256_hex, utc_now

GENESIS = "0" * 64
_COLUMNS = "seq, ts, actor, host, command, cluster, outcome, resources, hash"


def chain_hash(previous: str, body: dict[str, Any]) -> str:
    return sha256_hex(previous + canonical_json(body))


class DamagedRow(StateError):
    """An audit row that cannot be read back (its JSON or its types were altered)."""

    def __init__(self, seq: Any, reason: str) -> None:
        super().__init__(
            f"audit entry {seq} is damaged: {reason}",
            hint="someone changed the state database outside sloth-kubernetes; "
            "`sloth-kubernetes audit verify` lists every damaged entry; compare with a backup",
        )
        self.seq = seq


def _entry(row: Row) -> AuditEntry:
    seq, ts, actor, host, command, cluster, outcome, resources, digest = row
    try:
        number = int(seq)
    except (TypeError, ValueError):
        raise DamagedRow(repr(seq), "its sequence number is not a number") from None
    try:
        data = from_json(resources, {})
    except ValueError as error:  # json.JSONDecodeError, or bytes that are not UTF-8
        raise DamagedRow(number, f"its resources are not valid JSON ({error})") from None
    texts = (ts, actor, host, command, cluster, outcome, digest)
    if not isinstance(data, dict) or not all(isinstance(text, str) for text in texts):
        raise DamagedRow(number, "a field has the wrong type")
    return AuditEntry(number, ts, actor, host, command, cluster, outcome, data, digest)


def head(tx: Tx) -> tuple[str, int]:
    """The recorded head hash and entry count."""
    return tx.get_meta("audit_head") or GENESIS, int(tx.get_meta("audit_count") or 0)


def append(
    tx: Tx,
    *,
    actor: str,
    host: str,
    command: str,
    cluster: str,
    outcome: str,
    resources: dict[str, Any] | None = None,
    ts: str | None = None,
) -> AuditEntry:
    """Append one redacted entry and move the head, inside the caller's write transaction."""
    previous, count = head(tx)
    highest = int(tx.scalar("SELECT MAX(seq) FROM audit") or 0)
    seq = max(count, highest) + 1
    fields = redact_tree(
        {
            "actor": actor,
            "host": host,
            "command": command,
            "cluster": cluster,
            "outcome": outcome,
            "resources": dict(resources or {}),
        }
    )
    body = {"seq": seq, "ts": ts or utc_now(), **fields}
    entry = AuditEntry(hash=chain_hash(previous, body), **body)
    _insert(tx, entry)
    tx.set_meta("audit_head", entry.hash)
    tx.set_meta("audit_count", str(seq))
    return entry


def _insert(tx: Tx, entry: AuditEntry) -> None:
    tx.execute(
        f"INSERT INTO audit ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
        (
            entry.seq,
            entry.ts,
            entry.actor,
            entry.host,
            entry.command,
            entry.cluster,
            entry.outcome,
            canonical_json(entry.resources),
            entry.hash,
        ),
    )


def copy_chain(tx: Tx, entries: Iterable[AuditEntry], head_hash: str, count: int) -> None:
    """Insert entries verbatim (hashes kept) into an empty log, with the source's head."""
    for entry in entries:
        _insert(tx, entry)
    tx.set_meta("audit_head", head_hash)
    tx.set_meta("audit_count", str(count))


def entries(tx: Tx, cluster: str | None = None) -> list[AuditEntry]:
    """The entries in order; :class:`DamagedRow` (naming the row) if one cannot be read."""
    return [_entry(row) for row in _rows(tx, cluster)]


def _rows(tx: Tx, cluster: str | None = None) -> list[Row]:
    if cluster is None:
        rows = tx.query(f"SELECT {_COLUMNS} FROM audit ORDER BY seq")  # noqa: S608
    else:
        rows = tx.query(
            f"SELECT {_COLUMNS} FROM audit WHERE cluster = ? ORDER BY seq",  # noqa: S608
            (cluster,),
        )
    return rows


def verify(tx: Tx) -> list[str]:
    """Every inconsistency of the chain, in order; an empty list means intact. A damaged row
    is one problem: the check goes on from the hash it records."""
    problems: list[str] = []
    previous = GENESIS
    expected_seq = 1
    last_seq = 0
    for row in _rows(tx):
        try:
            entry = _entry(row)
        except DamagedRow as damaged:
            problems.append(damaged.message)
            previous = str(row[-1])
            if isinstance(damaged.seq, int):
                expected_seq, last_seq = damaged.seq + 1, damaged.seq
            continue
        if entry.seq != expected_seq:
            missing = (
                f"entry {expected_seq}"
                if entry.seq == expected_seq + 1
                else f"entries {expected_seq}-{entry.seq - 1}"
            )
            problems.append(f"audit {missing} missing: removed from the log")
        if chain_hash(previous, entry.body()) != entry.hash:
            problems.append(
                f"audit entry {entry.seq} does not match its hash: it was modified, or the "
                "entry before it was removed or modified"
            )
        previous = entry.hash
        expected_seq = entry.seq + 1
        last_seq = entry.seq
    recorded_head, recorded_count = head(tx)
    if recorded_count > last_seq:
        gone = recorded_count - last_seq
        problems.append(
            f"the newest {gone} audit entr{'y' if gone == 1 else 'ies'} (up to #{recorded_count})"
            " missing: removed from the end of the log"
        )
    elif recorded_count < last_seq:
        problems.append(
            f"audit entries after #{recorded_count} were added outside sloth-kubernetes"
        )
    if previous != recorded_head:
        problems.append(
            "the last audit entry is not the recorded head of the chain: the log's end was "
            "removed or rewritten"
        )
    return problems
