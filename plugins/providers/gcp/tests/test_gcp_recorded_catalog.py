"""Sizes, images, regions, console output and declared features, on recorded exchanges."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from sloth_kubernetes.cloud import FEATURES
from sloth_kubernetes.cloud.sizing import resolve_image
from sloth_kubernetes.model.cluster import SizeRequest
from sloth_provider_gcp.driver import GcpDriver

pytestmark = pytest.mark.emulator


def test_recorded_portable_size_is_the_smallest_dedicated_x86_match(
    replay: Callable[[str], Any], cloud_harness: Callable[..., Any], sloth_manager: Any
) -> None:
    api = replay("catalog")
    harness = cloud_harness(
        name="demo", count=1, endpoint=api.endpoint, pool={"size": {"cpu": 2, "memoryGiB": 4}}
    )
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

    every = cloud_harness(name="demo", count=1, endpoint=api.endpoint, machineFamilies=[])
    with every.cloud.session(every.context) as session:
        chosen, _ = every.cloud.resolve_size(session, SizeRequest(cpu=2, memory_gib=4))
        assert chosen == "n1-standard-2"  # the least memory among every x86 family
        tiny, _ = every.cloud.resolve_size(session, SizeRequest(cpu=1, memory_gib=1))
        assert tiny == "n1-standard-1"  # f1-micro is shared-core
    assert api.unmatched == []


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


def test_recorded_declared_features_work_and_the_rest_raise(
    replay: Callable[[str], Any],
    cloud_harness: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sloth_kubernetes.cloud import Machine

    api = replay("catalog")
    # the key's JSON itself through ${file:…} (the default variable holds its path instead)
    key = os.environ["GOOGLE_APPLICATION_CREDENTIALS"]
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS")
    harness = cloud_harness(
        name="demo", count=1, endpoint=api.endpoint, credentials=f"${{file:{key}}}"
    )
    driver = harness.driver()
    assert driver.features <= set(FEATURES)
    machine = Machine("7000000000000000001", "demo-server-1", "running",
                      extra={"zone": "europe-west1-b"})  # fmt: skip
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
    assert "ssh-ed25519 AAAAC3Nza" in driver.console_output(machine)
    driver.check_credentials()
    assert harness.resources() == []
    assert api.unmatched == []
