"""Catalog, sizing, images and features against the fake Vultr API (checked against Vultr's
OpenAPI document); its catalogue is libcloud's recorded Vultr v2 plans, OS list and regions
(``tests/described/catalog.json``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sloth_kubernetes.cloud import FEATURES
from sloth_kubernetes.cloud.sizing import ALIASES
from sloth_kubernetes.errors import ProviderError
from sloth_kubernetes.model.cluster import SizeRequest
from sloth_provider_vultr.driver import HOURS_PER_MONTH, VultrDriver

pytestmark = pytest.mark.emulator


def test_plans_over_two_pages_become_sizes_with_hourly_prices(
    cloud_harness: Callable[..., Any], fake: Any
) -> None:
    fake.page_limit = 12  # the largest page the server gives: 21 plans come in two pages
    sizes = {s.id: s for s in cloud_harness().driver().list_sizes()}

    assert len(sizes) == 20  # 21 plans over two pages; vdc-8vcpu-32gb is orderable nowhere
    assert "vdc-8vcpu-32gb" not in sizes
    small = sizes["vc2-1c-1gb"]
    assert (small.cpu, small.memory_gib) == (1, 1.0)
    assert small.price_hourly == pytest.approx(5 / HOURS_PER_MONTH)
    assert "fra" in small.regions
    assert sizes["vhf-12c-48gb"].regions == ("yto", "cdg", "icn")
    assert fake.requests.count(method="GET", path_prefix="/v2/plans") == 2


def test_portable_size_is_the_cheapest_match_in_the_region(
    cloud_harness: Callable[..., Any], sloth_manager: Any
) -> None:
    harness = cloud_harness(name="vsize", count=1, pool={"size": {"cpu": 2, "memoryGiB": 4}})
    # Through the hook, as `plan` asks: vc2-2c-4gb ($20/month) beats vhf-2c-4gb ($24).
    described = sloth_manager.hooks.describe_nodes(harness.context, "vultr", harness.requests())
    assert described == {"vsize-server-1": "vc2-2c-4gb (cheapest match: 2 vCPU, 4 GiB, 0.0274/h)"}
    # vc2-16c-64gb exists, but not in Miami: no size there, said so.
    elsewhere = cloud_harness(name="vmia", count=1, region="mia")
    wanted = SizeRequest(cpu=16, memory_gib=64)
    with (
        elsewhere.cloud.session(elsewhere.context) as session,
        pytest.raises(ProviderError, match="no size in mia has 16 vCPU and 64 GiB"),
    ):
        elsewhere.cloud.resolve_size(session, wanted)


def test_image_aliases_and_names_resolve_to_os_ids(
    cloud_harness: Callable[..., Any], fake: Any
) -> None:
    assert set(VultrDriver.image_aliases) == set(ALIASES)
    driver = cloud_harness().driver()

    assert driver.resolve_image(VultrDriver.image_aliases["debian-12"]) == "2136"
    assert not fake.received  # an alias is an os_id already: no request
    assert driver.resolve_image("Rocky Linux 9 x64") == "1869"  # looked up in GET /v2/os
    with pytest.raises(ProviderError, match="no operating system named 'Plan 9'"):
        driver.resolve_image("Plan 9")
    images = {i.id: i.name for i in driver.list_images()}
    assert images["2284"] == "Ubuntu 24.04 LTS x64"
    assert "164" not in images  # "Snapshot" is a placeholder, not a system


def test_declared_features_work_and_the_rest_raise_not_implemented(
    cloud_harness: Callable[..., Any], fake: Any
) -> None:
    fake.keys["k-1"] = {"id": "k-1", "date_created": "2026-01-01T00:00:00+00:00",
                        "name": "someone-else", "ssh_key": "ssh-ed25519 AAAA other"}  # fmt: skip
    harness = cloud_harness(name="vfeat")
    driver = harness.driver()
    calls: dict[str, Callable[[], Any]] = {
        "tags": lambda: driver.list_machines("vfeat"),
        "ssh-key-import": lambda: driver.list_keys("vfeat"),
        "firewall": lambda: driver.list_firewalls("vfeat"),
        "private-network": lambda: driver.list_networks("vfeat"),
        "catalog": lambda: (driver.list_sizes(), driver.list_images(), driver.list_regions()),
        "console-output": lambda: driver.console_output(None),
    }
    assert driver.features <= set(FEATURES)
    for feature in set(FEATURES) - {"ssh", "user-data", "host-key-at-creation"}:
        if feature in driver.features:
            calls[feature]()  # answers: no NotImplementedError
        else:
            with pytest.raises(NotImplementedError, match=feature):
                calls[feature]()
    assert driver.list_keys("vfeat") == []  # another user's key is not the cluster's
    assert harness.resources() == []
    regions = {r.id: r.name for r in driver.list_regions()}
    assert regions["fra"] == "Frankfurt, DE"


def test_endpoint_with_the_documented_v2_base_path(
    cloud_harness: Callable[..., Any], vultr_emulator: Any, fake: Any
) -> None:
    # https://api.vultr.com/v2 is how Vultr writes its base URL; both forms reach /v2/...
    driver = cloud_harness(endpoint=vultr_emulator.endpoint + "/v2").driver()
    assert len(driver.list_regions()) == 17
    assert [p for _, p, _ in fake.received] == ["/v2/regions"]
