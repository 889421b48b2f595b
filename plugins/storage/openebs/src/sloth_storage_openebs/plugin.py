"""``openebs``: OpenEBS Local PV (hostpath) volumes.

Delivered as a HelmChart for the pinned ``openebs`` chart with the replicated engine (Mayastor,
which needs hugepages and NVMe-oF) and the LVM/ZFS engines turned off: what remains is the
hostpath Local PV provisioner. The spec's classes become StorageClasses of ``openebs.io/local``
with their base path.
"""

from __future__ import annotations

from typing import Any

import attrs
from sloth_kubernetes.plugin import (
    AddonManifests,
    Storage,
    StorageBlock,
    doc,
    helm_chart,
    privileged_namespace,
    storage_classes,
)

NAME = "openebs"
CHART_REPO = "https://openebs.github.io/openebs"
DEFAULT_VERSION = "4.1.1"
NAMESPACE = "openebs"
PROVISIONER = "openebs.io/local"


@attrs.frozen
class OpenEbsSettings:
    """Settings of a ``spec.storage[]`` item with ``type: openebs``."""

    version: str = attrs.field(
        default=DEFAULT_VERSION, metadata=doc("openebs chart version (pinned).")
    )
    base_path: str = attrs.field(
        default="/var/openebs/local", metadata=doc("Directory on each node holding volumes.")
    )
    values: dict[str, Any] = attrs.field(
        factory=dict, metadata=doc("Chart values merged over the plugin's.")
    )


def render(block: StorageBlock) -> AddonManifests:
    settings = block.settings if isinstance(block.settings, OpenEbsSettings) else None
    settings = settings or OpenEbsSettings()
    values = {
        "engines": {
            "replicated": {"mayastor": {"enabled": False}},
            "local": {"lvm": {"enabled": False}, "zfs": {"enabled": False}},
        },
        "localpv-provisioner": {"hostpathClass": {"enabled": False}},
    }
    chart = helm_chart(
        NAME,
        chart="openebs",
        repo=CHART_REPO,
        version=settings.version,
        target_namespace=NAMESPACE,
        values=values,
        overrides=settings.values,
    )

    classes = storage_classes(block, PROVISIONER)
    for body in classes:
        body["metadata"]["annotations"]["cas.openebs.io/config"] = (
            f'- name: StorageType\n  value: "hostpath"\n'
            f'- name: BasePath\n  value: "{settings.base_path}"\n'
        )
        body["metadata"]["annotations"]["openebs.io/cas-type"] = "local"
    # the hostpath provisioner's helper pods mount the node's BasePath (hostPath)
    return AddonManifests([privileged_namespace(NAMESPACE), chart, *classes])


PLUGIN = Storage(
    name=NAME,
    description="OpenEBS Local PV hostpath volumes",
    requires=("cni",),
    supports=("k3s", "rke2", "kubeadm"),
    settings=OpenEbsSettings,
    render=lambda _config, settings: render(settings),
)
