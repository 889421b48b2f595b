"""The OpenStack plugin against the fake cloud (Keystone, Nova, Neutron, Glance), every request
and reply checked against the services' own descriptions (``described/SOURCES.md``): lifecycle,
refused credentials, rate limits and outages, catalog, a server that never runs."""

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

from .openstack_fake import EXTERNAL_NET, OpenStackFake

pytestmark = pytest.mark.emulator

NODES = ["demo-server-1", "demo-agent-1", "demo-agent-2"]
UBUNTU_2404 = "9d3f0c52-2f8b-4b1e-a1b4-0e8a7c6d5e40"  # the newest image named "Ubuntu 24.04"


def _bodies(fake: OpenStackFake, method: str, suffix: str) -> list[Any]:
    return [body for m, path, body in fake.received if m == method and path.endswith(suffix)]


def test_lifecycle_creates_tags_attaches_adopts_and_destroys_everything(
    cloud_harness: Callable[..., Any], fake: OpenStackFake
) -> None:
    fake.max_limit = 2  # Nova's page size: the listings of 3 servers take two pages
    harness = cloud_harness(name="demo", count=3, externalNetwork="public", concurrency=8)
    records = harness.provision()

    assert sorted(r.name for r in records) == sorted(NODES)
    by_name = {r.name: r for r in records}
    (network,) = [n for n in fake.networks.values() if n["name"] == "sloth-demo"]
    floating = {f["floating_ip_address"]: f for f in fake.floatingips.values()}
    for record in records:
        assert record.public_address in floating  # the floating IP, attached
        assert floating[record.public_address]["fixed_ip_address"] == record.private_address
        assert record.private_address.startswith("10.240.")
    creates = _bodies(fake, "POST", "/compute/v2.1/servers")
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
        assert server["networks"] == [{"uuid": network["id"]}]  # the cluster's network
        assert server["security_groups"] == [{"name": "sloth-demo"}]
        assert server["key_name"] == "sloth-demo"
        assert server["flavorRef"] == "3"  # m1.medium, by name
        assert server["imageRef"] == UBUNTU_2404
    for resources in ("networks", "subnets", "routers", "security-groups"):
        (tags,) = [
            b
            for m, p, b in fake.received
            if m == "PUT" and f"/{resources}/" in p and p.endswith("/tags")
        ]
        assert tags == {"tags": ["sloth-cluster:demo"]}, resources
    fip_tags = [b["tags"] for m, p, b in fake.received
                if m == "PUT" and "/floatingips/" in p and p.endswith("/tags")]  # fmt: skip
    assert sorted(fip_tags) == sorted(["sloth-cluster:demo", f"sloth-node:{n}"] for n in NODES)
    sent_rules = neutron_rules([b["security_group_rule"] for b in
                                _bodies(fake, "POST", "/security-group-rules")])  # fmt: skip
    expected = cluster_rules(harness.context.config, "10.240.0.0/16")
    assert sent_rules == [FirewallRule(r.protocol, r.ports, r.sources) for r in expected]
    (router,) = _bodies(fake, "POST", "/networking/v2.0/routers")
    assert router["router"]["external_gateway_info"] == {"network_id": EXTERNAL_NET}
    assert fake.requests.count(method="POST", path_prefix="/identity/v3/auth/tokens") <= 3

    before = len(fake.received)
    again = harness.provision()  # adopts: same ids, nothing created
    assert {r.cloud_id for r in again} == {r.cloud_id for r in records}
    assert len(_bodies(fake, "POST", "/compute/v2.1/servers")) == 3
    assert all(r.extra.get("adopted") for r in again)
    assert {r.public_address for r in again} == {r.public_address for r in records}
    pages = [p for m, p, _ in fake.received[before:] if p.endswith("/servers/detail")]
    assert len(pages) >= 2  # 3 servers at 2 a page: the marker was followed

    (group,) = fake.security_groups.values()  # what Neutron reports back
    firewall = Resource("firewall", group["id"], "sloth-demo")
    assert harness.driver().firewall_rules(firewall) == sent_rules

    assert sorted(harness.destroy(records)) == sorted(NODES)
    deleted = [p.split("/v2")[1].split("/")[1] for m, p, _ in fake.received if m == "DELETE"]
    assert sorted(deleted) == sorted(
        ["floatingips"] * 3
        + ["servers"] * 3
        + ["security-groups", "routers", "subnets", "networks", "os-keypairs"]
    )
    assert harness.resources() == []
    assert [n["name"] for n in fake.networks.values()] == ["public"]  # nothing of ours left
    assert (fake.servers, fake.floatingips, fake.routers, fake.keypairs) == ({}, {}, {}, {})


def test_invalid_password_is_one_line_naming_provider_and_variables(
    cloud_harness: Callable[..., Any], fake: OpenStackFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OS_PASSWORD", "wrong-password-not-a-secret")
    harness = cloud_harness(name="demo", count=1)
    with pytest.raises(ProviderError) as caught:
        harness.provision()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("openstack: the API refused the credentials")
    assert "OS_PASSWORD" in message
    assert "OS_USERNAME" in message
    assert "OS_PASSWORD" in (caught.value.hint or "")
    assert "wrong-password" not in message + caught.value.hint
    assert fake.requests.count(status=401) >= 1
    assert not fake.servers


def test_rate_limits_and_unavailable_are_retried_and_create_is_not_repeated(
    cloud_harness: Callable[..., Any], fake: OpenStackFake
) -> None:
    # Nova's 413 + Retry-After on the first listing; a 503 from Glance; on the creates a 429
    # (not processed) and then a 503 after Nova took the request (the server exists).
    fake.fail_next("GET", r"/compute/v2\.1/servers/detail", 413)
    fake.fail_next("GET", r"/image/v2/images", 503)
    fake.fail_next("POST", r"/compute/v2\.1/servers", 429)
    fake.fail_next("POST", r"/compute/v2\.1/servers", 503, after=True)
    harness = cloud_harness(name="demo", count=1, privateNetwork=False, firewall=False)
    (record,) = harness.provision()
    (server,) = fake.servers.values()
    assert record.cloud_id == server["id"]
    assert record.public_address.startswith("10.240.0.")  # no floating IPs: the fixed address
    # 429: not processed, sent again; 503: ambiguous, looked up (found BUILDing), not re-sent.
    creates = _bodies(fake, "POST", "/compute/v2.1/servers")
    assert len(creates) == 2
    assert creates[0]["server"]["networks"] == "auto"
    (summary,) = [e for e in harness.events if e.get("retries")]
    assert summary["retryReasons"] == {"429": 2, "503": 1}  # 413+Retry-After counts as 429
    assert summary["retries"] == 3


def test_catalog_portable_size_image_aliases_regions_and_console(
    cloud_harness: Callable[..., Any], fake: OpenStackFake
) -> None:
    fake.image_page_limit = 3  # Glance's page size: 5 images come in two pages
    harness = cloud_harness(
        name="demo", count=1, pool={"size": {"cpu": 2, "memoryGiB": 4}},
        privateNetwork=False, firewall=False,
    )  # fmt: skip
    described = harness.cloud.describe_sizes(harness.context, harness.requests())
    # No prices in Nova: the smallest fitting flavor (m2.medium has 6 GiB, m1.large 4 vCPUs).
    assert described == {
        "demo-server-1": "m1.medium (smallest match, no prices listed: 2 vCPU, 4 GiB)"
    }
    driver = harness.driver()
    listed_before = fake.requests.count(method="GET", path_prefix="/image/v2/images")
    assert [i.name for i in driver.list_images()] == [  # newest first, as Glance sorts
        "Ubuntu 24.04", "Ubuntu 22.04", "Debian 12", "Ubuntu 24.04", "Debian 12"
    ]  # fmt: skip
    assert fake.requests.count(method="GET", path_prefix="/image/v2/images") == listed_before + 2
    alias = resolve_image(OpenStackDriver.image_aliases, "debian-12")
    assert driver.resolve_image(alias) == "4f5a6b7c-0000-4d4d-8e8e-0000000000c3"  # the newest
    assert driver.resolve_image("4f5a6b7c-0000-4d4d-8e8e-0000000000c3").startswith("4f5a")
    with pytest.raises(
        ProviderError, match=re.escape("no active image named 'Ubuntu 24.04 LTS'")
    ) as caught:
        driver.resolve_image("Ubuntu 24.04 LTS")
    assert "image:" in (caught.value.hint or "")
    assert [r.id for r in driver.list_regions()] == ["RegionOne"]
    (record,) = harness.provision()
    console = driver.console_output(Machine(record.cloud_id, record.name, "running"))
    assert parse_console_host_keys(console)[0] == record.host_key
    harness.destroy([record])


def test_server_that_never_runs_is_named_and_deleted(
    cloud_harness: Callable[..., Any], fake: OpenStackFake
) -> None:
    fake.fail_boot = {"demo-server-1"}  # ERROR with Nova's fault "No valid host was found"
    harness = cloud_harness(
        name="demo", count=1, privateNetwork=False, firewall=False, createTimeout=0.3,
    )  # fmt: skip
    with pytest.raises(PartialProvisionError) as caught:
        harness.provision()
    assert "demo-server-1" in str(caught.value)
    assert "did not reach running" in caught.value.failed["demo-server-1"]
    (create,) = _bodies(fake, "POST", "/compute/v2.1/servers")
    assert create["server"]["name"] == "demo-server-1"
    assert [p for m, p, _ in fake.received if m == "DELETE" and "/servers/" in p]
    assert fake.servers == {}  # deleted, not left in ERROR


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
    harness = cloud_harness(name="demo", count=1, endpoint=None)
    with pytest.raises(ProviderError, match=re.escape("no Keystone URL")) as caught:
        harness.provision()
    assert "authURL" in (caught.value.hint or "")
