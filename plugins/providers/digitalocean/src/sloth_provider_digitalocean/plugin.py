"""The ``digitalocean`` provider: settings of ``spec.providers.digitalocean`` and the hooks."""

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

from .driver import DigitalOceanDriver


@attrs.frozen(kw_only=True)
class DigitalOceanSettings(CloudSettings):
    """``spec.providers.digitalocean``; the token defaults to doctl's variable."""

    token: Reference = attrs.field(
        default=Reference("env", "DIGITALOCEAN_TOKEN"),
        metadata=doc("API token reference (read and write scopes)."),
    )


#: DigitalOcean allows 5,000 requests per hour and 250 per minute per token.
PROVIDER = CloudProvider(
    ProviderSpec(
        name="digitalocean",
        description="DigitalOcean droplets (libcloud DigitalOcean v2 connection)",
        driver=DigitalOceanDriver,
        settings=DigitalOceanSettings,
        rate_limit=RateLimit.per_hour(5000, 250),
        concurrency=10,
    )
)

