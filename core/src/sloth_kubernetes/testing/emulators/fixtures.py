"""pytest fixtures and fixture bodies for cloud API emulators; no cloud is named here.

Each provider plugin keeps its own fake and its fixtures beside its tests (``<cloud>_fake.py`` and
``conftest.py`` in ``plugins/providers/<cloud>/tests/``), built from these bodies:

* :func:`prism_fixtures` — a plugin's two fixtures for its fake behind Prism
  (:class:`~.prism.PrismEmulator`): ``_<cloud>_server`` for the session (:func:`prism_session`)
  and ``<cloud>_emulator`` per test, reset before it; a test that leaves spec violations behind
  fails at teardown with the broken rules listed. They skip, with the reason, when Prism or the
  API spec is missing, unless ``SLOTH_REQUIRE_EMULATORS=1``;
* :func:`emulator_unavailable` — the same skip-or-fail for any other emulator;
* :func:`sweep_once` — stop emulators a SIGKILLed earlier run left behind, before the first start.

Fixtures for everyone (exposed by the core's pytest plugin):

* ``faulty_proxy`` — factory: ``faulty_proxy(upstream, fault_rate=0.3, latency=0.1, seed=1)``
  returns a :class:`~.faults.FaultyProxy` in front of an emulator (or any ``http://`` URL).
* ``recorded_api`` — factory: ``recorded_api(folder)`` serves recorded exchanges
  (:class:`~.replay.ReplayServer`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from sloth_kubernetes.testing.emulators._http import JsonApp, sweep_stale_processes
from sloth_kubernetes.testing.emulators.described import described_test
from sloth_kubernetes.testing.emulators.faults import FaultPolicy, FaultyProxy
from sloth_kubernetes.testing.emulators.prism import PrismEmulator, PrismSpec, PrismUnavailable
from sloth_kubernetes.testing.emulators.replay import ReplayServer

__all__ = [
    "emulator_unavailable",
    "faulty_proxy",
    "prism_fixtures",
    "prism_session",
    "recorded_api",
    "sweep_once",
]

_swept = False


def sweep_once() -> None:
    """Emulators a SIGKILLed earlier run left behind are stopped before the first one starts."""
    global _swept
    if not _swept:
        sweep_stale_processes()
        _swept = True


def emulator_unavailable(what: str, reason: str) -> NoReturn:
    """Skip the test with ``reason``, or fail it when ``SLOTH_REQUIRE_EMULATORS=1``."""
    if os.environ.get("SLOTH_REQUIRE_EMULATORS") == "1":
        pytest.fail(f"{what} emulator required but unavailable: {reason}")
    pytest.skip(f"{what} emulator unavailable: {reason}")


def prism_session(
    name: str, fake: Callable[[], JsonApp], spec: PrismSpec
) -> Iterator[PrismEmulator]:
    """Body of a session fixture: Prism checking ``spec`` in front of ``fake()`` until the session
    ends (skips when Prism or the spec is missing)."""
    sweep_once()
    try:
        emulator = PrismEmulator(name, fake(), spec)
    except PrismUnavailable as missing:
        emulator_unavailable(name, missing.reason)
    try:
        yield emulator
    finally:
        emulator.stop()


def prism_fixtures(
    name: str, fake: Callable[[], JsonApp], spec: PrismSpec
) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """``_<name>_server, <name>_emulator = prism_fixtures(name, Fake, SPEC)`` in a plugin's
    ``conftest.py``: the session's server and the per-test fixture (the fake's state is
    ``emulator.fake``; ``emulator.take_violations()`` collects violations a test provokes)."""
    server_name = f"_{name}_server"

    @pytest.fixture(scope="session", name=server_name)
    def server() -> Iterator[PrismEmulator]:
        yield from prism_session(name, fake, spec)

    @pytest.fixture(name=f"{name}_emulator")
    def emulator(request: pytest.FixtureRequest) -> Iterator[PrismEmulator]:
        yield from described_test(request.getfixturevalue(server_name), what="API spec")

    return server, emulator


@pytest.fixture
def faulty_proxy() -> Iterator[Callable[..., FaultyProxy]]:
    """Factory for fault-injecting proxies, all stopped after the test.

    ``faulty_proxy(upstream, *, fault_rate=0.0, statuses=(429, 503), retry_after=1, latency=0.0,
    seed=0, fault_body=None)``; ``upstream`` is an emulator or an ``http://host:port`` URL.
    ``fault_body`` builds the error body for APIs whose clients read no JSON errors (the plugin's
    fake module provides it).
    """
    proxies: list[FaultyProxy] = []

    def start(upstream: Any, **policy: Any) -> FaultyProxy:
        url = upstream if isinstance(upstream, str) else upstream.endpoint
        proxy = FaultyProxy(url, FaultPolicy(**policy))
        proxies.append(proxy)
        return proxy

    try:
        yield start
    finally:
        for proxy in proxies:
            proxy.stop()


@pytest.fixture
def recorded_api() -> Iterator[Callable[[str | Path], ReplayServer]]:
    """Factory: ``recorded_api(folder)`` serves that folder's recorded exchanges for this test."""
    servers: list[ReplayServer] = []

    def start(folder: str | Path) -> ReplayServer:
        server = ReplayServer(folder)
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()
