from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from linode_fake import SPEC, LinodeFake
from sloth_kubernetes.cloud import CloudProvider
from sloth_kubernetes.testing.emulators.described import described_test
from sloth_kubernetes.testing.emulators.fixtures import prism_session
from sloth_kubernetes.testing.emulators.prism import PrismEmulator
from sloth_kubernetes.testing.provider_contract import (
    capture_posts,
    cloud_harness,  # noqa: F401
)
from sloth_provider_linode.plugin import PROVIDER


@pytest.fixture(scope="session")
def _linode_server() -> Iterator[PrismEmulator]:
    yield from prism_session("linode", LinodeFake, SPEC)


@pytest.fixture
def linode_emulator(_linode_server: PrismEmulator) -> Iterator[PrismEmulator]:
    """Linode v4 through Prism (paths ``/v4/...``).

    The fake's state is ``emulator.fake``; a test that leaves spec violations behind fails at
    teardown with the broken rules listed (``take_violations()`` collects provoked ones)."""
    yield from described_test(_linode_server, what="API spec")


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
