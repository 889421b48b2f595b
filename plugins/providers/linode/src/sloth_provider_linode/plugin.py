"""The ``linode`` provider: settings of ``spec.providers.linode`` and the hooks."""

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

from .driver import LinodeDriver


@attrs.frozen(kw_only=True)
class LinodeSettings(CloudSettings):
    """``spec.providers.linode``; the token defaults to linode-cli's variable."""

    token: Reference = attrs.field(
        default=Reference("env", "LINODE_TOKEN"),
        metadata=doc("Personal access token reference (Linodes, Firewalls: read/write)."),
    )


#: Linode limits requests per endpoint and user; creating Linodes is the tightest. 10 requests/s
#: with a burst of 50 stays under the published limits; 429s are retried anyway.
PROVIDER = CloudProvider(
    ProviderSpec(
        name="linode",
        description="Linode (Akamai) instances (libcloud Linode v4 connection)",
        driver=LinodeDriver,
        settings=LinodeSettings,
        rate_limit=RateLimit(10.0, 50),
        concurrency=8,
    )
)

