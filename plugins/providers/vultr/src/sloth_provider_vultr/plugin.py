"""The ``vultr`` provider: settings of ``spec.providers.vultr`` and the hooks."""

from __future__ import annotations

import attrs
from sloth_kubernetes.plugin import (
    CloudProvider,
    CloudSettings,
    ProviderSpec,
    RateLimit,
    Reference,
    doc,
)

from .driver import VultrDriver


@attrs.frozen(kw_only=True)
class VultrSettings(CloudSettings):
    """``spec.providers.vultr``; the API key defaults to vultr-cli's variable."""

    api_key: Reference = attrs.field(
        default=Reference("env", "VULTR_API_KEY"),
        metadata=doc("Personal API key reference (Account → API).", key="apiKey"),
    )


#: Vultr documents 30 requests per second (per source IP) and answers 429 above it. A bucket of
#: 10 refilled at 20/s never sends more than 30 in any one second; 429s are retried anyway.
PROVIDER = CloudProvider(
    ProviderSpec(
        name="vultr",
        description="Vultr instances (libcloud Vultr v2 connection)",
        driver=VultrDriver,
        settings=VultrSettings,
        rate_limit=RateLimit(20.0, 10),
        concurrency=8,
    )
)

