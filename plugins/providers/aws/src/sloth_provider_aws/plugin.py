"""The ``aws`` provider: settings of ``spec.providers.aws`` and the node hooks."""

from __future__ import annotations

import attrs
from sloth_kubernetes.cloud import CloudProvider, CloudSettings, ProviderSpec, RateLimit
from sloth_kubernetes.cloud.hooks import describe_hook, plugin_hooks
from sloth_kubernetes.config.references import Reference
from sloth_kubernetes.model.cluster import doc

from .driver import AwsDriver


@attrs.frozen(kw_only=True)
class AwsSettings(CloudSettings):
    """``spec.providers.aws``; credentials default to the AWS CLI's variables."""

    access_key_id: Reference = attrs.field(
        default=Reference("env", "AWS_ACCESS_KEY_ID"),
        metadata=doc("Access key id reference.", key="accessKeyId"),
    )
    secret_access_key: Reference = attrs.field(
        default=Reference("env", "AWS_SECRET_ACCESS_KEY"),
        metadata=doc("Secret access key reference.", key="secretAccessKey"),
    )
    image_owners: list[str] = attrs.field(
        factory=lambda: ["099720109477", "136693071363"],
        metadata=doc("Accounts whose images aliases resolve to (Canonical, Debian)."),
    )


#: AWS documents EC2's request rate as token buckets per action class; the non-mutating bucket
#: (100 burst, 20/s refill) is the binding one for our mix. Throttling errors are retried anyway.
PROVIDER = CloudProvider(
    ProviderSpec(
        name="aws",
        description="AWS EC2 machines (libcloud EC2 driver)",
        driver=AwsDriver,
        settings=AwsSettings,
        rate_limit=RateLimit(20.0, 100),
        concurrency=16,
    )
)

(
    register_providers,
    register_config_models,
    provision_nodes,
    list_nodes,
    destroy_nodes,
) = plugin_hooks(PROVIDER)
describe_nodes = describe_hook(PROVIDER)
