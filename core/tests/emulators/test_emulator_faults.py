"""The fault-injecting proxy: seeded faults, Retry-After, latency, counters; libcloud behind it."""

from __future__ import annotations

import http.client
import json
import time
from typing import Any

import pytest

pytestmark = pytest.mark.emulator


def get(proxy: Any, path: str = "/") -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection(proxy.host, proxy.port, timeout=10)
    connection.request("GET", path)
    reply = connection.getresponse()
    reply.read()
    connection.close()
    return reply


def statuses(proxy: Any, count: int) -> list[int]:
    return [get(proxy, "/moto-api/data.json").status for _ in range(count)]


def test_faults_are_seeded_counted_and_carry_retry_after(
    ec2_emulator: Any, faulty_proxy: Any
) -> None:
    first = faulty_proxy(ec2_emulator, fault_rate=0.3, seed=7, retry_after=2)
    second = faulty_proxy(ec2_emulator, fault_rate=0.3, seed=7, retry_after=2)
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

    always = faulty_proxy(ec2_emulator, fault_rate=1.0, statuses=(429,), retry_after=3)
    reply = get(always)
    assert reply.status == 429
    assert reply.getheader("Retry-After") == "3"


def test_latency_is_added_to_every_request(ec2_emulator: Any, faulty_proxy: Any) -> None:
    slow = faulty_proxy(ec2_emulator, latency=0.1)
    started = time.monotonic()
    assert statuses(slow, 3) == [200, 200, 200]
    assert time.monotonic() - started >= 0.3


def test_libcloud_does_not_retry_a_throttled_ec2_call(ec2_emulator: Any, faulty_proxy: Any) -> None:
    """Why the project needs its own retry layer (TESTING.md): one 503, one failed call."""
    from libcloud.common.exceptions import BaseHTTPError
    from libcloud.compute.drivers.ec2 import EC2NodeDriver

    proxy = faulty_proxy(ec2_emulator, fault_rate=1.0, statuses=(503,), body_style="aws")
    driver = EC2NodeDriver(
        "AKIDSLOTHTEST",
        "not-a-secret",
        region="eu-west-1",
        host=proxy.host,
        port=proxy.port,
        secure=False,
        signature_version="4",
    )
    with pytest.raises(BaseHTTPError, match="RequestLimitExceeded"):
        driver.list_nodes()
    assert proxy.counters.requests == 1
    assert ec2_emulator.requests.total == 0  # the fault never reached moto


def test_faulty_proxy_in_front_of_prism(digitalocean_emulator: Any, faulty_proxy: Any) -> None:
    from libcloud.compute.drivers.digitalocean import DigitalOceanNodeDriver

    proxy = faulty_proxy(digitalocean_emulator, fault_rate=0.5, statuses=(429,), seed=3)
    driver = DigitalOceanNodeDriver("sloth-test-token")
    driver.connection.host, driver.connection.port = proxy.host, proxy.port
    driver.connection.secure = False
    driver.connection.connect()
    outcomes: list[str] = []
    for _ in range(10):
        try:
            driver.list_sizes()
            outcomes.append("ok")
        except Exception as error:  # libcloud raises a generic error for DigitalOcean's 429
            outcomes.append(str(error))
    throttled = [o for o in outcomes if o != "ok"]
    assert "ok" in outcomes
    assert throttled
    assert all("rate limit" in o.lower() for o in throttled), throttled
    assert proxy.counters.faults == len(throttled)


def test_one_driver_per_thread_under_latency(digitalocean_emulator: Any, faulty_proxy: Any) -> None:
    """16 threads, one driver each, 100 ms per request: nothing lost, far faster than serial."""
    from concurrent.futures import ThreadPoolExecutor

    from libcloud.compute.drivers.digitalocean import DigitalOceanNodeDriver

    proxy = faulty_proxy(digitalocean_emulator, latency=0.1)

    def create(index: int) -> str:
        driver = DigitalOceanNodeDriver("sloth-test-token")  # not thread-safe: one per thread
        driver.connection.host, driver.connection.port = proxy.host, proxy.port
        driver.connection.secure = False
        driver.connection.connect()
        reply = driver.connection.request(
            "/v2/droplets",
            data=json.dumps(
                {
                    "name": f"node-{index}",
                    "region": "fra1",
                    "size": "s-1vcpu-1gb",
                    "image": "debian-12-x64",
                }
            ),
            method="POST",
        )
        return str(reply.object["droplet"]["name"])

    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        names = sorted(pool.map(create, range(32)))
    elapsed = time.monotonic() - started
    assert names == sorted(f"node-{i}" for i in range(32))
    assert len(digitalocean_emulator.fake.droplets) == 32
    assert elapsed < 32 * 0.1  # serial would take at least 3.2 s
