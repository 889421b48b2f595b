"""Full lifecycle against the Compute Engine fake (every request checked against Google's
discovery document): what the driver sends, the operations it waits for, re-run, destroy."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

import pytest
from gce_fake.support import EMAIL, PROJECT, ZONE, paths, sent
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


def test_provision_adopt_destroy(gce: Any, cloud_harness: Callable[..., Any]) -> None:
    harness = cloud_harness(name="demo", count=3)

    records = harness.provision()

    # -- the records: addresses from the instances, the host key we generated
    assert sorted(r.name for r in records) == NODES
    by_name = {r.name: r for r in records}
    instances = {name: i for (_, name), i in gce.fake.instances.items()}
    for record in records:
        (nic,) = instances[record.name]["networkInterfaces"]
        assert record.public_address == nic["accessConfigs"][0]["natIP"]
        assert record.private_address == nic["networkIP"]
        assert ipaddress.ip_address(record.private_address) in ipaddress.ip_network("10.240.0.0/16")
        assert record.cloud_id.isdigit()
        assert record.host_key.startswith("ssh-ed25519 ")
    assert len({r.public_address for r in records}) == 3

    # -- authentication: one token request, a JWT bearer assertion for the service account
    assert paths(gce, "POST").count("/token") == 1

    # -- what the instances were created with
    created = {b["name"]: b for b in sent(gce, "POST", f"/zones/{ZONE}/instances")}
    assert sorted(created) == NODES
    for name, body in created.items():
        items = {i["key"]: i["value"] for i in body["metadata"]["items"]}
        assert public_host_key_in(items["user-data"]) == by_name[name].host_key
        assert OPERATOR_KEY in items["user-data"]
        assert items["ssh-keys"] == f"sloth:{OPERATOR_KEY}"
        assert body["labels"] == {"sloth-cluster": "demo", "sloth-node": name}
        assert body["tags"] == {"items": ["sloth-demo"]}  # what the firewall rules target
        assert body["machineType"] == f"zones/{ZONE}/machineTypes/e2-standard-2"
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
    (network,) = sent(gce, "POST", "/global/networks")
    assert network["autoCreateSubnetworks"] is False
    (subnetwork,) = sent(gce, "POST", "/regions/europe-west1/subnetworks")
    assert subnetwork["ipCidrRange"] == "10.240.0.0/16"
    assert subnetwork["network"].endswith("/global/networks/sloth-demo")
    rules = sent(gce, "POST", "/global/firewalls")
    assert [r["name"] for r in rules] == [f"sloth-demo-{i}" for i in range(len(rules))]
    assert all(r["targetTags"] == ["sloth-demo"] and r["direction"] == "INGRESS" for r in rules)
    assert all(r["network"] == "global/networks/sloth-demo" for r in rules)
    expected = cluster_rules(harness.context.config, "10.240.0.0/16")
    assert [_rule_of(r) for r in rules] == expected

    # -- operations were polled until DONE (PENDING -> RUNNING -> DONE: two polls)
    (network_op,) = [path for path, op in gce.fake.operations.items()
                     if op["targetLink"].endswith("/global/networks/sloth-demo")]  # fmt: skip
    assert paths(gce, "GET").count(network_op) == 2
    assert all(op["status"] == "DONE" for op in gce.fake.operations.values())

    # -- a second run adopts: nothing created
    posts_before = len(paths(gce, "POST"))
    again = harness.provision()
    assert {r.cloud_id for r in again} == {r.cloud_id for r in records}
    assert len(paths(gce, "POST")) == posts_before

    # -- destroy deletes machines, rules, subnetwork and network, then lists nothing
    assert sorted(harness.destroy(records)) == NODES
    deleted = sorted(p.rsplit("/", 2)[-2] + "/" + p.rsplit("/", 1)[-1]
                     for p in paths(gce, "DELETE"))  # fmt: skip
    assert deleted == sorted(
        [f"instances/{n}" for n in NODES]
        + [f"firewalls/sloth-demo-{i}" for i in range(len(rules))]
        + ["subnetworks/sloth-demo", "networks/sloth-demo"]
    )
    assert harness.listed() == {}
    assert harness.resources() == []
    assert gce.fake.instances == {}
    assert set(gce.fake.networks) == {"default"}
    # the access token and the key never show in what the tool printed
    assert all(EMAIL not in str(e) and "ya29" not in str(e) for e in harness.events)


def test_the_description_refuses_what_google_would(gce: Any) -> None:
    """The checker is as strict as the API: an unknown field, a bad name, a wrong type, an
    unknown query parameter are refused with 400 before the fake acts (and reported)."""
    import json
    import urllib.error
    import urllib.request

    gce.fake.tokens.add("ya29.test")
    body = {"name": "Not_A_Name", "machineType": 2, "bogus": True}
    request = urllib.request.Request(
        f"{gce.endpoint}/compute/v1/projects/{PROJECT}/zones/{ZONE}/instances?colour=blue",
        data=json.dumps(body).encode(),
        headers={"Authorization": "Bearer ya29.test", "Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 400
    error = json.loads(caught.value.read())["error"]
    caught.value.close()
    assert error["code"] == 400
    found = gce.take_violations()
    assert any("request.query.colour: not a documented parameter" in v for v in found), found
    assert any("('bogus' was unexpected)" in v for v in found), found
    assert any("request.body.name: 'Not_A_Name' does not match" in v for v in found), found
    assert any("request.body.machineType: 2 is not of type 'string'" in v for v in found), found
    assert gce.fake.instances == {}
    # and a reply the fake got wrong would be reported the same way
    (description,) = gce.fake.descriptions
    insert = description.match("POST", f"/compute/v1/projects/{PROJECT}/zones/{ZONE}/instances")
    assert description.check_response(insert, 200, {"status": "FINISHED"}) == [
        "response.200.body.status: 'FINISHED' is not one of ['DONE', 'PENDING', 'RUNNING']"
    ]
    # and a path parameter breaking its pattern
    wrong_zone = f"/compute/v1/projects/{PROJECT}/zones/Zone_B/instances"
    assert description.check_request(insert, {}, {"name": "ok"}, wrong_zone) == [
        "request.path.zone: 'Zone_B' does not match '^(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)$'"
    ]
