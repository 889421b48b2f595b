"""Full lifecycle against recorded Compute Engine exchanges (no live API checked these)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import EMAIL, PROJECT, sent
from sloth_kubernetes.cloud import FirewallRule
from sloth_kubernetes.cloud.rules import cluster_rules
from sloth_kubernetes.cloud.userdata import public_host_key_in
from sloth_kubernetes.testing.provider_contract import OPERATOR_KEY

pytestmark = pytest.mark.emulator

NODES = ["demo-agent-1", "demo-agent-2", "demo-server-1"]


def _rule_of(body: dict[str, Any]) -> FirewallRule:
    (allowed,) = body["allowed"]
    return FirewallRule(
        allowed["IPProtocol"],
        (allowed.get("ports") or ["0"])[0],
        tuple(body["sourceRanges"]),
        body["description"].partition(": ")[2],
    )


def test_recorded_provision_adopt_destroy(
    replay: Callable[[str], Any], cloud_harness: Callable[..., Any]
) -> None:
    api = replay("lifecycle")
    harness = cloud_harness(name="demo", count=3, endpoint=api.endpoint)

    records = harness.provision()

    # -- the records: addresses from the instances, the host key we generated
    assert sorted(r.name for r in records) == NODES
    by_name = {r.name: r for r in records}
    assert by_name["demo-server-1"].public_address == "34.76.10.21"
    assert by_name["demo-server-1"].private_address == "10.240.0.2"
    assert all(r.cloud_id.isdigit() and r.host_key.startswith("ssh-ed25519 ") for r in records)

    # -- authentication: one token request, a JWT bearer assertion for the service account
    (token,) = [r for r in api.received if r[1] == "/token"]
    assert token[0] == "POST"

    # -- what the instances were created with
    created = {b["name"]: b for b in sent(api, "POST", "/zones/europe-west1-b/instances")}
    assert sorted(created) == NODES
    for name, body in created.items():
        items = {i["key"]: i["value"] for i in body["metadata"]["items"]}
        assert public_host_key_in(items["user-data"]) == by_name[name].host_key
        assert OPERATOR_KEY in items["user-data"]
        assert items["ssh-keys"] == f"sloth:{OPERATOR_KEY}"
        assert body["labels"] == {"sloth-cluster": "demo", "sloth-node": name}
        assert body["tags"] == {"items": ["sloth-demo"]}  # what the firewall rules target
        assert body["machineType"] == "zones/europe-west1-b/machineTypes/e2-standard-2"
        (disk,) = body["disks"]
        assert disk["initializeParams"]["sourceImage"] == (
            "projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64"
        )
        (nic,) = body["networkInterfaces"]
        assert nic["network"] == f"projects/{PROJECT}/global/networks/sloth-demo"
        assert (
            nic["subnetwork"] == f"projects/{PROJECT}/regions/europe-west1/subnetworks/sloth-demo"
        )

    # -- the private network and the firewall rules
    (network,) = sent(api, "POST", "/global/networks")
    assert network["autoCreateSubnetworks"] is False
    (subnetwork,) = sent(api, "POST", "/regions/europe-west1/subnetworks")
    assert subnetwork["ipCidrRange"] == "10.240.0.0/16"
    assert subnetwork["network"].endswith("/global/networks/sloth-demo")
    rules = sent(api, "POST", "/global/firewalls")
    assert [r["name"] for r in rules] == [f"sloth-demo-{i}" for i in range(len(rules))]
    assert all(r["targetTags"] == ["sloth-demo"] and r["direction"] == "INGRESS" for r in rules)
    assert all(r["network"] == "global/networks/sloth-demo" for r in rules)
    expected = cluster_rules(harness.context.config, "10.240.0.0/16")
    assert [_rule_of(r) for r in rules] == expected

    # -- operations were polled until DONE (the network's went RUNNING -> RUNNING -> DONE)
    polls = [p for m, p, _ in api.received if m == "GET" and "/operations/" in p]
    assert (
        polls.count(f"/compute/v1/projects/{PROJECT}/global/operations/operation-1718013800001-net")
        == 2
    )

    # -- a second run adopts: nothing created
    posts_before = len([r for r in api.received if r[0] == "POST"])
    again = harness.provision()
    assert {r.cloud_id for r in again} == {r.cloud_id for r in records}
    assert len([r for r in api.received if r[0] == "POST"]) == posts_before

    # -- destroy deletes machines, rules, subnetwork and network, then lists nothing
    assert sorted(harness.destroy(records)) == NODES
    deleted = sorted(p.rsplit("/", 2)[-2] + "/" + p.rsplit("/", 1)[-1]
                     for m, p, _ in api.received if m == "DELETE")  # fmt: skip
    assert deleted == sorted(
        [f"instances/{n}" for n in NODES]
        + [f"firewalls/sloth-demo-{i}" for i in range(len(rules))]
        + ["subnetworks/sloth-demo", "networks/sloth-demo"]
    )
    assert harness.listed() == {}
    assert harness.resources() == []
    assert api.unmatched == []
    # the access token and the key never show in what the tool printed
    assert all(EMAIL not in str(e) and "ya29" not in str(e) for e in harness.events)
