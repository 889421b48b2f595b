from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from linode_fake import SPEC, LinodeFake
from sloth_kubernetes.cloud import CloudProvider
from sloth_kubernetes.testing.emulators.fixtures import prism_fixtures
from sloth_kubernetes.testing.provider_contract import (
    capture_posts,
    cloud_harness,  # noqa: F401
)
from sloth_provider_linode.plugin import PROVIDER

_linode_server, linode_emulator = prism_fixtures("linode", LinodeFake, SPEC)


@pytest.fixture
def cloud() -> CloudProvider:
    return PROVIDER


@pytest.fixture
def provider_block(linode_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("LINODE_TOKEN", "l" * 64)
    return {
        "endpoint": linode_emulator.endpoint,
        "region": "eu-central",
        "pollInterval": 0.05,
        "createTimeout": 10,
    }


@pytest.fixture
def sent_user_data(
    linode_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], str | None]:
    bodies = capture_posts(linode_emulator.fake, monkeypatch, "/v4/linode/instances")

    def read(name: str) -> str | None:
        found = [b for b in bodies if b.get("label") == name]
        if not found:
            return None
        return base64.b64decode(found[-1]["metadata"]["user_data"]).decode()

    return read
