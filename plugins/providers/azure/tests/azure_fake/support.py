"""Constants and helpers the Azure tests share (here, not in ``conftest``, so that several
plugins' tests can run in one pytest session)."""

from __future__ import annotations

from typing import Any

#: the service principal and subscription the fake knows (paths carry the subscription)
CREDENTIALS = {
    "AZURE_TENANT_ID": "72f988bf-0000-0000-0000-000000000000",
    "AZURE_CLIENT_ID": "00000000-0000-0000-0000-00000000c11e",
    "AZURE_CLIENT_SECRET": "fake~secret~value~never~real~00000000000",
    "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000",
}
SUB = CREDENTIALS["AZURE_SUBSCRIPTION_ID"]


def sent(arm: Any, method: str, contains: str) -> list[tuple[str, Any]]:
    """``(path, body)`` of the ``method`` requests the fake received whose path contains
    ``contains``."""
    return [(p, b) for m, p, b in arm.fake.received if m == method and contains in p]
