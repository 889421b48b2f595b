from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hetzner_fake import SPEC, HetznerFake
from sloth_kubernetes.cloud import CloudProvider
from sloth_kubernetes.testing.emulators.fixtures import prism_fixtures
from sloth_kubernetes.testing.provider_contract import (
    capture_posts,
    cloud_harness,  # noqa: F401
)
from sloth_provider_hetzner.plugin import PROVIDER

_hetzner_server, hetzner_emulator = prism_fixtures("hetzner", HetznerFake, SPEC)


@pytest.fixture
def cloud() -> CloudProvider:
    return PROVIDER


@pytest.fixture
def provider_block(hetzner_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("HCLOUD_TOKEN", "h" * 64)
    return {
        "endpoint": hetzner_emulator.endpoint,
        "region": "fsn1",
        "pollInterval": 0.05,
        "createTimeout": 10,
    }


@pytest.fixture
def sent_user_data(
    hetzner_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], str | None]:
    bodies = capture_posts(hetzner_emulator.fake, monkeypatch, "/servers")

    def read(name: str) -> str | None:
        found = [b.get("user_data") for b in bodies if b.get("name") == name]
        return found[-1] if found else None

    return read
