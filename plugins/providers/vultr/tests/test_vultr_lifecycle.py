"""A full cluster lifecycle against the fake Vultr API (every request and reply checked against
Vultr's OpenAPI document): what the plugin sent is read back from the fake and what it built is
read from the fake's state."""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Callable
from typing import Any

import pytest
from sloth_kubernetes.cloud import FirewallRule
from sloth_kubernetes.cloud.rules import cluster_rules
from sloth_kubernetes.cloud.userdata import public_host_key_in
from sloth_kubernetes.secrets import redact
from sloth_kubernetes.testing.provider_contract import OPERATOR_KEY

pytestmark = pytest.mark.emulator

CLUSTER = "vrec"
NODES = {f"{CLUSTER}-server-1", f"{CLUSTER}-agent-1", f"{CLUSTER}-agent-2"}


def _as_rule(body: dict[str, Any]) -> tuple[str, str, str]:
    """A sent Vultr rule (colon port ranges, subnet + subnet_size) as protocol/ports/source."""
    ports = str(body.get("port") or "0").replace(":", "-")
    return body["protocol"], ports, f"{body['subnet']}/{body['subnet_size']}"


def test_lifecycle_creates_adopts_and_destroys_everything(
    cloud_harness: Callable[..., Any], fake: Any
) -> None:
    fake.page_limit = 2  # every listing of 3 machines takes two pages (cursor)
    harness = cloud_harness(name=CLUSTER, count=3)

    records = harness.provision()
    (key_id,) = fake.keys
    (vpc_id,) = fake.vpcs
    (firewall_id,) = fake.firewalls

    assert {r.name for r in records} == NODES
    network = ipaddress.ip_network("10.240.0.0/16")
    for record in records:
        assert record.public_address
        assert not record.public_address.startswith("0.")
        assert record.private_address
        assert ipaddress.ip_address(record.private_address) in network
        assert record.host_key
        assert record.host_key.startswith("ssh-ed25519 ")
        assert record.extra["size"] == "vc2-2c-4gb"
    creates = {body["label"]: body for body in fake.sent("POST", "/v2/instances")}
    assert set(creates) == NODES  # one create per node, none repeated
    by_name = {r.name: r for r in records}
    for name, body in creates.items():
        user_data = base64.b64decode(body["user_data"]).decode()
        assert public_host_key_in(user_data) == by_name[name].host_key
        assert OPERATOR_KEY in user_data
        assert body["tags"] == [f"sloth-cluster:{CLUSTER}", f"sloth-node:{name}"]
        assert body["hostname"] == name
        assert body["os_id"] == 2284  # ubuntu-24.04, the default image alias
        assert body["region"] == "fra"
        assert body["attach_vpc"] == [vpc_id]  # attached to the cluster's VPC
        assert body["firewall_group_id"] == firewall_id
        assert body["sshkey_id"] == [key_id]
    # The generated root password in the create replies is redacted wherever it might show.
    for password in fake.passwords:
        assert password not in redact(f"password {password}")

    assert fake.sent("POST", "/v2/ssh-keys") == [
        {"name": f"sloth-cluster:{CLUSTER}", "ssh_key": OPERATOR_KEY}
    ]
    assert fake.sent("POST", "/v2/vpcs") == [
        {"region": "fra", "description": f"sloth-cluster:{CLUSTER}",
         "v4_subnet": "10.240.0.0", "v4_subnet_mask": 16}
    ]  # fmt: skip
    expected = cluster_rules(harness.context.config, "10.240.0.0/16")
    wanted = [(r.protocol, r.ports, s) for r in expected for s in r.sources]
    rules_sent = fake.sent("POST", f"/v2/firewalls/{firewall_id}/rules")
    assert [_as_rule(b) for b in rules_sent] == wanted
    assert all(b["ip_type"] == "v4" for b in rules_sent)
    assert "port" not in rules_sent[-1]  # ICMP takes no port

    before = len(fake.received)
    listed = harness.listed()  # over two pages of the tag listing (cursor)
    pages = [p for m, p, _ in fake.received[before:] if p == "/v2/instances"]
    assert len(pages) == 2
    assert set(listed) == NODES
    assert {n.cloud_id for n in listed.values()} == {r.cloud_id for r in records}
    driver = harness.driver()
    (firewall,) = driver.list_firewalls(CLUSTER)
    read_back = [
        FirewallRule(r.protocol, r.ports, r.sources) for r in driver.firewall_rules(firewall)
    ]
    assert read_back == [FirewallRule(r.protocol, r.ports, r.sources) for r in expected]

    again = harness.provision()  # adopts: nothing is created the second time
    assert {r.cloud_id for r in again} == {r.cloud_id for r in records}
    assert all(r.extra.get("adopted") for r in again)
    assert len(fake.sent("POST", "/v2/instances")) == 3
    assert len(fake.sent("POST", "/v2/ssh-keys")) == 1
    assert len(fake.sent("POST", "/v2/vpcs")) == 1
    assert len(fake.sent("POST", "/v2/firewalls")) == 1

    removed = harness.destroy(records)

    assert sorted(removed) == sorted(NODES)
    deleted = {p for m, p, _ in fake.received if m == "DELETE"}
    assert deleted == {f"/v2/instances/{r.cloud_id}" for r in records} | {
        f"/v2/firewalls/{firewall_id}",
        f"/v2/vpcs/{vpc_id}",
        f"/v2/ssh-keys/{key_id}",
    }
    assert harness.listed() == {}
    assert harness.resources() == []
    assert (fake.instances, fake.keys, fake.vpcs, fake.firewalls) == ({}, {}, {}, {})
    # Every request carried the API key as a Bearer token (the fake answers 401 otherwise).
    assert fake.requests.count(status=401) == 0
