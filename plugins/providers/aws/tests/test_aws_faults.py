"""AWS throttling (``Throttling``/``RequestLimitExceeded`` error codes) in front of moto."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ec2_fake import aws_fault_body


def test_thirty_percent_throttling_ten_instances_no_duplicate(
    cloud_harness: Callable[..., Any], ec2_emulator: Any, faulty_proxy: Any
) -> None:
    proxy = faulty_proxy(
        ec2_emulator, fault_rate=0.3, retry_after=0, seed=11, fault_body=aws_fault_body
    )
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


def test_more_than_one_page_of_instances_is_listed_and_adopted(
    cloud_harness: Callable[..., Any], ec2_emulator: Any
) -> None:
    # moto pages DescribeInstances at 100 instances (AWS pages too): all 105 must be seen.
    harness = cloud_harness(
        count=105, pool={"image": "ami-785db401"}, rateLimit=1000, burst=1000, privateNetwork=False
    )
    records = harness.provision()
    assert len(records) == 105
    assert len(harness.listed()) == 105
    again = harness.provision()  # adopts all of them
    assert {r.cloud_id for r in again} == {r.cloud_id for r in records}
    assert ec2_emulator.requests.count(action="RunInstances", status=200) == 105
    harness.destroy(records)
    assert harness.listed() == {}


def test_vpc_steps_repeated_after_a_lost_reply_still_delete_the_vpc(
    cloud_harness: Callable[..., Any], monkeypatch: Any
) -> None:
    """A step of deleting the VPC whose reply was lost is repeated by the retry layer and
    answered "already done" (the gateway not attached, the subnet not found): that answer must
    not pass for the VPC's own "not found", or the VPC is left behind (seen in the flaky-API
    contract test)."""
    from libcloud.compute.drivers.ec2 import EC2NodeDriver

    def acted_then_repeated(step: Callable[..., Any]) -> Callable[..., Any]:
        def twice(*args: Any, **kwargs: Any) -> Any:
            step(*args, **kwargs)  # the cloud acted; its reply was lost
            return step(*args, **kwargs)  # what the retry layer sends next

        return twice

    harness = cloud_harness(count=1, pool={"image": "ami-785db401"})
    records = harness.provision()
    assert {r.kind for r in harness.resources()} >= {"network"}
    for step in ("ex_detach_internet_gateway", "ex_delete_internet_gateway", "ex_delete_subnet"):
        monkeypatch.setattr(EC2NodeDriver, step, acted_then_repeated(getattr(EC2NodeDriver, step)))
    assert harness.destroy(records) == [records[0].name]
    assert harness.resources() == []
