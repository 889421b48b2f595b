from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sloth_kubernetes.cloud import CloudProvider
from sloth_kubernetes.testing.emulators.described import DescribedEmulator, described_test
from sloth_kubernetes.testing.provider_contract import cloud_harness  # noqa: F401
from sloth_provider_openstack.plugin import PROVIDER

from .openstack_fake import OpenStackFake

#: what the fake's Keystone accepts (``OpenStackFake.users`` / ``.project``)
PASSWORD = "fake-cloud-password"


@pytest.fixture(scope="session")
def _openstack_server() -> Iterator[DescribedEmulator]:
    fake = OpenStackFake()
    emulator = DescribedEmulator(fake)
    fake.base_url = emulator.endpoint  # where the service catalog points
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def openstack_emulator(_openstack_server: DescribedEmulator) -> Iterator[DescribedEmulator]:
    """The fake cloud, emptied for this test; the test fails if a request or reply broke the
    services' descriptions (``take_violations()`` collects provoked ones)."""
    yield from described_test(_openstack_server)


@pytest.fixture
def fake(openstack_emulator: DescribedEmulator) -> OpenStackFake:
    assert isinstance(openstack_emulator.fake, OpenStackFake)
    return openstack_emulator.fake


@pytest.fixture
def cloud() -> CloudProvider:
    return PROVIDER


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    """Tokens and flavors are cached per process by Keystone URL, and the fake forgets its
    tokens between tests (a token of an earlier test would be refused)."""
    from sloth_provider_openstack import connection, driver

    connection.TOKENS._contexts.clear()
    driver._flavors.clear()
    yield
    connection.TOKENS._contexts.clear()
    driver._flavors.clear()


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OS_USERNAME", "operator")
    monkeypatch.setenv("OS_PASSWORD", PASSWORD)
    monkeypatch.setenv("OS_PROJECT_NAME", "k8s")


@pytest.fixture
def provider_block(credentials: None, openstack_emulator: DescribedEmulator) -> dict[str, Any]:
    # rateLimit: the fake answers at once; the default bucket (10/s) would add seconds.
    return {
        "endpoint": keystone(openstack_emulator),
        "region": "RegionOne",
        "pollInterval": 0.05,
        "createTimeout": 10,
        "rateLimit": 1000.0,
    }


@pytest.fixture
def sent_user_data(fake: OpenStackFake) -> Callable[[str], str | None]:
    def read(name: str) -> str | None:
        found = [i for i, s in fake.servers.items() if s["name"] == name]
        return fake.user_data.get(found[-1]) if found else None

    return read


def keystone(emulator: Any) -> str:
    return f"{emulator.endpoint}/identity/v3"
