"""The ``azure`` provider: settings of ``spec.providers.azure`` and the hooks."""

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

from .driver import AzureDriver


@attrs.frozen(kw_only=True)
class AzureSettings(CloudSettings):
    """``spec.providers.azure``; credentials default to the Azure CLI / SDK variables of a
    service principal (client credentials). ``region`` is the Azure location."""

    tenant_id: Reference = attrs.field(
        default=Reference("env", "AZURE_TENANT_ID"),
        metadata=doc("Microsoft Entra tenant (directory) id reference.", key="tenantId"),
    )
    client_id: Reference = attrs.field(
        default=Reference("env", "AZURE_CLIENT_ID"),
        metadata=doc("Service principal application (client) id reference.", key="clientId"),
    )
    client_secret: Reference = attrs.field(
        default=Reference("env", "AZURE_CLIENT_SECRET"),
        metadata=doc("Service principal client secret reference.", key="clientSecret"),
    )
    subscription_id: Reference = attrs.field(
        default=Reference("env", "AZURE_SUBSCRIPTION_ID"),
        metadata=doc("Subscription id reference (the principal needs Contributor on it).",
                     key="subscriptionId"),
    )  # fmt: skip
    admin_username: str = attrs.field(
        default="sloth",
        metadata=doc(
            "Login Azure creates with the operator key (Azure refuses `root`; cloud-init "
            "also installs the key for root, which the tool uses).",
            key="adminUsername",
        ),
    )
    os_disk_type: str = attrs.field(
        default="StandardSSD_LRS",
        metadata=doc("Managed disk type of the OS disk.", key="osDiskType"),
    )


#: ARM throttles with token buckets per subscription and region (2024 model): reads 250 burst /
#: 25 per s, writes and deletes 200 burst / 10 per s; the older per-hour model allows 12000 reads
#: and 1200 writes an hour per principal. 10 requests/s with a burst of 100 stays under both;
#: a 429 carries Retry-After and the guard honours it.
PROVIDER = CloudProvider(
    ProviderSpec(
        name="azure",
        description="Azure virtual machines (libcloud Azure ARM connection)",
        driver=AzureDriver,
        settings=AzureSettings,
        rate_limit=RateLimit(10.0, 100),
        concurrency=8,
    )
)

