"""The ``openstack`` provider: settings of ``spec.providers.openstack`` and the node hooks."""

from __future__ import annotations

from typing import Literal

import attrs
from sloth_kubernetes.plugin import (
    CloudProvider,
    CloudSettings,
    ProviderSpec,
    RateLimit,
    Reference,
    doc,
)

from .driver import OpenStackDriver


@attrs.frozen(kw_only=True)
class OpenStackSettings(CloudSettings):
    """``spec.providers.openstack``: the clouds.yaml / openrc settings, credentials by reference.

    ``endpoint``, when set, is the Keystone URL (it wins over ``authURL``); every other host
    comes from the service catalog Keystone returns.
    """

    auth_url: str | None = attrs.field(
        default=None,
        metadata=doc("Keystone URL, e.g. openrc's OS_AUTH_URL (…:5000/v3).", key="authURL"),
    )
    username: Reference = attrs.field(
        default=Reference("env", "OS_USERNAME"), metadata=doc("User name reference.")
    )
    password: Reference = attrs.field(
        default=Reference("env", "OS_PASSWORD"), metadata=doc("Password reference.")
    )
    project_name: Reference = attrs.field(
        default=Reference("env", "OS_PROJECT_NAME"),
        metadata=doc("Project (tenant) name reference.", key="projectName"),
    )
    user_domain_name: str = attrs.field(
        default="Default",
        metadata=doc("Domain of the user (OS_USER_DOMAIN_NAME).", key="userDomainName"),
    )
    project_domain_name: str = attrs.field(
        default="Default",
        metadata=doc("Domain of the project (OS_PROJECT_DOMAIN_NAME).", key="projectDomainName"),
    )
    interface: Literal["public", "internal", "admin"] = attrs.field(
        default="public", metadata=doc("Catalog endpoints to use (OS_INTERFACE).")
    )
    external_network: str | None = attrs.field(
        default=None,
        metadata=doc(
            "External network for the router gateway and floating IPs (default: the only one).",
            key="externalNetwork",
        ),
    )
    floating_ips: bool = attrs.field(
        default=True,
        metadata=doc("Give each server a floating IP (its public address).", key="floatingIPs"),
    )


#: OpenStack rate limits are whatever the operator configured (often none, sometimes a few
#: requests per second per project at the load balancer): 10 requests/s with a burst of 20 is
#: conservative; 413/429 (with Retry-After) and 5xx answers are retried anyway.
PROVIDER = CloudProvider(
    ProviderSpec(
        name="openstack",
        description="OpenStack servers (Nova, Neutron, Glance; Keystone v3) through libcloud",
        driver=OpenStackDriver,
        settings=OpenStackSettings,
        rate_limit=RateLimit(10.0, 20),
        concurrency=8,
    )
)
