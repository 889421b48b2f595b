"""The ``gcp`` provider: settings of ``spec.providers.gcp`` and the hooks."""

from __future__ import annotations

import attrs
from sloth_kubernetes.plugin import (
    CloudProvider,
    CloudSettings,
    ProviderSpec,
    RateLimit,
    Reference,
    doc,
    in_range,
)

from .driver import GcpDriver


@attrs.frozen(kw_only=True)
class GcpSettings(CloudSettings):
    """``spec.providers.gcp``; the key defaults to Google's application-credentials variable."""

    project: str | None = attrs.field(
        default=None,
        metadata=doc("Project id the machines, network and firewall rules go in (required)."),
    )
    credentials: Reference = attrs.field(
        default=Reference("env", "GOOGLE_APPLICATION_CREDENTIALS"),
        metadata=doc(
            "Service account key reference: a variable holding the key file's path (Google's "
            "convention), or ${file:key.json} holding the JSON itself."
        ),
    )
    zone: str | None = attrs.field(
        default=None, metadata=doc("Zone of new instances (default: <region>-b).")
    )
    machine_families: list[str] = attrs.field(
        factory=lambda: ["e2"],
        metadata=doc(
            "Machine families portable sizes choose from (the API has no prices: the smallest "
            "match is taken); empty: every x86 family.",
            key="machineFamilies",
        ),
    )
    disk_size_gb: int = attrs.field(
        default=30,
        validator=in_range(10, 65536),
        metadata=doc("Boot disk size in GB (pd-balanced).", key="diskSizeGb"),
    )


#: Compute Engine rate quotas are per project and per minute (cloud.google.com/compute/api-quota;
#: the read, list and operation-read groups allowed 1500/min = 25/s each by default). One bucket
#: of 20/s, burst 100, stays under the tightest of them; 403 rateLimitExceeded and 429 are retried.
PROVIDER = CloudProvider(
    ProviderSpec(
        name="gcp",
        description="Google Compute Engine instances (libcloud Google/GCE connection)",
        driver=GcpDriver,
        settings=GcpSettings,
        rate_limit=RateLimit(20.0, 100),
        concurrency=8,
    )
)

