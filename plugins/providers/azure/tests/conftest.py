from __future__ import annotations

from typing import Any

import pytest
from sloth_kubernetes.cloud import CloudProvider
from sloth_kubernetes.testing.provider_contract import cloud_harness  # noqa: F401
from sloth_provider_azure.plugin import PROVIDER

#: The identifiers the recordings were made with (paths carry the subscription and tenant).
CREDENTIALS = {
    "AZURE_TENANT_ID": "72f988bf-0000-0000-0000-000000000000",
    "AZURE_CLIENT_ID": "00000000-0000-0000-0000-00000000c11e",
    "AZURE_CLIENT_SECRET": "recorded~secret~value~never~real~0000000",
    "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000",
}


@pytest.fixture
def credentials() -> dict[str, str]:
    return dict(CREDENTIALS)


@pytest.fixture
def cloud() -> CloudProvider:
    return PROVIDER


@pytest.fixture
def provider_block(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Each test adds ``endpoint=`` (its recorded scenario's server) through the harness."""
    for variable, value in CREDENTIALS.items():
        monkeypatch.setenv(variable, value)
    return {"region": "westeurope", "pollInterval": 0.02, "createTimeout": 5}
