"""The provider contract against the fake OpenStack cloud, checked against Nova's, Neutron's,
Glance's and Keystone's own machine-readable descriptions."""

from __future__ import annotations

from typing import Any, ClassVar

from sloth_kubernetes.testing.provider_contract import ProviderContract


class TestOpenStackContract(ProviderContract):
    portable_size: ClassVar[dict[str, Any] | None] = {"cpu": 2, "memoryGiB": 4}
    expected_size = "m1.medium"
