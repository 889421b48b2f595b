"""``cert-manager``: X.509 certificates for workloads.

Delivered as a HelmChart for the pinned chart from charts.jetstack.io, with its CRDs installed by
the chart (``crds.enabled``); user values are merged over the plugin's.
"""

from __future__ import annotations

from typing import Any

import attrs
from sloth_kubernetes.addons import AddonManifests, helm_chart, install_manifests
from sloth_kubernetes.hookspecs import hookimpl
from sloth_kubernetes.model.cluster import doc
from sloth_kubernetes.registry import Component, ConfigBlock

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


@hookimpl
def register_addons(register: Any) -> None:
    register(
        Component(
            kind="addon",
            name=NAME,
            description="X.509 certificates for workloads (cert-manager)",
            requires=("cni",),
            supports=("k3s", "rke2"),
        )
    )


@hookimpl
def register_config_models(register: Any) -> None:
    register(ConfigBlock("addons", NAME, CertManagerSettings))


@hookimpl
def render_addon(context: Any, addon: str, settings: Any) -> AddonManifests | None:
    return render(settings) if addon == NAME else None


@hookimpl
def install_addon(context: Any, addon: str, settings: Any) -> list[str] | None:
    if addon != NAME:
        return None
    return install_manifests(context, "addon", NAME, render(settings)).keys
