"""The provider contract against the Azure Resource Manager fake, checked against the Azure SDK
for Python's description of the REST API."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from sloth_kubernetes.testing.provider_contract import ProviderContract

pytestmark = pytest.mark.emulator


class TestAzureContract(ProviderContract):
    # vmSizes lists no prices: among the 2 vCPU / 4 GiB sizes the name breaks the tie.
    portable_size: ClassVar[dict[str, Any] | None] = {"cpu": 2, "memoryGiB": 4}
    expected_size = "Standard_A2_v2"
