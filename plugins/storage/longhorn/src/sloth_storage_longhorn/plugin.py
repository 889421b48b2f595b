"""``longhorn``: replicated block storage on the nodes' disks.

Delivered as a HelmChart for the pinned ``longhorn`` chart; the spec's classes become
StorageClasses of the ``driver.longhorn.io`` provisioner with ``numberOfReplicas`` from each
class's ``replicas``. Longhorn attaches volumes over iSCSI and serves RWX volumes over NFS, so
every node gets ``open-iscsi`` and ``nfs-common`` in the prepare phase (``node_packages``).
"""

from __future__ import annotations

from typing import Any

import attrs
from sloth_kubernetes.plugin import (
    AddonManifests,
    ClusterContext,
    NodeRecord,
    Storage,
    StorageBlock,
    StorageClassSpec,
    doc,
    helm_chart,
    hookimpl,
    privileged_namespace,
    storage_classes,
)

NAME = "longhorn"
CHART_REPO = "https://charts.longhorn.io"
DEFAULT_VERSION = "1.7.2"
NAMESPACE = "longhorn-system"
PROVISIONER = "driver.longhorn.io"
#: Debian packages every node needs: iSCSI initiator (volumes), NFS client (RWX volumes).
NODE_PACKAGES = ("open-iscsi", "nfs-common")


@attrs.frozen
class LonghornSettings:
    """Settings of a ``spec.storage[]`` item with ``type: longhorn``."""

    version: str = attrs.field(
        default=DEFAULT_VERSION, metadata=doc("longhorn chart version (pinned).")
    )
    data_path: str = attrs.field(
        default="/var/lib/longhorn", metadata=doc("Directory on each node holding volume data.")
    )
    values: dict[str, Any] = attrs.field(
        factory=dict, metadata=doc("Chart values merged over the plugin's.")
    )


def _parameters(spec: StorageClassSpec) -> dict[str, str]:
    return {
        "numberOfReplicas": str(spec.replicas or 3),
        "staleReplicaTimeout": "30",
        "fsType": "ext4",
    }


def render(block: StorageBlock) -> AddonManifests:
    settings = block.settings if isinstance(block.settings, LonghornSettings) else None
    settings = settings or LonghornSettings()
    replicas = max((c.replicas or 3 for c in block.classes), default=3)
    values = {
        # the spec's classes are rendered below; the chart's own class would be a second one
        "persistence": {"defaultClass": False},
        "defaultSettings": {
            "defaultDataPath": settings.data_path,
            "defaultReplicaCount": replicas,
        },
    }
    chart = helm_chart(
        NAME,
        chart="longhorn",
        repo=CHART_REPO,
        version=settings.version,
        target_namespace=NAMESPACE,
        values=values,
        overrides=settings.values,
    )
    classes = storage_classes(
        block, PROVISIONER, parameters=_parameters, binding_mode="Immediate", allow_expansion=True
    )
    # longhorn-manager and instance-manager are privileged and mount node paths
    return AddonManifests([privileged_namespace(NAMESPACE), chart, *classes])


def selected(config: Any) -> bool:
    return any(getattr(item, "type", None) == NAME for item in config.spec.storage)


class Longhorn(Storage):
    """Longhorn also needs iSCSI and NFS clients on every node (installed by prepare)."""

    @hookimpl
    def node_packages(self, context: ClusterContext, node: NodeRecord) -> list[str]:
        return list(NODE_PACKAGES) if selected(context.config) else []


PLUGIN = Longhorn(
    name=NAME,
    description="Replicated block storage on the nodes' disks (Longhorn)",
    requires=("cni",),
    supports=("k3s", "rke2", "kubeadm"),
    settings=LonghornSettings,
    render=lambda _config, settings: render(settings),
)
