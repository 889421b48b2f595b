"""pytest fixtures for the cloud API emulators.

Servers start once per session (on first use) and stop at session end, even when tests fail;
each test gets them reset. Every emulator fixture yields an object with ``endpoint``
(``http://127.0.0.1:PORT``), ``host``, ``port``, ``reset()`` and ``requests`` (a
:class:`~sloth_kubernetes.testing.emulators._http.RequestLog`).

* ``ec2_emulator`` — moto's EC2 (:class:`~.ec2.Ec2Emulator`).
* ``digitalocean_emulator``, ``linode_emulator``, ``hetzner_emulator`` — Prism validating a
  stateful fake (:class:`~.prism.PrismEmulator`; the fake's state is ``emulator.fake``). A test
  that leaves spec violations behind fails at teardown with the broken rules listed; a test that
  provokes one on purpose collects it with ``emulator.take_violations()``. They skip, with the
  reason, when Prism or the API specs are missing, unless ``SLOTH_REQUIRE_EMULATORS=1``.
* ``faulty_proxy`` — factory: ``faulty_proxy(upstream, fault_rate=0.3, latency=0.1, seed=1)``
  returns a :class:`~.faults.FaultyProxy` in front of an emulator (or any ``http://`` URL).
* ``recorded_api`` — factory: ``recorded_api(folder)`` serves recorded exchanges
  (:class:`~.replay.ReplayServer`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sloth_kubernetes.testing.emulators._http import sweep_stale_processes
from sloth_kubernetes.testing.emulators.described import described_test
from sloth_kubernetes.testing.emulators.ec2 import Ec2Emulator
from sloth_kubernetes.testing.emulators.faults import FaultPolicy, FaultyProxy
from sloth_kubernetes.testing.emulators.prism import PrismEmulator, PrismUnavailable
from sloth_kubernetes.testing.emulators.replay import ReplayServer

__all__ = [
    "digitalocean_emulator",
    "ec2_emulator",
    "faulty_proxy",
    "hetzner_emulator",
    "linode_emulator",
    "recorded_api",
]

_swept = False


def _sweep_once() -> None:
    """Emulators a SIGKILLed earlier run left behind are stopped before the first one starts."""
    global _swept
    if not _swept:
        sweep_stale_processes()
        _swept = True


def _unavailable(what: str, reason: str) -> None:
    if os.environ.get("SLOTH_REQUIRE_EMULATORS") == "1":
        pytest.fail(f"{what} emulator required but unavailable: {reason}")
    pytest.skip(f"{what} emulator unavailable: {reason}")


def _start_prism(cloud: str) -> PrismEmulator:
    from sloth_kubernetes.testing.emulators.fakes.digitalocean import DigitalOceanFake
    from sloth_kubernetes.testing.emulators.fakes.hetzner import HetznerFake
    from sloth_kubernetes.testing.emulators.fakes.linode import LinodeFake

    fakes = {"digitalocean": DigitalOceanFake, "linode": LinodeFake, "hetzner": HetznerFake}
    _sweep_once()
    try:
        return PrismEmulator(cloud, fakes[cloud]())
    except PrismUnavailable as missing:
        _unavailable(cloud, missing.reason)
        raise  # not reached: skip/fail raise


def _prism_session(cloud: str) -> Iterator[PrismEmulator]:
    emulator = _start_prism(cloud)
    try:
        yield emulator
    finally:
        emulator.stop()


def _prism_test(emulator: PrismEmulator) -> Iterator[PrismEmulator]:
    yield from described_test(emulator, what="API spec")


@pytest.fixture(scope="session")
def _ec2_server() -> Iterator[Ec2Emulator]:
    import importlib.util

    if importlib.util.find_spec("moto") is None:
        _unavailable("EC2", "moto is not installed; run `pip install 'moto[server]'`")
    _sweep_once()
    emulator = Ec2Emulator()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def ec2_emulator(_ec2_server: Ec2Emulator) -> Ec2Emulator:
    """moto's EC2, emptied for this test. libcloud: ``EC2NodeDriver(key, secret, region=...,
    host=e.host, port=e.port, secure=False, signature_version="4")``."""
    _ec2_server.reset()
    return _ec2_server


@pytest.fixture(scope="session")
def _digitalocean_server() -> Iterator[PrismEmulator]:
    yield from _prism_session("digitalocean")


@pytest.fixture(scope="session")
def _linode_server() -> Iterator[PrismEmulator]:
    yield from _prism_session("linode")


@pytest.fixture(scope="session")
def _hetzner_server() -> Iterator[PrismEmulator]:
    yield from _prism_session("hetzner")


@pytest.fixture
def digitalocean_emulator(_digitalocean_server: PrismEmulator) -> Iterator[PrismEmulator]:
    """DigitalOcean v2 through Prism. libcloud's driver ignores host/port: re-point
    ``driver.connection`` (host, port, secure=False) and call ``connect()``."""
    yield from _prism_test(_digitalocean_server)


@pytest.fixture
def linode_emulator(_linode_server: PrismEmulator) -> Iterator[PrismEmulator]:
    """Linode v4 through Prism (paths ``/v4/...``)."""
    yield from _prism_test(_linode_server)


@pytest.fixture
def hetzner_emulator(_hetzner_server: PrismEmulator) -> Iterator[PrismEmulator]:
    """Hetzner Cloud through Prism; the API base URL is ``endpoint`` (no ``/v1``)."""
    yield from _prism_test(_hetzner_server)


@pytest.fixture
def faulty_proxy() -> Iterator[Callable[..., FaultyProxy]]:
    """Factory for fault-injecting proxies, all stopped after the test.

    ``faulty_proxy(upstream, *, fault_rate=0.0, statuses=(429, 503), retry_after=1, latency=0.0,
    seed=0, body_style="json")``; ``upstream`` is an emulator or an ``http://host:port`` URL.
    Use ``body_style="aws"`` in front of EC2.
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
