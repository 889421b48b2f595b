"""The provider contract against the fake OpenStack cloud, checked against Nova's, Neutron's,
Glance's and Keystone's own machine-readable descriptions."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from sloth_kubernetes.testing.provider_contract import ProviderContract


class TestOpenStackContract(ProviderContract):
    portable_size: ClassVar[dict[str, Any] | None] = {"cpu": 2, "memoryGiB": 4}
    expected_size = "m1.medium"

    def flaky_setup(self, request: pytest.FixtureRequest, endpoint: str) -> None:
        # Nova, Neutron and Glance are reached at the catalog's addresses: point the catalog
        # at the proxy too, so every service's requests can fail, not only Keystone's.
        fake = request.getfixturevalue("fake")
        request.getfixturevalue("monkeypatch").setattr(fake, "base_url", endpoint)
