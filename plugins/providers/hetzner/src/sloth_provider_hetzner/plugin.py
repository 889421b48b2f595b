"""The ``hetzner`` provider: settings of ``spec.providers.hetzner`` and the hooks."""

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

from .driver import HetznerDriver


@attrs.frozen(kw_only=True)
class HetznerSettings(CloudSettings):
    """``spec.providers.hetzner``; the token defaults to the hcloud CLI's variable."""

    token: Reference = attrs.field(
        default=Reference("env", "HCLOUD_TOKEN"),
        metadata=doc("Project API token reference (read & write)."),
    )


#: Hetzner Cloud allows 3600 requests per hour per project, refilled at one per second; a burst
#: of 300 leaves room for other tools sharing the project.
PROVIDER = CloudProvider(
    ProviderSpec(
        name="hetzner",
        description="Hetzner Cloud servers (own driver on libcloud's connection base)",
        driver=HetznerDriver,
        settings=HetznerSettings,
        rate_limit=RateLimit.per_hour(3600, 300),
        concurrency=10,
    )
)

