"""Constants and helpers the GCP tests share (kept here, not in ``conftest``, so that tests of
several plugins can run in one pytest session without ``from conftest import`` clashes)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

PROJECT = "sloth-test-project"
EMAIL = f"sloth-ci@{PROJECT}.iam.gserviceaccount.com"
ZONE = "europe-west1-b"


def rsa_key_pem() -> str:
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


def sent(gce: Any, method: str, suffix: str) -> list[dict[str, Any]]:
    """Bodies of the ``method`` requests the fake received whose path ends with ``suffix``."""
    received = gce.fake.received
    return [body for m, path, body in received if m == method and path.endswith(suffix)]


def paths(gce: Any, method: str) -> list[str]:
    return [path for m, path, _ in gce.fake.received if m == method]


def insert_instance(gce: Any, name: str, labels: dict[str, str]) -> None:
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
