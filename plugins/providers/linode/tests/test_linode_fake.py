"""libcloud's Linode v4 driver through Prism (spec-validated) and the stateful fake."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.emulator

PUBLIC_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl sloth-test"
)


def linode_driver(emulator: Any) -> Any:
    from libcloud.compute.drivers.linode import LinodeNodeDriver

    driver = LinodeNodeDriver("sloth-test-token", api_version="4.0")
    driver.connection.host = emulator.host
    driver.connection.port = emulator.port
    driver.connection.secure = False
    driver.connection.connect()
    return driver


def create(driver: Any, label: str, tags: list[str]) -> Any:
    location = next(loc for loc in driver.list_locations() if loc.id == "eu-central")
    size = next(s for s in driver.list_sizes() if s.id == "g6-nanode-1")
    image = next(i for i in driver.list_images() if i.id == "linode/debian12")
    return driver.create_node(
        location, label, size, image, root_pass="Not-used-1234!", ex_tags=tags, ex_private_ip=True
    )


def test_create_list_paginated_and_destroy(linode_emulator: Any) -> None:
    from libcloud.compute.types import NodeState

    driver = linode_driver(linode_emulator)
    location = next(loc for loc in driver.list_locations() if loc.id == "eu-central")
    size = next(s for s in driver.list_sizes() if s.id == "g6-nanode-1")
    image = next(i for i in driver.list_images() if i.id == "linode/debian12")
    for i in range(27):  # libcloud asks for 25 per page: two pages
        driver.create_node(location, f"node-{i:02d}", size, image, root_pass="Not-used-1234!")

    listed = driver.list_nodes()
    assert len(listed) == 27
    assert linode_emulator.requests.count("GET", "/v4/linode/instances") == 2
    assert {n.state for n in listed} == {NodeState.RUNNING}
    assert driver.destroy_node(listed[0]) is True
    assert len(driver.list_nodes()) == 26


def test_filter_by_tag_with_x_filter(linode_emulator: Any) -> None:
    driver = linode_driver(linode_emulator)
    create(driver, "mine-1", ["sloth-cluster-a"])
    create(driver, "other-1", ["sloth-cluster-b"])
    reply = driver.connection.request(
        "/v4/linode/instances", headers={"X-Filter": json.dumps({"tags": "sloth-cluster-a"})}
    ).object
    assert [i["label"] for i in reply["data"]] == ["mine-1"]
    assert reply["results"] == 1


def test_ssh_keys_firewalls_vpcs(linode_emulator: Any) -> None:
    driver = linode_driver(linode_emulator)
    key = driver.create_key_pair("sloth-key", PUBLIC_KEY)
    assert [k.name for k in driver.list_key_pairs()] == ["sloth-key"]

    node = create(driver, "node-1", ["sloth-demo"])
    assert node.private_ips
    assert node.public_ips
    firewall = driver.connection.request(
        "/v4/networking/firewalls",
        data=json.dumps(
            {
                "label": "sloth-demo",
                "rules": {"inbound_policy": "DROP", "outbound_policy": "ACCEPT", "inbound": []},
                "devices": {"linodes": [int(node.id)]},
            }
        ),
        method="POST",
    ).object
    assert firewall["status"] == "enabled"
    vpc = driver.connection.request(
        "/v4/vpcs",
        data=json.dumps(
            {
                "label": "sloth-demo",
                "region": "eu-central",
                "subnets": [{"label": "nodes", "ipv4": "10.0.0.0/24"}],
            }
        ),
        method="POST",
    ).object
    assert vpc["subnets"][0]["ipv4"] == "10.0.0.0/24"
    assert key.extra["id"] in linode_emulator.fake.keys


def test_invalid_label_is_refused_with_the_rule(linode_emulator: Any) -> None:
    driver = linode_driver(linode_emulator)
    with pytest.raises(KeyError):  # libcloud's Linode driver cannot parse Prism's 422 body
        create(driver, "n1", [])  # labels need at least three characters
    violations = linode_emulator.take_violations()
    assert any("request.body.label" in v for v in violations), violations
