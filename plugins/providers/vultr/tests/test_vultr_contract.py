"""The provider contract against the fake Vultr API, checked against Vultr's OpenAPI document."""

from __future__ import annotations

from typing import Any, ClassVar

from sloth_kubernetes.testing.provider_contract import ProviderContract


class TestVultrContract(ProviderContract):
    # vc2-2c-4gb ($20/month) beats vhf-2c-4gb ($24) in fra
    portable_size: ClassVar[dict[str, Any] | None] = {"cpu": 2, "memoryGiB": 4}
    expected_size = "vc2-2c-4gb"
