"""libcloud's DigitalOcean v2 driver through Prism (spec-validated) and the stateful fake."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

pytestmark = pytest.mark.emulator

PUBLIC_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl sloth-test"
)


def do_driver(emulator: Any, *, per_page: int = 200) -> Any:
    from libcloud.compute.drivers.digitalocean import DigitalOceanNodeDriver

    # The driver ignores host/port kwargs and its __new__ refuses extra kwargs (ex_per_page
    # included), so both are set after construction.
    driver = DigitalOceanNodeDriver("sloth-test-token")
    driver.ex_per_page = per_page
    driver.connection.host = emulator.host
    driver.connection.port = emulator.port
    driver.connection.secure = False
    driver.connection.connect()
    return driver


def create(driver: Any, name: str, tags: list[str]) -> Any:
    size = next(s for s in driver.list_sizes() if s.id == "s-1vcpu-1gb")
    image = next(i for i in driver.list_images() if i.extra["slug"] == "debian-12-x64")
    location = next(loc for loc in driver.list_locations() if loc.id == "fra1")
    # user_data must be a string: libcloud sends null when it is not given, which the spec refuses
    return driver.create_node(
        name, size, image, location, ex_create_attr={"tags": tags}, ex_user_data="#cloud-config\n"
    )


def test_create_list_paginated_and_destroy(digitalocean_emulator: Any) -> None:
    from libcloud.compute.types import NodeState

    driver = do_driver(digitalocean_emulator, per_page=2)
    created = [create(driver, f"node-{i}", ["sloth-demo"]) for i in range(5)]
    assert {n.state for n in created} == {NodeState.PENDING}

    listed = driver.list_nodes()  # three pages of two
    assert sorted(n.name for n in listed) == [f"node-{i}" for i in range(5)]
    assert {n.state for n in listed} == {NodeState.RUNNING}
    assert digitalocean_emulator.requests.count("GET", "/v2/droplets") == 3
    assert all(n.public_ips and n.private_ips for n in listed)

    assert driver.destroy_node(listed[0]) is True
    assert len(driver.list_nodes()) == 4


def test_tag_filter_and_delete_by_tag(digitalocean_emulator: Any) -> None:
    driver = do_driver(digitalocean_emulator)
    create(driver, "mine-1", ["sloth-cluster-a"])
    create(driver, "mine-2", ["sloth-cluster-a"])
    create(driver, "other", ["sloth-cluster-b"])

    reply = driver.connection.request("/v2/droplets", params={"tag_name": "sloth-cluster-a"})
    assert sorted(d["name"] for d in reply.object["droplets"]) == ["mine-1", "mine-2"]
    driver.connection.request(
        "/v2/droplets", params={"tag_name": "sloth-cluster-a"}, method="DELETE"
    )
    assert [n.name for n in driver.list_nodes()] == ["other"]


def test_ssh_keys_firewalls_and_vpcs(digitalocean_emulator: Any) -> None:
    driver = do_driver(digitalocean_emulator)
    key = driver.create_key_pair("sloth-key", PUBLIC_KEY)
    assert driver.get_key_pair("sloth-key").fingerprint == key.fingerprint

    vpc = driver.connection.request(
        "/v2/vpcs",
        data=json.dumps({"name": "sloth-demo", "region": "fra1", "ip_range": "10.77.0.0/20"}),
        method="POST",
    ).object["vpc"]
    firewall = driver.connection.request(
        "/v2/firewalls",
        data=json.dumps(
            {
                "name": "sloth-demo",
                "tags": ["sloth-demo"],
                "inbound_rules": [
                    {"protocol": "udp", "ports": "51820", "sources": {"addresses": ["0.0.0.0/0"]}}
                ],
                "outbound_rules": [
                    {
                        "protocol": "tcp",
                        "ports": "all",
                        "destinations": {"addresses": ["0.0.0.0/0"]},
                    }
                ],
            }
        ),
        method="POST",
    ).object["firewall"]
    listed = driver.connection.request("/v2/firewalls").object["firewalls"]
    assert [f["id"] for f in listed] == [firewall["id"]]

    # libcloud's create_node drops every attribute outside its allow-list (vpc_uuid included):
    # placing a droplet in a VPC takes a direct POST.
    droplet = driver.connection.request(
        "/v2/droplets",
        data=json.dumps(
            {
                "name": "in-vpc",
                "region": "fra1",
                "size": "s-1vcpu-1gb",
                "image": "debian-12-x64",
                "vpc_uuid": vpc["id"],
                "ssh_keys": [key.extra["id"]],
                "tags": ["sloth-demo"],
            }
        ),
        method="POST",
    ).object["droplet"]
    node = driver.ex_get_node_details(droplet["id"])
    assert node.private_ips[0].startswith("10.77.")
    assert driver.delete_key_pair(key) is True


def test_spec_violation_is_reported_with_the_rule(digitalocean_emulator: Any) -> None:
    from libcloud.common.exceptions import BaseHTTPError

    driver = do_driver(digitalocean_emulator)
    size, image = driver.list_sizes()[0], driver.list_images()[0]
    location = driver.list_locations()[0]
    with pytest.raises(BaseHTTPError):
        driver.create_node("no-user-data", size, image, location)  # sends "user_data": null
    violations = digitalocean_emulator.take_violations()
    assert any(v.startswith("request.body.user_data") for v in violations), violations
    assert digitalocean_emulator.requests.count("POST", "/v2/droplets", status=422) == 1
    assert digitalocean_emulator.fake.droplets == {}  # Prism never forwarded it


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
