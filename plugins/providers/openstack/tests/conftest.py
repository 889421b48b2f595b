from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sloth_kubernetes.cloud import CloudProvider
from sloth_kubernetes.testing.provider_contract import cloud_harness  # noqa: F401
from sloth_provider_openstack.plugin import PROVIDER

RECORDED = Path(__file__).parent / "recorded"


@pytest.fixture
def cloud() -> CloudProvider:
    return PROVIDER


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    """Tokens and flavors are cached per process by Keystone URL: a later replay server on a
    reused port must not see an earlier test's token."""
    from sloth_provider_openstack import connection, driver

    connection.TOKENS._contexts.clear()
    driver._flavors.clear()
    yield
    connection.TOKENS._contexts.clear()
    driver._flavors.clear()


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OS_USERNAME", "operator")
    monkeypatch.setenv("OS_PASSWORD", "recorded-password-not-a-secret")
    monkeypatch.setenv("OS_PROJECT_NAME", "k8s")


@pytest.fixture
def provider_block(credentials: None) -> dict[str, Any]:
    """Each test passes ``endpoint`` (its replay server's Keystone URL) to ``cloud_harness``."""
    # rateLimit: the recorded servers answer at once; the default bucket (10/s) would add seconds.
    return {
        "region": "RegionOne", "pollInterval": 0.05, "createTimeout": 10, "concurrency": 1,
        "rateLimit": 1000.0,
    }  # fmt: skip


def keystone(api: Any) -> str:
    return f"{api.endpoint}/identity/v3"
