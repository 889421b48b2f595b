"""Linode specifics the generic contract cannot see: VPC interfaces and firewall attachment."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.emulator


def test_nodes_sit_on_the_cluster_vpc_behind_the_firewall_from_creation(
    cloud_harness: Callable[..., Any], linode_emulator: Any
) -> None:
    harness = cloud_harness(count=2, networkCIDR="10.77.0.0/24")
    records = harness.provision()
    fake = linode_emulator.fake
    (vpc,) = fake.vpcs.values()
    assert vpc["label"] == f"sloth-{harness.name}"
    (subnet,) = vpc["subnets"]
    assert subnet["ipv4"] == "10.77.0.0/24"
    ids = {int(r.cloud_id) for r in records}
    assert {x["id"] for x in subnet["linodes"]} == ids
    for record in records:
        assert ipaddress.ip_address(record.private_address) in ipaddress.ip_network("10.77.0.0/24")
        # on a VPC the legacy, region-shared private IPv4 is not requested
        assert not any(
            a.startswith("192.168.") for a in fake.instances[int(record.cloud_id)]["ipv4"]
        )
    (firewall,) = fake.firewalls.values()
    assert firewall["_devices"] == ids  # attached at creation, no separate request
    assert (
        linode_emulator.requests.count(method="POST", path_prefix="/v4/networking/firewalls/") == 0
    )

    harness.destroy(records)
    assert fake.vpcs == {}
    assert fake.firewalls == {}


def test_without_private_network_nodes_get_linode_private_ips(
    cloud_harness: Callable[..., Any], linode_emulator: Any
) -> None:
    harness = cloud_harness(count=1, privateNetwork=False)
    (record,) = harness.provision()
    assert linode_emulator.fake.vpcs == {}
    assert record.private_address.startswith("192.168.")
    # no VPC is looked for, on any of the listings while the machine boots
    assert linode_emulator.requests.count(method="GET", path_prefix="/v4/vpcs") == 0
    harness.destroy([record])
