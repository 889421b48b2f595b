"""The typed model of a cluster: the spec users write and the records of what exists."""

from __future__ import annotations

from .cluster import (
    ApiEndpoint,
    ClusterConfig,
    ClusterSpec,
    KubernetesSpec,
    Metadata,
    NodePool,
    PluginBlock,
    SecuritySpec,
    SizeRequest,
    StorageBlock,
    StorageClassSpec,
    api_endpoint_of,
)
from .nodes import NodePackage, NodeRecord, NodeRequest, ResourceChange

__all__ = [
    "ApiEndpoint",
    "ClusterConfig",
    "ClusterSpec",
    "KubernetesSpec",
    "Metadata",
    "NodePackage",
    "NodePool",
    "NodeRecord",
    "NodeRequest",
    "PluginBlock",
    "ResourceChange",
    "SecuritySpec",
    "SizeRequest",
    "StorageBlock",
    "StorageClassSpec",
    "api_endpoint_of",
]
