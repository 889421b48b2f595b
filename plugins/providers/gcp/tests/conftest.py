"""The plugin runs against a stateful fake of Compute Engine checked against Google's discovery
document (``gce_fake``, beside the tests; see ``README.md`` here).

Each test writes a throwaway service-account key (an RSA key made here, registered with the
fake, ``token_uri`` pointing at the fake) into a 0600 file named by
``GOOGLE_APPLICATION_CREDENTIALS``, as Google's tooling expects, and points ``endpoint`` at the
same server. A test that leaves a request or reply breaking the discovery document behind fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gce_fake.support import EMAIL, PROJECT, ZONE, rsa_key_pem, sent, service_account_json
from sloth_kubernetes.cloud import CloudProvider
from sloth_kubernetes.testing.emulators.described import (
    DescribedEmulator,
    described_session,
    described_test,
)
from sloth_kubernetes.testing.provider_contract import cloud_harness  # noqa: F401
from sloth_provider_gcp.plugin import PROVIDER


@pytest.fixture
def cloud() -> CloudProvider:
    return PROVIDER


@pytest.fixture(scope="session")
def rsa_pem() -> str:
    return rsa_key_pem()


@pytest.fixture(scope="session")
def _gce_server(rsa_pem: str) -> Iterator[DescribedEmulator]:
    from cryptography.hazmat.primitives import serialization
    from gce_fake.discovery import DiscoveryUnavailable
    from gce_fake.fake import FakeComputeEngine

    def make() -> FakeComputeEngine:
        fake = FakeComputeEngine(PROJECT)
        private = serialization.load_pem_private_key(rsa_pem.encode(), password=None)
        public = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        fake.register_account(EMAIL, public.decode())  # the session's service account key
        return fake

    yield from described_session(make, missing=(DiscoveryUnavailable,))


@pytest.fixture
def gce(
    _gce_server: DescribedEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DescribedEmulator]:
    """The fake, emptied; the test fails at teardown if a request or reply broke the discovery
    document (``gce.take_violations()`` collects provoked ones)."""
    from sloth_provider_gcp import _google

    monkeypatch.setattr(_google, "_tokens", {})  # each test signs in afresh
    yield from described_test(_gce_server, what="Compute v1 discovery document")


@pytest.fixture
def key_file(tmp_path: Path, rsa_pem: str) -> Callable[..., Path]:
    """``key_file(token_uri, pem=None)``: a 0600 service-account key file."""

    def write(token_uri: str, pem: str | None = None) -> Path:
        path = tmp_path / "service-account.json"
        path.touch(mode=0o600)
        path.write_text(service_account_json(pem or rsa_pem, token_uri), encoding="utf-8")
        return path

    return write


@pytest.fixture
def provider_block(
    gce: DescribedEmulator, key_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file(gce.endpoint + "/token")))
    # Few, short retries: a refused request must fail fast, not for two minutes.
    return {
        "endpoint": gce.endpoint,
        "project": PROJECT,
        "region": "europe-west1",
        "pollInterval": 0.01,
        "createTimeout": 10,
        "retryAttempts": 3,
        "retryDeadline": 5,
    }


@pytest.fixture
def sent_user_data(gce: DescribedEmulator) -> Callable[[str], str | None]:
    def read(name: str) -> str | None:
        for body in sent(gce, "POST", f"/zones/{ZONE}/instances"):
            if body.get("name") == name:
                return {i["key"]: i["value"] for i in body["metadata"]["items"]}["user-data"]
        return None

    return read
