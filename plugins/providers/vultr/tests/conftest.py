from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sloth_kubernetes.cloud import CloudProvider
from sloth_kubernetes.testing.emulators.described import DescribedEmulator, described_test
from sloth_kubernetes.testing.provider_contract import cloud_harness  # noqa: F401
from sloth_provider_vultr.plugin import PROVIDER
from vultr_fake import VultrFake

#: the key the fake accepts (``VultrFake.api_keys``)
API_KEY = "V" * 36


@pytest.fixture(scope="session")
def _vultr_server() -> Iterator[DescribedEmulator]:
    emulator = DescribedEmulator(VultrFake())
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def vultr_emulator(_vultr_server: DescribedEmulator) -> Iterator[DescribedEmulator]:
    """The fake Vultr API v2, emptied for this test; the test fails if any request or reply
    broke the API description (``emulator.take_violations()`` collects provoked ones)."""
    yield from described_test(_vultr_server)


@pytest.fixture
def fake(vultr_emulator: DescribedEmulator) -> VultrFake:
    assert isinstance(vultr_emulator.fake, VultrFake)
    return vultr_emulator.fake


@pytest.fixture
def cloud() -> CloudProvider:
    return PROVIDER


@pytest.fixture
def provider_block(
    vultr_emulator: DescribedEmulator, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    monkeypatch.setenv("VULTR_API_KEY", API_KEY)
    return {
        "endpoint": vultr_emulator.endpoint,
        "region": "fra",
        "pollInterval": 0.05,
        "createTimeout": 10,
    }


@pytest.fixture
def sent_user_data(fake: VultrFake) -> Callable[[str], str | None]:
    def read(name: str) -> str | None:
        found = [i["id"] for i in fake.instances.values() if i["label"] == name]
        return fake.user_data.get(found[-1]) if found else None

    return read
