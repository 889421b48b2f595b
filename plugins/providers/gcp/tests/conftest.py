"""The plugin runs against a stateful fake of Compute Engine checked against Google's discovery
document (``gce_fake``, beside the tests; see ``README.md`` here).

Each test writes a throwaway service-account key (an RSA key made here, registered with the
fake, ``token_uri`` pointing at the fake) into a 0600 file named by
``GOOGLE_APPLICATION_CREDENTIALS``, as Google's tooling expects, and points ``endpoint`` at the
same server. A test that leaves a request or reply breaking the discovery document behind fails.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sloth_kubernetes.cloud import CloudProvider
from sloth_kubernetes.testing.emulators.described import DescribedEmulator, described_test
from sloth_kubernetes.testing.provider_contract import cloud_harness  # noqa: F401
from sloth_provider_gcp.plugin import PROVIDER

PROJECT = "sloth-test-project"
EMAIL = f"sloth-ci@{PROJECT}.iam.gserviceaccount.com"
ZONE = "europe-west1-b"


@pytest.fixture
def cloud() -> CloudProvider:
    return PROVIDER


def _rsa_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture(scope="session")
def rsa_pem() -> str:
    return _rsa_pem()


@pytest.fixture(scope="session")
def _gce_server(rsa_pem: str) -> Iterator[DescribedEmulator]:
    from cryptography.hazmat.primitives import serialization
    from gce_fake.discovery import DiscoveryUnavailable
    from gce_fake.fake import FakeComputeEngine

    try:
        fake = FakeComputeEngine(PROJECT)
    except DiscoveryUnavailable as missing:
        if os.environ.get("SLOTH_REQUIRE_EMULATORS") == "1":
            pytest.fail(f"GCE fake required but unavailable: {missing}")
        pytest.skip(f"GCE fake unavailable: {missing}")
    private = serialization.load_pem_private_key(rsa_pem.encode(), password=None)
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    fake.register_account(EMAIL, public.decode())  # the session's service account key
    emulator = DescribedEmulator(fake)
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def gce(
    _gce_server: DescribedEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DescribedEmulator]:
    """The fake, emptied; the test fails at teardown if a request or reply broke the discovery
    document (``gce.take_violations()`` collects provoked ones)."""
    from sloth_provider_gcp import _google

    monkeypatch.setattr(_google, "_tokens", {})  # each test signs in afresh
    yield from described_test(_gce_server, what="Compute v1 discovery document")


def service_account_json(rsa_pem: str, token_uri: str) -> str:
    return json.dumps(
        {
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": "0123456789abcdef0123456789abcdef01234567",
            "private_key": rsa_pem,
            "client_email": EMAIL,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
        }
    )


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


def sent(gce: DescribedEmulator, method: str, suffix: str) -> list[dict[str, Any]]:
    """Bodies of the ``method`` requests the fake received whose path ends with ``suffix``."""
    received = gce.fake.received
    return [body for m, path, body in received if m == method and path.endswith(suffix)]


def paths(gce: DescribedEmulator, method: str) -> list[str]:
    return [path for m, path, _ in gce.fake.received if m == method]


def insert_instance(gce: DescribedEmulator, name: str, labels: dict[str, str]) -> None:
    """Create an instance through the API (checked like the driver's requests), as someone
    else — or an earlier run — would have."""
    gce.fake.tokens.add("ya29.test-seed")  # type: ignore[attr-defined]
    body = {
        "name": name,
        "machineType": f"zones/{ZONE}/machineTypes/e2-small",
        "labels": labels,
        "disks": [{"boot": True, "autoDelete": True, "initializeParams": {
            "sourceImage": "projects/debian-cloud/global/images/family/debian-12"}}],
        "networkInterfaces": [{"network": "global/networks/default"}],
    }  # fmt: skip
    request = urllib.request.Request(
        f"{gce.endpoint}/compute/v1/projects/{PROJECT}/zones/{ZONE}/instances",
        data=json.dumps(body).encode(),
        headers={"Authorization": "Bearer ya29.test-seed", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 200
