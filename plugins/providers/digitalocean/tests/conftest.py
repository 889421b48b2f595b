from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from digitalocean_fake import SPEC, DigitalOceanFake
from sloth_kubernetes.cloud import CloudProvider
from sloth_kubernetes.testing.emulators.described import described_test
from sloth_kubernetes.testing.emulators.fixtures import prism_session
from sloth_kubernetes.testing.emulators.prism import PrismEmulator
from sloth_kubernetes.testing.provider_contract import (
    capture_posts,
    cloud_harness,  # noqa: F401
)
from sloth_provider_digitalocean.plugin import PROVIDER


@pytest.fixture(scope="session")
def _digitalocean_server() -> Iterator[PrismEmulator]:
    yield from prism_session("digitalocean", DigitalOceanFake, SPEC)


@pytest.fixture
def digitalocean_emulator(_digitalocean_server: PrismEmulator) -> Iterator[PrismEmulator]:
    """DigitalOcean v2 through Prism. libcloud's driver ignores host/port: re-point
    ``driver.connection`` (host, port, secure=False) and call ``connect()``.

    The fake's state is ``emulator.fake``; a test that leaves spec violations behind fails at
    teardown with the broken rules listed (``take_violations()`` collects provoked ones)."""
    yield from described_test(_digitalocean_server, what="API spec")


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
