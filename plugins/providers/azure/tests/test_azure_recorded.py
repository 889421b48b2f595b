"""Azure against RECORDED responses (no Azure emulator exists; nothing here was checked by a live
API): libcloud's ARM connection talks to a ReplayServer on 127.0.0.1 serving the exchanges in
recorded/ (shapes from the azure-rest-api-specs examples and libcloud's fixtures, see README)."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sloth_kubernetes.cloud import CLUSTER_TAG, NODE_TAG, FirewallRule, Resource
from sloth_kubernetes.cloud.rules import cluster_rules
from sloth_kubernetes.cloud.userdata import public_host_key_in
from sloth_kubernetes.errors import PartialProvisionError, ProviderError
from sloth_kubernetes.testing.provider_contract import OPERATOR_KEY

pytestmark = pytest.mark.emulator

RECORDED = Path(__file__).parent / "recorded"
SUB = "00000000-0000-0000-0000-000000000000"  # the recordings' subscription


def sent(api: Any, method: str, contains: str) -> list[tuple[str, Any]]:
    return [(p, b) for m, p, b in api.received if m == method and contains in p]


def test_recorded_lifecycle_provisions_adopts_and_destroys_everything(
    cloud_harness: Callable[..., Any], recorded_api: Any
) -> None:
    api = recorded_api(RECORDED / "lifecycle")
    harness = cloud_harness(name="azdemo", count=3, endpoint=api.endpoint)
    records = harness.provision()

    assert sorted(r.name for r in records) == ["azdemo-agent-1", "azdemo-agent-2",
                                               "azdemo-server-1"]  # fmt: skip
    for record in records:
        assert record.public_address
        assert record.public_address.startswith("20.0.0.")
        assert record.private_address
        assert record.private_address.startswith("10.240.0.")
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
    # the token request and every ARM call went to the endpoint, and all were recorded
    assert sent(api, "POST", "/oauth2/token")
    assert api.unmatched == []


def test_recorded_invalid_credentials_one_line_error_naming_the_variables(
    cloud_harness: Callable[..., Any], recorded_api: Any, credentials: dict[str, str]
) -> None:
    api = recorded_api(RECORDED / "bad-credentials")
    harness = cloud_harness(name="azbad", count=1, endpoint=api.endpoint)
    with pytest.raises(ProviderError) as caught:
        harness.provision()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("azure: the API refused the credentials")
    assert "AZURE_CLIENT_SECRET" in message
    assert "AZURE_TENANT_ID" in message
    assert credentials["AZURE_CLIENT_SECRET"] not in message
    assert "AZURE_CLIENT_SECRET" in (caught.value.hint or "")
    assert [m for m, _, _ in api.received] == ["POST"]  # the token refusal is not retried
    assert api.unmatched == []


def test_recorded_throttling_is_retried_and_an_ambiguous_create_is_adopted(
    cloud_harness: Callable[..., Any], recorded_api: Any
) -> None:
    api = recorded_api(RECORDED / "throttled")
    harness = cloud_harness(
        name="azthrottle", count=1, endpoint=api.endpoint, pool={"image": "debian-12"}
    )
    started = time.monotonic()
    (record,) = harness.provision()
    assert time.monotonic() - started >= 1.0  # Retry-After: 1 was honoured
    assert record.name == "azthrottle-server-1"
    assert record.public_address == "20.0.0.10"
    # the 503'd PUT had created the VM: it was found by its tags, not sent again
    ((_, body),) = sent(api, "PUT", "/virtualMachines/")
    assert body["properties"]["storageProfile"]["imageReference"]["offer"] == "debian-12"
    (summary,) = [e for e in harness.events if e.get("retries")]
    assert summary["retries"] == 2
    assert summary["retryReasons"] == {"429": 1, "503": 1}
    assert api.unmatched == []


def test_recorded_machine_that_never_runs_is_named_and_deleted(
    cloud_harness: Callable[..., Any], recorded_api: Any
) -> None:
    api = recorded_api(RECORDED / "never-running")
    harness = cloud_harness(name="azstuck", count=1, endpoint=api.endpoint, createTimeout=0.3)
    with pytest.raises(PartialProvisionError) as caught:
        harness.provision()
    message = str(caught.value)
    assert "azstuck-server-1" in message
    assert "did not reach running" in message
    assert "deleted" in message
    deleted = [p.rsplit("/", 2)[-2] for p, _ in sent(api, "DELETE", "/azstuck-server-1")]
    assert sorted(deleted) == ["disks", "networkInterfaces", "publicIPAddresses",
                               "virtualMachines"]  # fmt: skip
    assert api.unmatched == []


def test_recorded_portable_size_and_image_aliases(
    cloud_harness: Callable[..., Any], recorded_api: Any
) -> None:
    api = recorded_api(RECORDED / "catalog")
    harness = cloud_harness(
        name="azcat", count=1, endpoint=api.endpoint, pool={"size": {"cpu": 2, "memoryGiB": 4}}
    )
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
    assert api.unmatched == []


def test_recorded_features_match_the_methods(
    cloud_harness: Callable[..., Any], recorded_api: Any
) -> None:
    api = recorded_api(RECORDED / "catalog")
    harness = cloud_harness(name="azcat", count=1, endpoint=api.endpoint)
    driver = harness.driver()
    assert driver.features == {"ssh", "tags", "user-data", "host-key-at-creation", "firewall",
                               "private-network", "catalog"}  # fmt: skip
    assert driver.list_sizes()  # catalog: served by the recording
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
    harness = cloud_harness(name="aznone", count=1, endpoint="http://127.0.0.1:9")
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

    harness = cloud_harness(name="aznet", count=1, endpoint="http://127.0.0.1:9")
    spec = MachineSpec("aznet-server-1", "aznet", "Standard_B2s", "a:b:c:d", "westeurope", "",
                       {}, firewall=Resource("firewall", "f", "f"))  # fmt: skip
    with pytest.raises(ProviderError, match="virtual network"):
        harness.driver().create_machine(spec)
    _ = FirewallRule  # rules are compared in the lifecycle test
