"""The plugin runs against a stateful fake of Azure Resource Manager checked against the Azure
SDK for Python's generated description of the REST API (``azure_fake``; see ``README.md``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from azure_fake.support import CREDENTIALS, SUB
from sloth_kubernetes.cloud import CloudProvider
from sloth_kubernetes.testing.emulators.described import (
    DescribedEmulator,
    described_session,
    described_test,
)
from sloth_kubernetes.testing.provider_contract import cloud_harness  # noqa: F401
from sloth_provider_azure.plugin import PROVIDER


@pytest.fixture(scope="session")
def _arm_server() -> Iterator[DescribedEmulator]:
    from azure_fake.fake import FakeResourceManager
    from azure_fake.sdk import SdkUnavailable

    def make() -> FakeResourceManager:
        return FakeResourceManager(
            CREDENTIALS["AZURE_TENANT_ID"],
            CREDENTIALS["AZURE_CLIENT_ID"],
            CREDENTIALS["AZURE_CLIENT_SECRET"],
            SUB,
        )

    yield from described_session(make, missing=(SdkUnavailable,))


@pytest.fixture
def arm(_arm_server: DescribedEmulator) -> Iterator[DescribedEmulator]:
    """The fake, emptied; the test fails at teardown if a request or reply broke the SDK's
    description (``arm.take_violations()`` collects provoked ones)."""
    from sloth_provider_azure.arm import forget_tokens

    forget_tokens()  # each test logs in afresh, so it sees its own token requests
    yield from described_test(_arm_server, what="Azure SDK description")


@pytest.fixture
def credentials() -> dict[str, str]:
    return dict(CREDENTIALS)


@pytest.fixture
def cloud() -> CloudProvider:
    return PROVIDER


@pytest.fixture
def provider_block(arm: DescribedEmulator, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    for variable, value in CREDENTIALS.items():
        monkeypatch.setenv(variable, value)
    return {
        "endpoint": arm.endpoint,
        "region": "westeurope",
        "pollInterval": 0.02,
        "createTimeout": 5,
    }


@pytest.fixture
def sent_user_data(arm: DescribedEmulator) -> Callable[[str], str | None]:
    import base64

    def read(name: str) -> str | None:
        for method, path, body in arm.fake.received:
            if method == "PUT" and path.endswith(f"/virtualMachines/{name}") and body:
                return base64.b64decode(body["properties"]["osProfile"]["customData"]).decode()
        return None

    return read
