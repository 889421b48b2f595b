"""GCE has no local server: the plugin runs against recorded exchanges (``recorded/``).

Each test writes a throwaway service-account key (an RSA key made here, ``token_uri`` pointing
at the replay server) into a 0600 file named by ``GOOGLE_APPLICATION_CREDENTIALS``, as Google's
tooling expects, and points ``endpoint`` at the same server.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sloth_kubernetes.cloud import CloudProvider
from sloth_kubernetes.testing.provider_contract import cloud_harness  # noqa: F401
from sloth_provider_gcp.plugin import PROVIDER

RECORDED = Path(__file__).parent / "recorded"
PROJECT = "sloth-test-project"
EMAIL = f"sloth-ci@{PROJECT}.iam.gserviceaccount.com"


@pytest.fixture
def cloud() -> CloudProvider:
    return PROVIDER


@pytest.fixture(scope="session")
def rsa_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


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
def key_file(tmp_path: Path, rsa_pem: str) -> Callable[[str], Path]:
    """``key_file(token_uri)``: a 0600 service-account key file."""

    def write(token_uri: str) -> Path:
        path = tmp_path / "service-account.json"
        path.touch(mode=0o600)
        path.write_text(service_account_json(rsa_pem, token_uri), encoding="utf-8")
        return path

    return write


@pytest.fixture
def replay(
    recorded_api: Callable[[Path], Any],
    key_file: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[str], Any]:
    """``replay(scenario)``: the replay server of ``recorded/<scenario>`` with a key for it."""

    def start(scenario: str) -> Any:
        api = recorded_api(RECORDED / scenario)
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file(api.endpoint + "/token")))
        return api

    return start


@pytest.fixture
def provider_block() -> dict[str, Any]:
    # Few, short retries: an unrecorded request (421) must fail fast, not for two minutes.
    return {
        "project": PROJECT,
        "region": "europe-west1",
        "pollInterval": 0.01,
        "createTimeout": 10,
        "retryAttempts": 3,
        "retryDeadline": 5,
    }


def sent(api: Any, method: str, suffix: str) -> list[dict[str, Any]]:
    """Bodies of the ``method`` requests whose path ends with ``suffix``."""
    return [body for m, path, body in api.received if m == method and path.endswith(suffix)]
