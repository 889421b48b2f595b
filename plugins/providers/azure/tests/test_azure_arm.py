"""Azure against the Resource Manager fake (``azure_fake``): libcloud's ARM connection talks to it
on 127.0.0.1, and every request and reply is checked against the Azure SDK for Python's
description of the REST API (URL template, api-version, body models)."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

import pytest
from azure_fake.support import SUB, sent
from sloth_kubernetes.cloud import CLUSTER_TAG, NODE_TAG, FirewallRule, Resource
from sloth_kubernetes.cloud.rules import cluster_rules
from sloth_kubernetes.cloud.userdata import public_host_key_in
from sloth_kubernetes.errors import PartialProvisionError, ProviderError
from sloth_kubernetes.testing.provider_contract import OPERATOR_KEY

pytestmark = pytest.mark.emulator


def test_lifecycle_provisions_adopts_and_destroys_everything(
    cloud_harness: Callable[..., Any], arm: Any
) -> None:
    api = arm
    harness = cloud_harness(name="azdemo", count=3)
    records = harness.provision()

    assert sorted(r.name for r in records) == ["azdemo-agent-1", "azdemo-agent-2",
                                               "azdemo-server-1"]  # fmt: skip
    for record in records:
        assert record.public_address
        assert record.public_address.startswith("20.0.0.")
        assert record.private_address
        assert record.private_address.startswith("10.240.0.")
        assert int(record.private_address.rsplit(".", 1)[1]) >= 4  # Azure keeps .0-.3
        assert record.host_key
        assert record.host_key.startswith("ssh-ed25519 ")
    vm_puts = dict(sent(api, "PUT", "/virtualMachines/"))
    assert len(vm_puts) == 3
    for record in records:
        body = next(b for p, b in vm_puts.items() if p.endswith("/" + record.name))
        os_profile = body["properties"]["osProfile"]
        user_data = base64.b64decode(os_profile["customData"]).decode()
        assert public_host_key_in(user_data) == record.host_key  # the pinned key is installed
        assert OPERATOR_KEY in user_data
        linux = os_profile["linuxConfiguration"]
        assert linux["disablePasswordAuthentication"] is True
        assert "adminPassword" not in os_profile
        assert linux["ssh"]["publicKeys"][0]["keyData"] == OPERATOR_KEY
        assert body["tags"] == {CLUSTER_TAG: "azdemo", NODE_TAG: record.name}
        assert body["properties"]["storageProfile"]["imageReference"] == {
            "publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server",
            "version": "latest"}  # fmt: skip
        assert body["properties"]["storageProfile"]["osDisk"]["deleteOption"] == "Delete"
    # every resource tagged; nodes on the cluster's subnet, behind its NSG, with a Standard IP
    for path, body in sent(api, "PUT", "/subscriptions/"):
        assert body["tags"][CLUSTER_TAG] == "azdemo", path
    vnet = f"/subscriptions/{SUB}/resourceGroups/sloth-azdemo/providers/Microsoft.Network"
    for _path, body in sent(api, "PUT", "/networkInterfaces/"):
        (config,) = body["properties"]["ipConfigurations"]
        assert config["properties"]["subnet"]["id"] == (
            f"{vnet}/virtualNetworks/sloth-azdemo/subnets/nodes"
        )
        assert body["properties"]["networkSecurityGroup"]["id"] == (
            f"{vnet}/networkSecurityGroups/sloth-azdemo")  # fmt: skip
    for _path, body in sent(api, "PUT", "/publicIPAddresses/"):
        assert body["sku"]["name"] == "Standard"
        assert body["properties"]["publicIPAllocationMethod"] == "Static"
    # the NSG carries exactly the cluster's rules, in priority order
    ((_, nsg),) = sent(api, "PUT", "/networkSecurityGroups/")
    rules = cluster_rules(harness.context.config, "10.240.0.0/16")
    sent_rules = nsg["properties"]["securityRules"]
    assert [r["properties"]["priority"] for r in sent_rules] == [100, 110, 120, 130, 140, 150]
    driver = harness.driver()
    (firewall,) = driver.list_firewalls("azdemo")
    assert driver.firewall_rules(firewall) == rules
    assert {n.name for n in harness.listed().values()} == {r.name for r in records}
    before = harness.resources()
    assert {r.kind for r in before} == {"machine", "firewall", "network"}

    again = harness.provision()  # adopts: nothing is created twice
    assert {r.cloud_id for r in again} == {r.cloud_id for r in records}
    assert len(sent(api, "PUT", "/virtualMachines/")) == 3

    assert sorted(harness.destroy(records)) == sorted(r.name for r in records)
    assert len(sent(api, "DELETE", "/virtualMachines/")) == 3
    assert [p for p, _ in sent(api, "DELETE", "/resourceGroups/sloth-azdemo")][-1].endswith(
        "/resourceGroups/sloth-azdemo"
    )
    assert harness.listed() == {}
    assert harness.resources() == []
    # one login for the whole run, though each worker thread has its own driver (Entra ID
    # throttles token requests), and it went to the endpoint too
    assert len(sent(api, "POST", "/oauth2/token")) == 1
    # the VMs took their NICs, public IPs and OS disks with them (deleteOption: Delete), then
    # the group went with what was left in it
    assert api.fake.resources == {}
    assert api.fake.groups == {}


def test_invalid_credentials_one_line_error_naming_the_variables(
    cloud_harness: Callable[..., Any], arm: Any, credentials: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    api = arm
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "a~rotated~secret~the~tenant~no~longer~has")
    harness = cloud_harness(name="azbad", count=1)
    with pytest.raises(ProviderError) as caught:
        harness.provision()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("azure: the API refused the credentials")
    assert "AZURE_CLIENT_SECRET" in message
    assert "AZURE_TENANT_ID" in message
    assert credentials["AZURE_CLIENT_SECRET"] not in message
    assert "AZURE_CLIENT_SECRET" in (caught.value.hint or "")
    assert [m for m, _, _ in api.fake.received] == ["POST"]  # the refusal is not retried


def test_throttling_is_retried_and_an_ambiguous_create_is_adopted(
    cloud_harness: Callable[..., Any], arm: Any
) -> None:
    api = arm
    # a listing throttled (429 + Retry-After: 1); the VM PUT creates the VM but its reply is
    # lost (503 after acting); a NIC listing answered 503 once
    api.fake.fail_next("GET", ".*/virtualMachines", 429)
    api.fake.fail_next("PUT", ".*/virtualMachines/[^/]+", 503, after=True)
    api.fake.fail_next("GET", ".*/networkInterfaces", 503)
    harness = cloud_harness(name="azthrottle", count=1, pool={"image": "debian-12"})
    started = time.monotonic()
    (record,) = harness.provision()
    assert time.monotonic() - started >= 1.0  # Retry-After: 1 was honoured
    assert record.name == "azthrottle-server-1"
    assert record.public_address == "20.0.0.10"  # the first address of the fake's pool
    # the 503'd PUT had created the VM: it was found by its tags, not sent again
    ((_, body),) = sent(api, "PUT", "/virtualMachines/")
    assert body["properties"]["storageProfile"]["imageReference"]["offer"] == "debian-12"
    (summary,) = [e for e in harness.events if e.get("retries")]
    assert summary["retries"] == 2
    assert summary["retryReasons"] == {"429": 1, "503": 1}
    kinds = sorted(r["type"].rsplit("/", 1)[1] for r in api.fake.resources.values())
    assert kinds == [
        "disks",
        "networkInterfaces",
        "networkSecurityGroups",
        "publicIPAddresses",
        "virtualMachines",
        "virtualNetworks",
    ]  # one VM: nothing made twice


def test_machine_that_never_runs_is_named_and_deleted(
    cloud_harness: Callable[..., Any], arm: Any
) -> None:
    api = arm
    api.fake.never_running("azstuck-server-1")
    harness = cloud_harness(name="azstuck", count=1, createTimeout=0.3)
    with pytest.raises(PartialProvisionError) as caught:
        harness.provision()
    message = str(caught.value)
    assert "azstuck-server-1" in message
    assert "did not reach running" in message
    assert "deleted" in message
    deleted = [p.rsplit("/", 2)[-2] for p, _ in sent(api, "DELETE", "/azstuck-server-1")]
    assert sorted(deleted) == ["disks", "networkInterfaces", "publicIPAddresses",
                               "virtualMachines"]  # fmt: skip
    assert not [k for k in api.fake.resources if "azstuck-server-1" in k]


def test_portable_size_and_image_aliases(cloud_harness: Callable[..., Any], arm: Any) -> None:
    harness = cloud_harness(name="azcat", count=1, pool={"size": {"cpu": 2, "memoryGiB": 4}})
    (described,) = harness.cloud.describe_sizes(harness.context, harness.requests()).values()
    # vmSizes carries no prices: among the 2 vCPU / 4 GiB sizes the tie-break (name) decides
    assert described == "Standard_A2_v2 (smallest match, no prices listed: 2 vCPU, 4 GiB)"
    sizes = {s.id: s for s in harness.driver().list_sizes()}
    assert sizes["Standard_B2s"].cpu == 2
    assert sizes["Standard_B2s"].memory_gib == 4
    assert all(s.price_hourly is None for s in sizes.values())
    aliases = harness.cloud.spec.driver.image_aliases
    assert aliases == {
        "ubuntu-24.04": "Canonical:ubuntu-24_04-lts:server:latest",
        "ubuntu-22.04": "Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest",
        "debian-12": "Debian:debian-12:12-gen2:latest",
    }


def test_features_match_the_methods(cloud_harness: Callable[..., Any], arm: Any) -> None:
    harness = cloud_harness(name="azcat", count=1)
    driver = harness.driver()
    assert driver.features == {"ssh", "tags", "user-data", "host-key-at-creation", "firewall",
                               "private-network", "catalog"}  # fmt: skip
    assert driver.list_sizes()  # catalog: the location's vmSizes
    assert [r.id for r in driver.list_regions()] == ["westeurope", "northeurope", "eastus"]
    for call in (
        lambda: driver.list_keys("azcat"),
        lambda: driver.import_key("azcat", OPERATOR_KEY),
        lambda: driver.delete_key(Resource("key", "k", "k")),
        lambda: driver.console_output(None),
    ):
        with pytest.raises(NotImplementedError):
            call()
    implemented = ["create_firewall", "list_firewalls", "delete_firewall", "firewall_rules",
                   "create_network", "list_networks", "delete_network", "list_sizes",
                   "list_images", "list_regions", "list_machines", "create_machine",
                   "destroy_machine", "check_credentials"]  # fmt: skip
    base = type(driver).__mro__[1]
    for method in implemented:
        assert getattr(type(driver), method) is not getattr(base, method), method


def test_missing_credentials_name_provider_and_variable(
    cloud_harness: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = cloud_harness(name="aznone", count=1)
    monkeypatch.delenv("AZURE_CLIENT_SECRET")
    with pytest.raises(ProviderError) as caught:
        harness.provision()
    assert str(caught.value) == (
        "azure: no credentials: spec.providers.azure.clientSecret (default): the environment "
        "variable AZURE_CLIENT_SECRET is not set"
    )


def test_private_network_and_firewall_cannot_be_turned_off(
    cloud_harness: Callable[..., Any],
) -> None:
    from sloth_kubernetes.cloud import MachineSpec

    harness = cloud_harness(name="aznet", count=1)
    spec = MachineSpec("aznet-server-1", "aznet", "Standard_B2s", "a:b:c:d", "westeurope", "",
                       {}, firewall=Resource("firewall", "f", "f"))  # fmt: skip
    with pytest.raises(ProviderError, match="virtual network"):
        harness.driver().create_machine(spec)
    _ = FirewallRule  # rules are compared in the lifecycle test


def test_lists_follow_next_links(cloud_harness: Callable[..., Any], arm: Any) -> None:
    # ARM pages lists (value + nextLink with a $skiptoken); two items a page here
    arm.fake.page_size = 2
    harness = cloud_harness(name="azpage", count=3)
    records = harness.provision()
    arm.fake.received.clear()
    assert set(harness.listed()) == {r.name for r in records}
    vm_pages = [p for p, _ in sent(arm, "GET", "/virtualMachines")]
    assert len(vm_pages) == 2  # 3 VMs: a full page and the rest
    assert len({s.id for s in harness.driver().list_sizes()}) == 7  # 4 pages of vmSizes
    assert len(sent(arm, "GET", "/vmSizes")) == 4
    harness.destroy(records)
    assert harness.resources() == []


def test_the_driver_speaks_the_api_versions_the_sdks_describe() -> None:
    from azure_fake.sdk import api_versions
    from sloth_provider_azure import arm as versions

    described = api_versions()
    assert described["virtual_machines_create_or_update"] == versions.COMPUTE_API
    assert described["disks_delete"] == versions.DISK_API
    assert described["network_interfaces_create_or_update"] == versions.NETWORK_API
    assert described["resource_groups_create_or_update"] == versions.RESOURCES_API
    assert described["subscriptions_get"] == versions.SUBSCRIPTIONS_API


def test_the_description_refuses_what_arm_would(arm: Any) -> None:
    """As strict as the API: an unknown member, a missing required field, another api-version
    are refused with 400 before the fake acts, and reported; a bad reply would be too."""
    import json
    import urllib.error
    import urllib.request

    arm.fake.tokens.add("test-token")
    path = (f"/subscriptions/{SUB}/resourceGroups/g/providers/Microsoft.Compute/"
            "virtualMachines/vm1")  # fmt: skip
    request = urllib.request.Request(
        f"{arm.endpoint}{path}?api-version=2024-07-01",
        data=json.dumps({"properties": {"hardwareProfile": {"vmSize": "x"}, "colour": 1}}).encode(),
        headers={"Authorization": "Bearer test-token", "Content-Type": "application/json"},
        method="PUT",
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    caught.value.close()
    assert caught.value.code == 400
    found = arm.take_violations()
    assert any("request.query.api-version: '2026-04-01' was expected" in v for v in found), found
    assert any("'location' is a required property" in v for v in found), found
    assert any("('colour' was unexpected)" in v for v in found), found
    assert arm.fake.resources == {}
    compute = next(d for d in arm.fake.descriptions if "compute" in d.name)
    operation = compute.match("GET", path)
    assert compute.check_response(operation, 200, {"properties": {"vmSize": "x"}}) == [
        "response.200.body.properties: Additional properties are not allowed "
        "('vmSize' was unexpected)"
    ]
