"""The provider contract against the Compute Engine fake, checked against Google's discovery
document."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from sloth_kubernetes.testing.provider_contract import ProviderContract

pytestmark = pytest.mark.emulator


class TestGcpContract(ProviderContract):
    # No prices in the Compute API: among e2 (the default family) the smallest dedicated match
    # of 2 vCPU / 4 GiB (e2-medium is shared-core, e2-highcpu-2 has 2 GiB).
    portable_size: ClassVar[dict[str, Any] | None] = {"cpu": 2, "memoryGiB": 4}
    expected_size = "e2-standard-2"

    def flaky_setup(self, request: pytest.FixtureRequest, endpoint: str) -> None:
        # The token request goes through the proxy too: the key's token URI (the JWT's
        # audience, which the token endpoint checks) must name the proxy.
        key_file = request.getfixturevalue("key_file")
        monkeypatch = request.getfixturevalue("monkeypatch")
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file(endpoint + "/token")))
