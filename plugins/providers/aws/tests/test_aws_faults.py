"""AWS throttling (``Throttling``/``RequestLimitExceeded`` error codes) in front of moto."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def test_thirty_percent_throttling_ten_instances_no_duplicate(
    cloud_harness: Callable[..., Any], ec2_emulator: Any, faulty_proxy: Any
) -> None:
    proxy = faulty_proxy(ec2_emulator, fault_rate=0.3, retry_after=0, seed=11, body_style="aws")
    harness = cloud_harness(count=10, endpoint=proxy.endpoint, pool={"image": "ami-785db401"})
    proxy.reset()
    records = harness.provision()
    faults = proxy.counters.faults
    assert len(records) == 10
    run_instances = ec2_emulator.requests.count(action="RunInstances", status=200)
    assert run_instances == 10  # no duplicate instance
    (summary,) = [e for e in harness.events if e.get("retries")]
    assert summary["retries"] == faults > 0
    # libcloud raises its own 429 error before reading the body; 503 carries the AWS code
    assert set(summary["retryReasons"]) <= {"429", "aws:Throttling", "aws:RequestLimitExceeded"}
    proxy.configure(type(proxy.policy)())
    harness.destroy(records)
    assert harness.resources() == []
