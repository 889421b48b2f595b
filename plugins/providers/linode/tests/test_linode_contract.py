"""The provider contract against Prism (Linode's official OpenAPI spec) + the stateful fake."""

from __future__ import annotations

from typing import Any, ClassVar

from sloth_kubernetes.testing.provider_contract import ProviderContract


class TestLinodeContract(ProviderContract):
    portable_size: ClassVar[dict[str, Any] | None] = {"cpu": 2, "memoryGiB": 2}
    expected_size = "g6-standard-2"
