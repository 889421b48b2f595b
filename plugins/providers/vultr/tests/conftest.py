from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sloth_kubernetes.cloud import CloudProvider
from sloth_kubernetes.testing.emulators.replay import ReplayServer
from sloth_kubernetes.testing.provider_contract import cloud_harness  # noqa: F401
from sloth_provider_vultr.plugin import PROVIDER

RECORDED = Path(__file__).parent / "recorded"


@pytest.fixture
def cloud() -> CloudProvider:
    return PROVIDER


@pytest.fixture
def provider_block(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Each test adds ``endpoint=`` (its recorded scenario) when it makes the harness."""
    monkeypatch.setenv("VULTR_API_KEY", "V" * 36)
    return {"region": "fra", "pollInterval": 0.05, "createTimeout": 10}


@pytest.fixture
def vultr_api(recorded_api: Callable[[str | Path], ReplayServer]) -> Callable[[str], ReplayServer]:
    """``vultr_api("lifecycle")``: the recorded scenario ``tests/recorded/<name>`` served."""
    return lambda name: recorded_api(RECORDED / name)


@pytest.fixture
def sent() -> Callable[[ReplayServer, str, str], list[Any]]:
    """``sent(api, "POST", "/v2/instances")``: the JSON bodies the recorded API received."""

    def bodies(api: ReplayServer, method: str, path: str) -> list[Any]:
        return [body for m, p, body in api.received if m == method and p == path]

    return bodies
