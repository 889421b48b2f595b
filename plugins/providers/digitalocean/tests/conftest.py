from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from digitalocean_fake import SPEC, DigitalOceanFake
from sloth_kubernetes.cloud import CloudProvider
from sloth_kubernetes.testing.emulators.fixtures import prism_fixtures
from sloth_kubernetes.testing.provider_contract import (
    capture_posts,
    cloud_harness,  # noqa: F401
)
from sloth_provider_digitalocean.plugin import PROVIDER

_digitalocean_server, digitalocean_emulator = prism_fixtures("digitalocean", DigitalOceanFake, SPEC)


@pytest.fixture
def cloud() -> CloudProvider:
    return PROVIDER


@pytest.fixture
def provider_block(digitalocean_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("DIGITALOCEAN_TOKEN", "dop_v1_" + "0" * 64)
    return {
        "endpoint": digitalocean_emulator.endpoint,
        "region": "fra1",
        "pollInterval": 0.05,
        "createTimeout": 10,
    }


@pytest.fixture
def sent_user_data(
    digitalocean_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], str | None]:
    bodies = capture_posts(digitalocean_emulator.fake, monkeypatch, "/v2/droplets")

    def read(name: str) -> str | None:
        found = [b.get("user_data") for b in bodies if b.get("name") == name]
        return found[-1] if found else None

    return read
