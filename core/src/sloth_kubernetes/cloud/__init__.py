"""The cloud provider contract and what every cloud plugin shares (docs/providers/README.md).

* :mod:`.contract` — :class:`CloudDriver` (declared ``features``, ``NotImplementedError``,
  ``ex_`` extras), :class:`Machine`, :class:`Resource`, :class:`MachineSpec`, tags;
* :mod:`.provider` — :class:`CloudProvider`: provision/list/destroy over any driver (adopt by
  tag, parallel creation with one driver per thread, boot wait with timeout, cleanup proof);
* :mod:`.retry` / :mod:`.ratelimit` — jittered, capped retries and a per-provider token bucket;
* :mod:`.catalog` / :mod:`.sizing` — cached catalog, portable sizes, image aliases;
* :mod:`.userdata` — cloud-init that installs the operator key and a host key pinned at creation;
* :mod:`.settings` — the settings every provider block accepts (``endpoint``, ``rateLimit``…).

Nothing here imports libcloud at module import time.
"""

from __future__ import annotations

from ..errors import PartialProvisionError
from .contract import (
    CLUSTER_TAG,
    FEATURES,
    NODE_TAG,
    CloudDriver,
    FirewallRule,
    Image,
    Machine,
    MachineSpec,
    Region,
    Resource,
    Size,
    cluster_tags,
    flat_tags,
)
from .provider import CloudProvider, ProviderSpec
from .ratelimit import RateLimit, TokenBucket
from .retry import Endpoint, Guard, RetryPolicy, classify, guard_connection, point_connection_at
from .settings import CloudSettings

__all__ = [
    "CLUSTER_TAG",
    "FEATURES",
    "NODE_TAG",
    "CloudDriver",
    "CloudProvider",
    "CloudSettings",
    "Endpoint",
    "FirewallRule",
    "Guard",
    "Image",
    "Machine",
    "MachineSpec",
    "PartialProvisionError",
    "ProviderSpec",
    "RateLimit",
    "Region",
    "Resource",
    "RetryPolicy",
    "Size",
    "TokenBucket",
    "classify",
    "cluster_tags",
    "flat_tags",
    "guard_connection",
    "point_connection_at",
]
