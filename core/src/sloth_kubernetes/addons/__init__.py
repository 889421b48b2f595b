"""The add-on pipeline: CNI, storage and add-ons as validated, recorded Kubernetes manifests.

A plugin implements ``render_addon`` (the objects, no side effects) and ``install_addon`` (usually
``install_manifests(context, kind, name, render(...))``). The core orders components by their
declared ``requires`` (:func:`order_components`), validates every object against the cluster's
Kubernetes schemas or the schemas plugins ship (:func:`validate_manifests`), delivers them through
the distribution (``context.delivery``: K3s/RKE2's manifests directory) or server-side apply, and
records them in the state store's manifest registry. docs/addons.md is the user guide.

Importing this package imports neither lightkube nor kubernetes-validate.
"""

from __future__ import annotations

from .helm import (
    HELM_API_VERSION,
    HELM_NAMESPACE,
    helm_chart,
    helm_chart_config,
    helm_kinds,
    privileged_namespace,
)
from .manifests import (
    AddonManifests,
    CustomKind,
    Manifest,
    ManifestDelivery,
    deep_merge,
    to_yaml,
)
from .network import NodeNetwork, node_network
from .order import component_id, order_components
from .pipeline import (
    AddonResult,
    install_manifests,
    recorded_manifests,
    remove_components,
    removed_components,
    render_addons,
)
from .validate import kubernetes_version, manifest_problems, validate_manifests

__all__ = [
    "HELM_API_VERSION",
    "HELM_NAMESPACE",
    "AddonManifests",
    "AddonResult",
    "CustomKind",
    "Manifest",
    "ManifestDelivery",
    "NodeNetwork",
    "component_id",
    "deep_merge",
    "helm_chart",
    "helm_chart_config",
    "helm_kinds",
    "install_manifests",
    "kubernetes_version",
    "manifest_problems",
    "node_network",
    "order_components",
    "privileged_namespace",
    "recorded_manifests",
    "remove_components",
    "removed_components",
    "render_addons",
    "to_yaml",
    "validate_manifests",
]
