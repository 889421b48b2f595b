"""The settings every cloud provider block accepts (``spec.providers.<cloud>``).

A plugin subclasses :class:`CloudSettings` and adds its credential fields, typed
:class:`~sloth_kubernetes.config.references.Reference` with a default naming the cloud's usual
variable (``${env:HCLOUD_TOKEN}``…): credentials are never written into config files or stored,
and ``doctor`` reports whether they are present without printing them.
"""

from __future__ import annotations

from typing import Any

import attrs

from ..model.cluster import doc
from ..model.validators import InvalidValue, in_range, ipv4_network


def _endpoint(_instance: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise InvalidValue(
            f"{value!r} is not an http(s) URL",
            hint="write the API base URL, e.g. https://api.example.com or http://127.0.0.1:4010",
            field=attribute.name,
        )


@attrs.frozen(kw_only=True)
class CloudSettings:
    """Common settings of cloud providers; a plugin subclass adds its credentials."""

    endpoint: str | None = attrs.field(
        default=None,
        validator=_endpoint,
        metadata=doc("API base URL override (private clouds, proxies, local emulators)."),
    )
    region: str | None = attrs.field(
        default=None, metadata=doc("Default region for pools that do not name one.")
    )
    private_network: bool = attrs.field(
        default=True, metadata=doc("Create a private network/VPC and attach the nodes.")
    )
    network_cidr: str = attrs.field(
        default="10.240.0.0/16",
        validator=ipv4_network(private=True),
        metadata=doc("Range of the private network.", key="networkCIDR"),
    )
    firewall: bool = attrs.field(
        default=True, metadata=doc("Create a cloud firewall with the rules the cluster needs.")
    )
    # A plain float with 0 for "default": the loader refuses integers in ``float | None``.
    rate_limit: float = attrs.field(
        default=0.0,
        validator=in_range(0, 10000),
        metadata=doc("API requests per second; 0: the cloud's documented limit."),
    )
    burst: int | None = attrs.field(
        default=None,
        validator=in_range(1, 10000),
        metadata=doc("Requests allowed at once before rateLimit applies."),
    )
    concurrency: int | None = attrs.field(
        default=None,
        validator=in_range(1, 256),
        metadata=doc("Machines created in parallel (default: the cloud's, at most --parallel)."),
    )
    create_timeout: float = attrs.field(
        default=600.0,
        validator=in_range(0.1, 7200),
        metadata=doc("Seconds a new machine may take to be running."),
    )
    poll_interval: float = attrs.field(
        default=2.0,
        validator=in_range(0.01, 60),
        metadata=doc("Seconds between status checks while machines boot."),
    )
    retry_attempts: int = attrs.field(
        default=8,
        validator=in_range(1, 50),
        metadata=doc("Tries per API request on 429/5xx/throttling."),
    )
    retry_deadline: float = attrs.field(
        default=120.0,
        validator=in_range(1, 3600),
        metadata=doc("Seconds one API request may keep being retried."),
    )
    catalog_ttl: float = attrs.field(
        default=86400.0,
        validator=in_range(0, 30 * 86400),
        metadata=doc("Seconds the cached sizes/images list stays valid."),
    )
