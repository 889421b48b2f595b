"""The ``aws`` provider: settings of ``spec.providers.aws`` and the node hooks."""

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


#: EC2's request budget, per account and region, from "Request throttling for the Amazon EC2 API"
#: (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html). Each API action
#: has its own token bucket. The shared default is the non-mutating bucket (100 at once, 20 per
#: second): our Describe* polls and listings. Mutating actions have 50/5 each, and a run makes at
#: most a few of each, except two that get their own bucket here: RunInstances (5 at once,
#: 2 per second — one request per machine, since each machine carries its own user data) and
#: TerminateInstances (100, 5 per second). RunInstances' resource bucket (1000 instances,
#: 2 per second) never binds before its request bucket does at one instance per request.
ACTION_LIMITS = {
    "RunInstances": RateLimit(2.0, 5),
    "TerminateInstances": RateLimit(5.0, 100),
}

PROVIDER = CloudProvider(
    ProviderSpec(
        name="aws",
        description="AWS EC2 machines (libcloud EC2 driver)",
        driver=AwsDriver,
        settings=AwsSettings,
        rate_limit=RateLimit(20.0, 100),
        concurrency=16,
        action_limits=ACTION_LIMITS,
    )
)

