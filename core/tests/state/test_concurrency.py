"""Several real processes writing at once: no write lost, no address shared, chain intact."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

from sloth_kubernetes.state import StateStore

WORKERS = 4
EACH = 15


def _run_together(workers: list[subprocess.Popen[str]]) -> dict[str, str]:
    """Release the workers at once; return every address they were given, by owner."""
    for worker in workers:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    returned: dict[str, str] = {}
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        addresses = json.loads(out)["addresses"]
        returned.update({f"p{worker.pid}-{i}": a for i, a in enumerate(addresses)})
    return returned


def test_concurrent_audit_appends_and_allocations(
    store: StateStore, spawn_worker: Callable[..., subprocess.Popen[str]]
) -> None:
    workers = [spawn_worker("hammer", "demo", str(EACH)) for _ in range(WORKERS)]
    returned = _run_together(workers)

    entries = store.audit_entries()
    assert len(entries) == WORKERS * EACH
    assert [e.seq for e in entries] == list(range(1, WORKERS * EACH + 1))
    assert {(e.resources["pid"], e.resources["index"]) for e in entries} == {
        (w.pid, i) for w in workers for i in range(EACH)
    }
    assert store.audit_verify() == []

    allocated = store.list_allocations("demo", "mesh")
    assert allocated == returned
    assert len(set(allocated.values())) == WORKERS * EACH


def test_concurrent_first_opens_of_a_new_store(
    state_url: str,
    spawn_worker: Callable[..., subprocess.Popen[str]],
    open_state: Callable[..., StateStore],
) -> None:
    """Several processes creating and migrating the same new store at once all succeed."""
    returned = _run_together([spawn_worker("fresh-hammer", "demo", "3") for _ in range(3)])
    store = open_state()
    assert len(store.audit_entries()) == 9
    assert store.audit_verify() == []
    assert store.list_allocations("demo", "mesh") == returned
