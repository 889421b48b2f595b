"""The audit chain detects edits, removals in the middle, and removals at the end."""

from __future__ import annotations

import hashlib
import json

from sloth_kubernetes.state import StateStore


def _fill(store: StateStore, count: int = 5) -> None:
    for index in range(count):
        store.audit_append(
            command=f"up #{index}", cluster="demo" if index % 2 else "other", outcome="ok",
            resources={"nodes": [f"n{index}"], "index": index},
        )  # fmt: skip


def test_entries_chain_and_verify(store: StateStore) -> None:
    assert store.audit_verify() == []
    _fill(store)
    entries = store.audit_entries()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    previous = "0" * 64
    for entry in entries:  # the documented hash, recomputed independently
        body = json.dumps(entry.body(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert entry.hash == hashlib.sha256((previous + body).encode()).hexdigest()
        previous = entry.hash
    assert store.audit_head() == (entries[-1].hash, 5)
    assert [e.seq for e in store.audit_entries("demo")] == [2, 4]
    assert entries[0].actor == store.identity.user
    assert entries[0].host == store.identity.host
    assert store.audit_verify() == []


def test_a_modified_entry_is_detected(store: StateStore) -> None:
    _fill(store)
    with store.write() as tx:
        tx.execute("UPDATE audit SET outcome = ? WHERE seq = ?", ("failed", 3))
    problems = store.audit_verify()
    assert problems
    assert any("audit entry 3 does not match its hash" in p for p in problems)


def test_a_modified_resource_is_detected(store: StateStore) -> None:
    _fill(store)
    with store.write() as tx:
        tx.execute("UPDATE audit SET resources = ? WHERE seq = ?", ('{"index":1,"nodes":[]}', 2))
    assert any("entry 2" in p for p in store.audit_verify())


def test_a_deleted_middle_entry_is_detected(store: StateStore) -> None:
    _fill(store)
    with store.write() as tx:
        tx.execute("DELETE FROM audit WHERE seq = ?", (3,))
    problems = store.audit_verify()
    assert any("audit entry 3 missing" in p for p in problems)
    assert any("audit entry 4 does not match its hash" in p for p in problems)


def test_deleted_last_entries_are_detected(store: StateStore) -> None:
    _fill(store)
    with store.write() as tx:
        tx.execute("DELETE FROM audit WHERE seq = ?", (5,))
    problems = store.audit_verify()
    assert any("newest 1 audit entry (up to #5) missing" in p for p in problems)
    with store.write() as tx:
        tx.execute("DELETE FROM audit WHERE seq >= ?", (3,))
    assert any("newest 3 audit entries" in p for p in store.audit_verify())


def test_a_rewritten_last_entry_is_detected(store: StateStore) -> None:
    """Even with a recomputed, self-consistent hash, the recorded head gives it away."""
    _fill(store)
    last = store.audit_entries()[-1]
    forged = {**last.body(), "outcome": "nothing happened"}
    previous = store.audit_entries()[-2].hash
    digest = hashlib.sha256(
        (previous + json.dumps(forged, sort_keys=True, separators=(",", ":"))).encode()
    ).hexdigest()
    with store.write() as tx:
        tx.execute(
            "UPDATE audit SET outcome = ?, hash = ? WHERE seq = ?",
            ("nothing happened", digest, last.seq),
        )
    assert any("not the recorded head" in p for p in store.audit_verify())


def test_appending_continues_the_chain_after_reopen(store: StateStore, open_state: object) -> None:
    _fill(store, 2)
    other = open_state()  # type: ignore[operator]
    other.audit_append(command="destroy", cluster="demo", outcome="ok", actor="bob", host="ci")
    entries = store.audit_entries()
    assert [(e.seq, e.actor) for e in entries][-1] == (3, "bob")
    assert store.audit_verify() == []
