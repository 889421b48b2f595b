"""Cluster locks across real processes: one winner, stale takeover, other hosts, force unlock."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from collections.abc import Callable

import pytest
from sloth_kubernetes.errors import LockedError
from sloth_kubernetes.state import StateStore

Spawn = Callable[..., subprocess.Popen[str]]


def _ready(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.strip() == "ready", process.stderr.read() if process.stderr else line


def _go(*processes: subprocess.Popen[str]) -> None:
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()


def _result(process: subprocess.Popen[str]) -> dict[str, object]:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line, process.stderr.read() if process.stderr else "no output"
    return dict(json.loads(line))


def test_two_processes_contend_and_exactly_one_wins(store: StateStore, spawn_worker: Spawn) -> None:
    workers = [spawn_worker("lock", "demo", "1.5") for _ in range(2)]
    for worker in workers:
        _ready(worker)
    _go(*workers)
    results = [_result(worker) for worker in workers]
    winners = [r for r in results if r["locked"]]
    losers = [r for r in results if not r["locked"]]
    assert len(winners) == 1
    assert len(losers) == 1
    holder = store.lock_info("demo")
    assert holder is not None
    assert holder.pid == winners[0]["pid"]
    message = str(losers[0]["message"])
    assert message.startswith(f"cluster 'demo' is locked by {holder.user}@{holder.host} ")
    assert f"(pid {holder.pid}, `up`, since {holder.since})" in message
    assert "sloth-kubernetes state unlock demo --force" in str(losers[0]["hint"])
    # while the winner holds it, this process is refused too; afterwards it gets the lock
    with pytest.raises(LockedError) as caught:
        store.lock("demo", "scale")
    assert caught.value.holder == holder.describe()
    for worker in workers:
        assert worker.wait(timeout=30) == 0
    assert store.lock_info("demo") is None
    with store.lock("demo", "scale") as handle:
        assert handle.took_over_from is None
        assert store.lock_info("demo") == handle.holder
    assert store.lock_info("demo") is None


def test_a_stale_lock_of_a_dead_process_on_this_host_is_taken_over(
    store: StateStore, spawn_worker: Spawn, caplog: pytest.LogCaptureFixture
) -> None:
    worker = spawn_worker("lock-and-vanish", "demo")
    _ready(worker)
    _go(worker)
    dead_pid = _result(worker)["pid"]
    assert worker.wait(timeout=30) == 0  # exited without releasing its lock
    left = store.lock_info("demo")
    assert left is not None
    assert left.pid == dead_pid
    with caplog.at_level(logging.WARNING, logger="sloth_kubernetes.state"):
        handle = store.lock("demo", "up")
    with handle:
        assert handle.took_over_from == left
        assert handle.holder.pid == store.identity.pid
    assert any(
        "stale lock" in record.getMessage() and f"pid {dead_pid}" in record.getMessage()
        for record in caplog.records
    )
    assert store.audit_entries("demo")[-1].outcome == "stale-lock-taken-over"


def test_a_lock_held_from_another_host_is_refused_until_force_unlock(
    store: StateStore, spawn_worker: Spawn
) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is needed to give a process another hostname")
    probe = subprocess.run(["unshare", "--uts", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("cannot create a UTS namespace here (needs root)")
    # A real process whose host name is "build-host-2" takes the lock and vanishes.
    worker = spawn_worker(
        "lock-and-vanish", "demo",
        prefix=("unshare", "--uts", "sh", "-c", 'hostname build-host-2 && exec "$@"', "sh"),
    )  # fmt: skip
    _ready(worker)
    _go(worker)
    _result(worker)
    assert worker.wait(timeout=30) == 0
    holder = store.lock_info("demo")
    assert holder is not None
    assert holder.host == "build-host-2"
    with pytest.raises(LockedError) as caught:  # its pid is gone here, but that proves nothing
        store.lock("demo", "up")
    assert f"locked by {holder.user}@build-host-2 (pid {holder.pid}" in str(caught.value)

    assert store.force_unlock("demo", actor="alice") == holder
    entry = store.audit_entries("demo")[-1]
    assert (entry.command, entry.actor, entry.outcome) == (
        "state unlock --force",
        "alice",
        "unlocked",
    )
    assert entry.resources == {"holder": holder.describe()}
    with store.lock("demo", "up") as handle:
        assert handle.took_over_from is None
    assert store.audit_verify() == []


def test_a_holder_in_another_pid_namespace_with_our_host_name_is_not_declared_stale(
    store: StateStore, spawn_worker: Spawn
) -> None:
    """A container sharing our host name cannot see our processes, nor we its: its pid (1 in
    its namespace) says nothing here, so its lock must not be taken over."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is needed for a pid namespace")
    probe = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip("cannot create a pid namespace here (needs root)")
    worker = spawn_worker(
        "lock-and-vanish", "demo", prefix=("unshare", "--pid", "--fork", "--mount-proc")
    )
    _ready(worker)
    _go(worker)
    _result(worker)
    assert worker.wait(timeout=30) == 0
    holder = store.lock_info("demo")
    assert holder is not None
    assert holder.host == store.identity.host
    assert holder.pid == 1  # pid 1 here is another process entirely
    with pytest.raises(LockedError):
        store.lock("demo", "up")
    store.force_unlock("demo", actor="admin")


def test_force_unlock_under_a_running_holder_is_noticed_on_release(
    store: StateStore, caplog: pytest.LogCaptureFixture
) -> None:
    handle = store.lock("demo", "up")
    assert store.force_unlock("demo", actor="admin") is not None
    other = store.lock("demo", "destroy")  # the cluster is free for others now
    with caplog.at_level(logging.WARNING, logger="sloth_kubernetes.state"):
        handle.release()
    assert store.lock_info("demo") == other.holder  # releasing did not drop the new holder's lock
    assert any("removed by someone else" in r.getMessage() for r in caplog.records)
    other.release()
    assert store.force_unlock("demo", actor="admin") is None


def test_locks_are_per_cluster(store: StateStore) -> None:
    with store.lock("one", "up"), store.lock("two", "up"):
        assert store.lock_info("one") is not None
        assert store.lock_info("two") is not None
