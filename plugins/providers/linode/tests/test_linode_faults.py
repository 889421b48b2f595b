"""Linode wraps 429 in its own error (``LibcloudError('… Status code: 429.')``): still retried."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def test_wrapped_rate_limit_errors_are_retried(
    cloud_harness: Callable[..., Any], linode_emulator: Any, faulty_proxy: Any
) -> None:
    proxy = faulty_proxy(linode_emulator, fault_rate=0.3, statuses=(429,), retry_after=0, seed=3)
    harness = cloud_harness(count=4, endpoint=proxy.endpoint)
    proxy.reset()
    records = harness.provision()
    faults = proxy.counters.faults
    assert len(records) == 4
    assert len(linode_emulator.fake.instances) == 4
    assert faults > 0
    (summary,) = [e for e in harness.events if e.get("retries")]
    assert summary["retries"] == faults
    assert summary["retryReasons"] == {"429": faults}
    proxy.configure(type(proxy.policy)())
    harness.destroy(records)
