"""The fault-injecting proxy: seeded faults, Retry-After, latency, counters (in front of a plain
JSON upstream; each provider plugin's tests put it in front of its own fake)."""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sloth_kubernetes.testing.emulators._http import BackgroundServer, JsonApp, JsonReply

pytestmark = pytest.mark.emulator


@pytest.fixture(scope="module")
def upstream() -> Iterator[BackgroundServer]:
    """Any JSON API: the proxy forwards what it does not fault."""
    app = JsonApp("upstream")

    @app.route("GET", "/data.json")
    def data(_request: Any) -> JsonReply:
        return JsonReply(200, {"items": []})

    server = BackgroundServer(app, name="upstream")
    try:
        yield server
    finally:
        server.stop()


def get(proxy: Any, path: str = "/") -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection(proxy.host, proxy.port, timeout=10)
    connection.request("GET", path)
    reply = connection.getresponse()
    reply.read()
    connection.close()
    return reply


def statuses(proxy: Any, count: int) -> list[int]:
    return [get(proxy, "/data.json").status for _ in range(count)]


def test_faults_are_seeded_counted_and_carry_retry_after(
    upstream: BackgroundServer, faulty_proxy: Any
) -> None:
    first = faulty_proxy(upstream.endpoint, fault_rate=0.3, seed=7, retry_after=2)
    second = faulty_proxy(upstream.endpoint, fault_rate=0.3, seed=7, retry_after=2)
    sequence = statuses(first, 60)
    assert statuses(second, 60) == sequence  # same seed, same faults
    faults = [s for s in sequence if s != 200]
    assert set(faults) == {429, 503}
    assert 8 <= len(faults) <= 30  # about 30 %
    assert first.counters.requests == 60
    assert first.counters.faults == len(faults)
    assert first.counters.by_status[200] == 60 - len(faults)

    first.reset()
    assert statuses(first, 60) == sequence  # reset restarts the sequence

    always = faulty_proxy(upstream.endpoint, fault_rate=1.0, statuses=(429,), retry_after=3)
    reply = get(always)
    assert reply.status == 429
    assert reply.getheader("Retry-After") == "3"


def test_latency_is_added_to_every_request(upstream: BackgroundServer, faulty_proxy: Any) -> None:
    slow = faulty_proxy(upstream.endpoint, latency=0.1)
    started = time.monotonic()
    assert statuses(slow, 3) == [200, 200, 200]
    assert time.monotonic() - started >= 0.3
