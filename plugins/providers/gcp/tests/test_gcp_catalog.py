"""Sizes, images, regions, console output, declared features and pagination, on the fake."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from gce_fake.support import ZONE, paths
from sloth_kubernetes.cloud import FEATURES
from sloth_kubernetes.cloud.sizing import resolve_image
from sloth_kubernetes.cloud.userdata import parse_console_host_keys
from sloth_kubernetes.model.cluster import SizeRequest
from sloth_provider_gcp.driver import GcpDriver

pytestmark = pytest.mark.emulator


def test_portable_size_is_the_smallest_dedicated_x86_match(
    gce: Any, cloud_harness: Callable[..., Any], sloth_manager: Any
) -> None:
    harness = cloud_harness(name="demo", count=1, pool={"size": {"cpu": 2, "memoryGiB": 4}})
    # Through the hook `plan` uses. No prices in the API: among e2 (the default family) the
    # shared-core e2-medium (2 vCPU, 4 GiB) is skipped, e2-highcpu-2 has too little memory.
    described = sloth_manager.hooks.describe_nodes(harness.context, "gcp", harness.requests())
    assert described == {
        "demo-server-1": "e2-standard-2 (smallest match, no prices listed: 2 vCPU, 8 GiB)"
    }
    sizes = {s.id for s in harness.driver().list_sizes()}
    assert "e2-medium" not in sizes
    assert "t2a-standard-2" not in sizes
    assert all(s.startswith("e2-") for s in sizes)

    every = cloud_harness(name="demo", count=1, machineFamilies=[])
    with every.cloud.session(every.context) as session:
        chosen, _ = every.cloud.resolve_size(session, SizeRequest(cpu=2, memory_gib=4))
        assert chosen == "n1-standard-2"  # the least memory among every x86 family
        tiny, _ = every.cloud.resolve_size(session, SizeRequest(cpu=1, memory_gib=1))
        assert tiny == "n1-standard-1"  # f1-micro is shared-core


def test_lists_follow_next_page_tokens(gce: Any, cloud_harness: Callable[..., Any]) -> None:
    # The server may answer fewer items than maxResults asks; the client must follow
    # nextPageToken. Two per page: 14 machine types, 3 instances.
    gce.fake.page_size = 2
    harness = cloud_harness(name="demo", count=3, privateNetwork=False, firewall=False)
    every = {s.id for s in cloud_harness(name="demo", machineFamilies=[]).driver().list_sizes()}
    assert {"n1-standard-1", "n1-standard-2", "n2-standard-2", "c3-standard-4"} <= every
    pages = [p for p in paths(gce, "GET") if p.endswith(f"/zones/{ZONE}/machineTypes")]
    assert len(pages) == 7  # 14 types, 2 a page
    records = harness.provision()
    gce.fake.received.clear()
    assert set(harness.listed()) == {r.name for r in records}
    assert len([p for p in paths(gce, "GET") if p.endswith("/aggregated/instances")]) == 2
    harness.destroy(records)
    assert harness.resources() == []


def test_image_aliases_are_image_families() -> None:
    aliases = GcpDriver.image_aliases
    assert resolve_image(aliases, None) == (
        "projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64"
    )
    assert (
        resolve_image(aliases, "debian-12")
        == "projects/debian-cloud/global/images/family/debian-12"
    )
    assert (
        resolve_image(aliases, "projects/p/global/images/mine") == "projects/p/global/images/mine"
    )


def test_declared_features_work_and_the_rest_raise(
    gce: Any, cloud_harness: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the key's JSON itself through ${file:…} (the default variable holds its path instead)
    key = os.environ["GOOGLE_APPLICATION_CREDENTIALS"]
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS")
    harness = cloud_harness(
        name="demo", count=1, credentials=f"${{file:{key}}}", privateNetwork=False, firewall=False
    )
    (record,) = harness.provision()
    driver = harness.driver()
    assert driver.features <= set(FEATURES)
    (machine,) = driver.list_machines("demo")
    calls: dict[str, list[Callable[[], Any]]] = {
        "catalog": [driver.list_sizes, driver.list_images, driver.list_regions],
        "console-output": [lambda: driver.console_output(machine)],
        "firewall": [lambda: driver.list_firewalls("demo")],
        "private-network": [lambda: driver.list_networks("demo")],
        "tags": [lambda: driver.list_machines("demo")],
        "ssh-key-import": [
            lambda: driver.import_key("demo", "ssh-ed25519 AAAA"),
            lambda: driver.list_keys("demo"),
            lambda: driver.delete_key(None),
        ],
    }
    for feature, methods in calls.items():
        for call in methods:
            if feature in driver.features:
                call()
            else:
                with pytest.raises(NotImplementedError, match=feature):
                    call()
    assert "ssh-key-import" not in driver.features  # GCE has no key resource (metadata only)
    assert [r.id for r in driver.list_regions()] == ["europe-west1", "us-central1"]
    # the console shows the host key cloud-init installed from the user data: the pinned one
    assert parse_console_host_keys(driver.console_output(machine)) == [record.host_key]
    driver.check_credentials()
    harness.destroy([record])
    assert harness.resources() == []
