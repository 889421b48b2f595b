"""The typed records the state store reads and writes.

Every timestamp is a UTC ISO-8601 string (``2026-01-02T03:04:05.123456+00:00``). Dict and list
fields hold JSON-able values only; the store serialises them as canonical JSON.
"""

from __future__ import annotations

from typing import Any

import attrs

from sloth_kubernetes.model.nodes import NodeRecord

__all__ = ["NodeRecord"]  # one record for hooks and state; the rest below

#: Allowed values of :attr:`JournalEntry.status`.
JOURNAL_STATUSES = ("started", "done", "failed", "skipped")


@attrs.frozen
class ClusterRecord:
    """A cluster as last applied.

    ``spec`` is the JSON-able spec that was applied; ``spec_hash`` its sha256 over canonical JSON
    (computed by :meth:`StateStore.put_cluster` when left empty). ``protect`` makes ``destroy``
    refuse until it is cleared. ``created_at``/``updated_at`` are maintained by the store.
    """

    name: str
    spec: dict[str, Any] = attrs.field(factory=dict)
    spec_hash: str = ""
    protect: bool = False
    created_at: str = ""
    updated_at: str = ""


@attrs.frozen
class JournalEntry:
    """One step of one phase of one run: ``status`` is one of :data:`JOURNAL_STATUSES`.

    ``node`` is ``""`` for cluster-wide steps.
    """

    id: int
    cluster: str
    run_id: str
    phase: str
    node: str
    step: str
    status: str
    detail: str
    ts: str


@attrs.frozen
class OperationRecord:
    """One mutating command run against a cluster; ``outcome`` is ``None`` while it runs."""

    id: int
    cluster: str
    command: str
    user: str
    host: str
    started_at: str
    ended_at: str | None = None
    outcome: str | None = None
    summary: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class ManifestRecord:
    """A Kubernetes manifest applied by a plugin, kept for drift detection.

    ``sha256`` is the caller's digest of the full manifest; ``body_json`` is stored with every
    registered secret value masked (see docs/state.md), so compare digests, not bodies.
    """

    cluster: str
    key: str
    plugin: str
    sha256: str
    body_json: str
    recorded_at: str


@attrs.frozen
class AuditEntry:
    """One entry of the hash-chained audit log.

    ``hash`` = sha256(previous entry's hash + canonical JSON of the other fields); the first
    entry's previous hash is 64 zeros.
    """

    seq: int
    ts: str
    actor: str
    host: str
    command: str
    cluster: str
    outcome: str
    resources: dict[str, Any]
    hash: str

    def body(self) -> dict[str, Any]:
        """The hashed fields, as a dict."""
        return {
            "seq": self.seq,
            "ts": self.ts,
            "actor": self.actor,
            "host": self.host,
            "command": self.command,
            "cluster": self.cluster,
            "outcome": self.outcome,
            "resources": self.resources,
        }


@attrs.frozen
class LockInfo:
    """Who holds a cluster's lock.

    ``process_key`` (``boot id:pid namespace:start time``, Linux; "" elsewhere) tells whether the
    holder ran on this very machine and pid namespace, and a live holder from a recycled pid.
    """

    cluster: str
    user: str
    host: str
    pid: int
    command: str
    since: str
    process_key: str = ""

    def describe(self) -> str:
        """``alice@host1 (pid 123, `up`, since 2026-…)``: the holder, for messages."""
        return f"{self.user}@{self.host} (pid {self.pid}, `{self.command}`, since {self.since})"
