"""``cert-manager``: X.509 certificates for workloads.

Delivered as a HelmChart for the pinned chart from charts.jetstack.io, with its CRDs installed by
the chart (``crds.enabled``); user values are merged over the plugin's.
"""

from __future__ import annotations

from typing import Any

import attrs
from sloth_kubernetes.plugin import (
    Addon,
    AddonManifests,
    doc,
    helm_chart,
)

NAME = "cert-manager"
CHART_REPO = "https://charts.jetstack.io"
DEFAULT_CHART_VERSION = "v1.16.2"
NAMESPACE = "cert-manager"


@attrs.frozen
class CertManagerSettings:
    """Settings of a ``spec.addons[]`` item with ``name: cert-manager``."""

    version: str = attrs.field(
        default=DEFAULT_CHART_VERSION, metadata=doc("cert-manager chart version (pinned).")
    )
    values: dict[str, Any] = attrs.field(
        factory=dict, metadata=doc("Chart values merged over the plugin's defaults.")
    )


def render(settings: CertManagerSettings | None) -> AddonManifests:
    settings = settings or CertManagerSettings()
    chart = helm_chart(
        NAME,
        chart="cert-manager",
        repo=CHART_REPO,
        version=settings.version,
        target_namespace=NAMESPACE,
        values={"crds": {"enabled": True}, "prometheus": {"enabled": False}},
        overrides=settings.values,
    )
    return AddonManifests([chart])


PLUGIN = Addon(
    name=NAME,
    description="X.509 certificates for workloads (cert-manager)",
    requires=("cni",),
    supports=("k3s", "rke2", "kubeadm"),
    settings=CertManagerSettings,
    render=lambda _config, settings: render(settings),
)
