"""The provider contract against Prism (the community Hetzner Cloud spec) + the stateful fake."""

from __future__ import annotations

from typing import Any, ClassVar

from sloth_kubernetes.testing.provider_contract import ProviderContract


class TestHetznerContract(ProviderContract):
    portable_size: ClassVar[dict[str, Any] | None] = {"cpu": 3, "memoryGiB": 4}
    expected_size = "cx32"
