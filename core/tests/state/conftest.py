"""Fixtures for the state-store suite: every test taking ``backend``/``state_url``/``store``
runs once against SQLite and once against a real PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sloth_kubernetes
from sloth_kubernetes.state import StateStore, open_store
from sloth_kubernetes.state.keys import ENV_PASSPHRASE
from sloth_kubernetes.state.location import ENV_STATE

#: PostgreSQL stores cannot use a key file, so tests give them this passphrase.
PG_PASSPHRASE = "correct horse battery staple"
WORKER = Path(__file__).with_name("_worker.py")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_PASSPHRASE, raising=False)
    monkeypatch.delenv(ENV_STATE, raising=False)


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def state_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty state location of the current backend."""
    if backend == "sqlite":
        return f"sqlite://{tmp_path / 'state' / 'state.db'}"
    return str(request.getfixturevalue("postgres_database_url"))


def passphrase_for(url: str) -> str | None:
    return PG_PASSPHRASE if url.startswith("postgresql") else None


@pytest.fixture
def open_state(state_url: str) -> Iterator[Callable[..., StateStore]]:
    """Open (more) stores on the test's state; all are closed at the end."""
    opened: list[StateStore] = []

    def opener(url: str | None = None, **kwargs: object) -> StateStore:
        target = url or state_url
        kwargs.setdefault("passphrase", passphrase_for(target))
        store = open_store(target, **kwargs)  # type: ignore[arg-type]
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


@pytest.fixture
def store(open_state: Callable[..., StateStore]) -> StateStore:
    return open_state()


def worker_env(url: str) -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(sloth_kubernetes.__file__).parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    passphrase = passphrase_for(url)
    if passphrase:
        env[ENV_PASSPHRASE] = passphrase
    return env


@pytest.fixture
def spawn_worker(state_url: str) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start ``_worker.py ACTION URL ARGS…`` as a real separate process (killed at the end)."""
    processes: list[subprocess.Popen[str]] = []

    def spawn(
        *args: str, url: str | None = None, prefix: tuple[str, ...] = ()
    ) -> subprocess.Popen[str]:
        target = url or state_url
        argv = [*prefix, sys.executable, str(WORKER), args[0], target, *args[1:]]
        process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=worker_env(target),
        )  # fmt: skip
        processes.append(process)
        return process

    yield spawn
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)
