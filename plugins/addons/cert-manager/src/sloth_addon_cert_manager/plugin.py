"""Registers the ``cert-manager`` add-on and the model of its ``spec.addons[]`` item.

Delivered by the add-on pipeline (a later issue) as a pinned HelmChart.
"""

from __future__ import annotations

from typing import Any

import attrs
from sloth_kubernetes.hookspecs import hookimpl
from sloth_kubernetes.model.cluster import doc
from sloth_kubernetes.registry import Component, ConfigBlock

DEFAULT_CHART_VERSION = "v1.16.2"


@attrs.frozen
class CertManagerSettings:
    """Settings of a ``spec.addons[]`` item with ``name: cert-manager``."""

    version: str = attrs.field(
        default=DEFAULT_CHART_VERSION, metadata=doc("cert-manager chart version (pinned).")
    )
    values: dict[str, Any] = attrs.field(
        factory=dict, metadata=doc("Chart values merged over the plugin's defaults.")
    )


@hookimpl
def register_addons(register: Any) -> None:
    register(
        Component(
            kind="addon",
            name="cert-manager",
            description="X.509 certificates for workloads (cert-manager)",
            requires=("cni",),
        )
    )


@hookimpl
def register_config_models(register: Any) -> None:
    register(ConfigBlock("addons", "cert-manager", CertManagerSettings))
