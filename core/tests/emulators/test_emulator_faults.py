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


def test_max_burst_bounds_the_faults_one_request_meets_in_a_row(
    upstream: BackgroundServer, faulty_proxy: Any
) -> None:
    """Even when every draw is a fault, a request passes after ``max_burst`` faults in a row —
    counted per method and path, so one request's burst does not spend another's."""
    proxy = faulty_proxy(upstream.endpoint, fault_rate=1.0, statuses=(503,), max_burst=2)
    assert statuses(proxy, 6) == [503, 503, 200, 503, 503, 200]
    assert [get(proxy, "/other").status for _ in range(3)] == [503, 503, 404]
    unbounded = faulty_proxy(upstream.endpoint, fault_rate=1.0, statuses=(503,))
    assert statuses(unbounded, 4) == [503] * 4


def test_latency_is_added_to_every_request(upstream: BackgroundServer, faulty_proxy: Any) -> None:
    slow = faulty_proxy(upstream.endpoint, latency=0.1)
    started = time.monotonic()
    assert statuses(slow, 3) == [200, 200, 200]
    assert time.monotonic() - started >= 0.3


@pytest.fixture
def counting_upstream() -> Iterator[tuple[BackgroundServer, list[str]]]:
    """An upstream that records each request it acts on."""
    app = JsonApp("counting")
    seen: list[str] = []

    @app.route("POST", "/machines")
    def create(request: Any) -> JsonReply:
        seen.append(request.path)
        return JsonReply(201, {"id": len(seen)})

    server = BackgroundServer(app, name="counting")
    try:
        yield server, seen
    finally:
        server.stop()


def test_cut_connections_before_and_after_the_upstream_acted(
    counting_upstream: tuple[BackgroundServer, list[str]], faulty_proxy: Any
) -> None:
    import requests
    from sloth_kubernetes.cloud.retry import classify
    from sloth_kubernetes.testing.emulators.faults import DROP, LOST_REPLY

    server, seen = counting_upstream
    for fault, reaches_upstream in ((DROP, False), (LOST_REPLY, True)):
        proxy = faulty_proxy(server.endpoint, fault_rate=1.0, statuses=(fault,))
        seen.clear()
        with pytest.raises(requests.ConnectionError) as caught:
            requests.post(proxy.endpoint + "/machines", json={"name": "m1"}, timeout=10)
        assert bool(seen) is reaches_upstream, fault  # LOST_REPLY: the machine was made
        assert proxy.counters.by_fault == {fault: 1}
        verdict = classify(caught.value)  # what the retry layer makes of it
        assert (verdict.retryable, verdict.reason, verdict.not_processed) == (
            True, "connection", False,
        )  # fmt: skip


def test_retries_run_out_naming_the_cloud_and_the_call(
    upstream: BackgroundServer, faulty_proxy: Any
) -> None:
    import requests
    from sloth_kubernetes.cloud.ratelimit import RateLimit, TokenBucket
    from sloth_kubernetes.cloud.retry import Guard, RetryPolicy
    from sloth_kubernetes.errors import ProviderError
    from sloth_kubernetes.testing.emulators.faults import DROP

    proxy = faulty_proxy(upstream.endpoint, fault_rate=1.0, statuses=(503, DROP), retry_after=1)
    slept: list[float] = []
    guard = Guard("aws", TokenBucket(RateLimit(1000, 1000)), RetryPolicy(attempts=4, cap=0.5),
                  sleep=slept.append, seed=3)  # fmt: skip

    def call() -> None:
        reply = requests.get(proxy.endpoint + "/data.json", timeout=10)
        if reply.status_code >= 500:
            raise ProviderError("busy", http_status=reply.status_code, retryable=True)

    with pytest.raises(ProviderError) as caught:
        guard.request("GET DescribeInstances", call)

    assert str(caught.value).startswith("aws: GET DescribeInstances still failing after 4 ")
    assert proxy.counters.requests == 4  # bounded: no fifth try
    assert len(slept) == 3
    assert all(delay <= 0.5 for delay in slept)  # Retry-After: 1, capped at 0.5 s
