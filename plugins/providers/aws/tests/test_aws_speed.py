"""What makes provisioning on EC2 fast, checked against moto: the request budget AWS documents,
polls while creates go on, batched deletes, and the network finished while machines are created.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ec2_fake import ec2_driver

POOL = {"image": "ami-785db401"}


def test_default_budget_paces_run_instances_as_aws_documents(
    cloud_harness: Callable[..., Any], ec2_emulator: Any
) -> None:
    # AWS: RunInstances has its own bucket, 5 at once and 2 per second. Seven machines: five at
    # once, the sixth and seventh half a second apart. (One bucket of 20/s, burst 100 — the old
    # default — would have sent all seven at once.)
    harness = cloud_harness(count=7, pool=POOL, privateNetwork=False)
    started = time.monotonic()
    records = harness.provision()
    assert time.monotonic() - started >= 0.9
    assert len(records) == 7
    assert ec2_emulator.requests.count(action="RunInstances", status=200) == 7
    own_budget = cloud_harness(count=7, pool=POOL, privateNetwork=False, rateLimit=1000)
    started = time.monotonic()
    assert len(own_budget.provision()) == 7  # rateLimit: one budget of the operator's own
    assert time.monotonic() - started < 0.9
    harness.destroy(records)
    own_budget.destroy(list(own_budget.listed().values()))


def test_machines_are_polled_while_others_are_still_being_created(
    cloud_harness: Callable[..., Any], ec2_emulator: Any, faulty_proxy: Any
) -> None:
    proxy = faulty_proxy(ec2_emulator, latency=0.05)
    harness = cloud_harness(
        count=12, pool=POOL, endpoint=proxy.endpoint, concurrency=2, rateLimit=1000,
        burst=1000, pollInterval=0.05, privateNetwork=False,
    )  # fmt: skip
    records = harness.provision()
    messages = [e["message"] for e in harness.events if e.get("node")]
    last_create = max(i for i, m in enumerate(messages) if m.startswith("creating"))
    first_running = messages.index("running")
    assert first_running < last_create, messages
    actions = [r.action for r in ec2_emulator.requests.records]
    runs = [i for i, action in enumerate(actions) if action == "RunInstances"]
    polls = [i for i, action in enumerate(actions) if action == "DescribeInstances"]
    assert any(runs[0] < i < runs[-1] for i in polls)  # one poll loop, from the first create
    assert len(polls) < len(runs)  # not one poll per machine
    harness.destroy(records)


def test_deletes_go_one_hundred_instances_per_request(
    cloud_harness: Callable[..., Any], ec2_emulator: Any
) -> None:
    harness = cloud_harness(count=105, pool=POOL, rateLimit=1000, burst=1000, privateNetwork=False)
    records = harness.provision()
    harness.destroy(records)
    assert harness.listed() == {}
    assert ec2_emulator.requests.count(action="TerminateInstances", status=200) == 2


def test_gateway_route_and_rules_are_in_place_when_provisioning_returns(
    cloud_harness: Callable[..., Any], ec2_emulator: Any
) -> None:
    harness = cloud_harness(count=2, pool=POOL)
    records = harness.provision()
    driver = ec2_driver(ec2_emulator)
    (network,) = harness.driver().list_networks(harness.name)
    (gateway,) = driver.ex_list_internet_gateways(filters={"attachment.vpc-id": network.id})
    tables = driver.connection.request(
        driver.path,
        params={"Action": "DescribeRouteTables", "Filter.1.Name": "vpc-id",
                "Filter.1.Value.1": network.id},
    ).object  # fmt: skip
    routes = {
        (route.findtext("{*}destinationCidrBlock"), route.findtext("{*}gatewayId"))
        for route in tables.iterfind(".//{*}routeSet/{*}item")
    }
    assert ("0.0.0.0/0", gateway.id) in routes
    (firewall,) = harness.driver().list_firewalls(harness.name)
    assert any(r.ports == "22" for r in harness.driver().firewall_rules(firewall))
    # a second run adopts the network and finds its subnet: nothing new is created
    before = ec2_emulator.requests.count(action="CreateSubnet")
    assert {r.cloud_id for r in harness.provision()} == {r.cloud_id for r in records}
    assert ec2_emulator.requests.count(action="CreateSubnet") == before
    harness.destroy(records)
    assert harness.resources() == []


def test_emulator_finds_images_by_id_as_moto_does(ec2_emulator: Any) -> None:
    # The emulator answers moto's per-instance image lookup by key: the instance still gets the
    # image's attributes (a Windows AMI makes a Windows instance), and an unknown image is
    # still accepted without any (moto's known difference from AWS).
    driver = ec2_driver(ec2_emulator)

    def platform(image: str) -> str | None:
        reply = driver.connection.request(
            driver.path,
            params={"Action": "RunInstances", "ImageId": image, "MinCount": "1",
                    "MaxCount": "1", "InstanceType": "t3.micro"},
        ).object  # fmt: skip
        instance = reply.findtext(".//{*}instanceId")
        described = driver.connection.request(
            driver.path, params={"Action": "DescribeInstances", "InstanceId.1": instance}
        ).object
        return described.findtext(".//{*}platform")

    assert platform("ami-03cf127a") == "windows"
    assert platform("ami-785db401") is None
    assert platform("ami-00000000000000000") is None
    timings = ec2_emulator.timings()
    assert [action for action, _ in timings].count("RunInstances") == 3
    assert all(seconds >= 0 for _, seconds in timings)
    ec2_emulator.reset()
    assert ec2_emulator.timings() == []


def test_a_batch_with_an_unknown_instance_still_deletes_the_others(
    cloud_harness: Callable[..., Any], ec2_emulator: Any
) -> None:
    from sloth_kubernetes.cloud import Machine

    harness = cloud_harness(count=2, pool=POOL, privateNetwork=False)
    first, second = harness.provision()
    driver = harness.driver()
    machines = {m.id: m for m in driver.list_machines(harness.name)}
    unknown = Machine(id="i-0123456789abcdef0", name="gone", state="running")
    driver.destroy_machines([machines[first.cloud_id], unknown, machines[second.cloud_id]])
    assert harness.listed() == {}
    harness.destroy([first, second])
    assert harness.resources() == []
