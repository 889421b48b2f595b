"""Recorded responses (no Vultr server or spec exists here): a full cluster lifecycle.

The scenario ``recorded/lifecycle`` replays Vultr API v2 replies in the documented shapes (see
its README); what the plugin *sent* is read back from the replay server and checked against
Vultr's documented request formats.
"""

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
KEY_ID = "3b8066a7-b438-455a-9688-44afc9a3597f"
VPC_ID = "c1b5c2ea-9d2c-4e0e-9d7a-5a0e2ad0b4a1"
FIREWALL_ID = "1234abcd"
NODES = {f"{CLUSTER}-server-1", f"{CLUSTER}-agent-1", f"{CLUSTER}-agent-2"}


def _as_rule(body: dict[str, Any]) -> tuple[str, str, str]:
    """A sent Vultr rule (colon port ranges, subnet + subnet_size) as protocol/ports/source."""
    ports = str(body.get("port") or "0").replace(":", "-")
    return body["protocol"], ports, f"{body['subnet']}/{body['subnet_size']}"


def test_recorded_lifecycle_creates_adopts_and_destroys_everything(
    cloud_harness: Callable[..., Any], vultr_api: Callable[[str], Any], sent: Any
) -> None:
    api = vultr_api("lifecycle")
    harness = cloud_harness(name=CLUSTER, count=3, endpoint=api.endpoint)

    records = harness.provision()

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
    creates = {body["label"]: body for body in sent(api, "POST", "/v2/instances")}
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
        assert body["attach_vpc"] == [VPC_ID]  # attached to the cluster's VPC
        assert body["firewall_group_id"] == FIREWALL_ID
        assert body["sshkey_id"] == [KEY_ID]
    # The generated root password in the create replies is redacted wherever it might show.
    assert "kB1?@aqK3QSk@)-q" not in redact("password kB1?@aqK3QSk@)-q")

    assert sent(api, "POST", "/v2/ssh-keys") == [
        {"name": f"sloth-cluster:{CLUSTER}", "ssh_key": OPERATOR_KEY}
    ]
    assert sent(api, "POST", "/v2/vpcs") == [
        {"region": "fra", "description": f"sloth-cluster:{CLUSTER}",
         "v4_subnet": "10.240.0.0", "v4_subnet_mask": 16}
    ]  # fmt: skip
    expected = cluster_rules(harness.context.config, "10.240.0.0/16")
    wanted = [(r.protocol, r.ports, s) for r in expected for s in r.sources]
    rules_sent = sent(api, "POST", f"/v2/firewalls/{FIREWALL_ID}/rules")
    assert [_as_rule(b) for b in rules_sent] == wanted
    assert all(b["ip_type"] == "v4" for b in rules_sent)
    assert "port" not in rules_sent[-1]  # ICMP takes no port

    listed = harness.listed()  # over two pages of the tag listing (cursor)
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
    assert len(sent(api, "POST", "/v2/instances")) == 3
    assert len(sent(api, "POST", "/v2/ssh-keys")) == 1
    assert len(sent(api, "POST", "/v2/vpcs")) == 1
    assert len(sent(api, "POST", "/v2/firewalls")) == 1

    removed = harness.destroy(records)

    assert sorted(removed) == sorted(NODES)
    deleted = {p for m, p, _ in api.received if m == "DELETE"}
    assert deleted == {f"/v2/instances/{r.cloud_id}" for r in records} | {
        f"/v2/firewalls/{FIREWALL_ID}",
        f"/v2/vpcs/{VPC_ID}",
        f"/v2/ssh-keys/{KEY_ID}",
    }
    assert harness.listed() == {}
    assert harness.resources() == []
    assert api.unmatched == []
    # Every request carried the API key as a Bearer token and went to the endpoint given.
    assert api.requests.total == len(api.received)
