"""The OpenStack plugin against recorded responses (no live cloud: see tests/recorded/*/README.md).

The lifecycle runs with the provider's parallel creates: each recorded server and floating-IP
create matches its node by name in the request body. The smaller scenarios keep ``concurrency: 1``
(the fixture's default), where the order of same-path answers is the order of the requests.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

import pytest
from sloth_kubernetes.cloud import FEATURES, CloudDriver, FirewallRule, Machine, Resource
from sloth_kubernetes.cloud.rules import cluster_rules
from sloth_kubernetes.cloud.sizing import resolve_image
from sloth_kubernetes.cloud.userdata import parse_console_host_keys, public_host_key_in
from sloth_kubernetes.errors import PartialProvisionError, ProviderError
from sloth_kubernetes.testing.provider_contract import OPERATOR_KEY
from sloth_provider_openstack.driver import OpenStackDriver, neutron_rules

from .conftest import RECORDED, keystone

pytestmark = pytest.mark.emulator

NET = "b1a3c2d4-7e55-4c7b-9c1e-3f1f0e6a9a01"
NODES = ["demo-server-1", "demo-agent-1", "demo-agent-2"]


def _bodies(api: Any, method: str, suffix: str) -> list[Any]:
    return [body for m, path, body in api.received if m == method and path.endswith(suffix)]


def test_recorded_lifecycle_creates_tags_attaches_adopts_and_destroys_everything(
    cloud_harness: Callable[..., Any], recorded_api: Callable[..., Any]
) -> None:
    api = recorded_api(RECORDED / "lifecycle")
    harness = cloud_harness(
        name="demo", count=3, endpoint=keystone(api), externalNetwork="public", concurrency=8
    )
    records = harness.provision()

    assert sorted(r.name for r in records) == sorted(NODES)
    by_name = {r.name: r for r in records}
    assert by_name["demo-server-1"].public_address == "203.0.113.11"  # the floating IP
    assert by_name["demo-server-1"].private_address == "10.240.0.11"
    creates = _bodies(api, "POST", "/compute/v2.1/servers")
    assert sorted(c["server"]["name"] for c in creates) == sorted(NODES)  # once each
    for create in creates:
        server = create["server"]
        name = server["name"]
        user_data = base64.b64decode(server["user_data"]).decode()
        assert OPERATOR_KEY in user_data
        assert public_host_key_in(user_data) == by_name[name].host_key
        assert by_name[name].host_key.startswith("ssh-ed25519 ")
        assert server["metadata"] == {"sloth-cluster": "demo", "sloth-node": name}
        assert server["tags"] == ["sloth-cluster:demo", f"sloth-node:{name}"]
        assert server["networks"] == [{"uuid": NET}]  # attached to the cluster's network
        assert server["security_groups"] == [{"name": "sloth-demo"}]
        assert server["key_name"] == "sloth-demo"
        assert server["flavorRef"] == "3"  # m1.medium, by name
        assert server["imageRef"] == "9d3f0c52-2f8b-4b1e-a1b4-0e8a7c6d5e40"  # newest "Ubuntu 24.04"
    for resources in ("networks", "subnets", "routers", "security-groups"):
        (tags,) = [
            b
            for m, p, b in api.received
            if m == "PUT" and f"/{resources}/" in p and p.endswith("/tags")
        ]
        assert tags == {"tags": ["sloth-cluster:demo"]}, resources
    fip_tags = [b["tags"] for m, p, b in api.received
                if m == "PUT" and "/floatingips/" in p and p.endswith("/tags")]  # fmt: skip
    assert sorted(fip_tags) == sorted(["sloth-cluster:demo", f"sloth-node:{n}"] for n in NODES)
    sent_rules = neutron_rules([b["security_group_rule"] for b in
                                _bodies(api, "POST", "/security-group-rules")])  # fmt: skip
    expected = cluster_rules(harness.context.config, "10.240.0.0/16")
    assert sent_rules == [FirewallRule(r.protocol, r.ports, r.sources) for r in expected]
    (router,) = _bodies(api, "POST", "/networking/v2.0/routers")
    assert router["router"]["external_gateway_info"] == {
        "network_id": "5c1d7a5e-1b2a-4f4f-9a51-0d0b6b8f0e11"
    }
    assert api.requests.count(method="POST", path_prefix="/identity/v3/auth/tokens") <= 3

    again = harness.provision()  # adopts: same ids, nothing created
    assert {r.cloud_id for r in again} == {r.cloud_id for r in records}
    assert len(_bodies(api, "POST", "/compute/v2.1/servers")) == 3
    assert all(r.extra.get("adopted") for r in again)
    assert {r.public_address for r in again} == {"203.0.113.11", "203.0.113.12", "203.0.113.13"}

    # What Neutron reports back (no listing here: the recorded listings are counted).
    firewall = Resource("firewall", "e4d6f5a7-ab88-4fae-8f4b-6c4c3b9dcd04", "sloth-demo")
    assert harness.driver().firewall_rules(firewall) == sent_rules

    assert sorted(harness.destroy(records)) == sorted(NODES)
    deleted = [p.split("/v2")[1].split("/")[1] for m, p, _ in api.received if m == "DELETE"]
    assert sorted(deleted) == sorted(
        ["floatingips"] * 3
        + ["servers"] * 3
        + ["security-groups", "routers", "subnets", "networks", "os-keypairs"]
    )
    assert harness.resources() == []
    assert api.unmatched == []


def test_recorded_invalid_password_is_one_line_naming_provider_and_variables(
    cloud_harness: Callable[..., Any], recorded_api: Callable[..., Any]
) -> None:
    api = recorded_api(RECORDED / "unauthorized")
    harness = cloud_harness(name="demo", count=1, endpoint=keystone(api))
    with pytest.raises(ProviderError) as caught:
        harness.provision()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("openstack: the API refused the credentials")
    assert "OS_PASSWORD" in message
    assert "OS_USERNAME" in message
    assert "OS_PASSWORD" in (caught.value.hint or "")
    assert "recorded-password" not in message + caught.value.hint
    assert api.unmatched == []


def test_recorded_rate_limits_and_unavailable_are_retried_and_create_is_not_repeated(
    cloud_harness: Callable[..., Any], recorded_api: Callable[..., Any]
) -> None:
    api = recorded_api(RECORDED / "faults")
    harness = cloud_harness(
        name="demo", count=1, endpoint=keystone(api), privateNetwork=False, firewall=False
    )
    (record,) = harness.provision()
    assert record.public_address == "10.240.0.11"  # no floating IPs: the fixed address
    # 429: not processed, sent again; 503: ambiguous, looked up (found BUILDing), not re-sent.
    creates = _bodies(api, "POST", "/compute/v2.1/servers")
    assert len(creates) == 2
    assert creates[0]["server"]["networks"] == "auto"
    (summary,) = [e for e in harness.events if e.get("retries")]
    assert summary["retryReasons"] == {"429": 2, "503": 1}  # 413+Retry-After counts as 429
    assert summary["retries"] == 3
    assert api.unmatched == []


def test_recorded_catalog_portable_size_image_aliases_regions_and_console(
    cloud_harness: Callable[..., Any], recorded_api: Callable[..., Any]
) -> None:
    api = recorded_api(RECORDED / "catalog")
    harness = cloud_harness(
        name="demo", count=1, endpoint=keystone(api), pool={"size": {"cpu": 2, "memoryGiB": 4}}
    )
    described = harness.cloud.describe_sizes(harness.context, harness.requests())
    # No prices in Nova: the smallest fitting flavor (m2.medium has 6 GiB, m1.large 4 vCPUs).
    assert described == {
        "demo-server-1": "m1.medium (smallest match, no prices listed: 2 vCPU, 4 GiB)"
    }
    driver = harness.driver()
    assert [i.name for i in driver.list_images()] == ["Ubuntu 24.04", "Ubuntu 22.04", "Debian 12"]
    alias = resolve_image(OpenStackDriver.image_aliases, "debian-12")
    assert driver.resolve_image(alias) == "4f5a6b7c-0000-4d4d-8e8e-0000000000c3"  # the newest
    assert driver.resolve_image("4f5a6b7c-0000-4d4d-8e8e-0000000000c3").startswith("4f5a")
    with pytest.raises(
        ProviderError, match=re.escape("no active image named 'Ubuntu 24.04 LTS'")
    ) as caught:
        driver.resolve_image("Ubuntu 24.04 LTS")
    assert "image:" in (caught.value.hint or "")
    assert [r.id for r in driver.list_regions()] == ["RegionOne"]
    console = driver.console_output(
        Machine("f5e7a6b8-bc99-4abf-9a5c-7d5d4cae0e05", "demo-server-1", "running")
    )
    assert parse_console_host_keys(console)[0].startswith("ssh-ed25519 AAAAC3")
    assert api.unmatched == []


def test_recorded_server_that_never_runs_is_named_and_deleted(
    cloud_harness: Callable[..., Any], recorded_api: Callable[..., Any]
) -> None:
    api = recorded_api(RECORDED / "never-running")
    harness = cloud_harness(
        name="demo", count=1, endpoint=keystone(api), privateNetwork=False, firewall=False,
        createTimeout=0.3,
    )  # fmt: skip
    with pytest.raises(PartialProvisionError) as caught:
        harness.provision()
    assert "demo-server-1" in str(caught.value)
    assert "did not reach running" in caught.value.failed["demo-server-1"]
    assert [p for m, p, _ in api.received if m == "DELETE"] == [
        "/compute/v2.1/servers/f5e7a6b8-bc99-4abf-9a5c-7d5d4cae0e05"
    ]
    assert api.unmatched == []


def test_declared_features_have_their_methods_and_are_all_known() -> None:
    methods = {
        "ssh-key-import": ("import_key", "list_keys", "delete_key"),
        "firewall": ("create_firewall", "list_firewalls", "delete_firewall", "firewall_rules"),
        "private-network": ("create_network", "list_networks", "delete_network"),
        "catalog": ("list_sizes", "list_images", "list_regions"),
        "console-output": ("console_output",),
    }
    assert OpenStackDriver.features <= set(FEATURES)
    for feature, names in methods.items():
        for name in names:
            overridden = getattr(OpenStackDriver, name) is not getattr(CloudDriver, name)
            assert overridden == (feature in OpenStackDriver.features), (feature, name)
    for name in ("check_credentials", "list_machines", "create_machine", "destroy_machine"):
        assert getattr(OpenStackDriver, name) is not getattr(CloudDriver, name)


def test_missing_keystone_url_is_a_clear_error(
    cloud_harness: Callable[..., Any],
) -> None:
    harness = cloud_harness(name="demo", count=1)
    with pytest.raises(ProviderError, match=re.escape("no Keystone URL")) as caught:
        harness.provision()
    assert "authURL" in (caught.value.hint or "")
