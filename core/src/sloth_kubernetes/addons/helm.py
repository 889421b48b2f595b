"""``helm.cattle.io/v1`` HelmChart and HelmChartConfig objects (K3s/RKE2's helm-controller).

No helm binary and no chart download on the operator's machine: the object names a chart by
repository and pinned version, and the cluster's helm-controller installs it. The schemas of both
kinds ship with the core (``schemas/``), so every HelmChart is validated like a built-in object.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

from .manifests import CustomKind, deep_merge, to_yaml

HELM_API_VERSION = "helm.cattle.io/v1"
#: Where HelmChart objects live; the chart's own objects go to ``targetNamespace``.
HELM_NAMESPACE = "kube-system"
#: Label on every object the pipeline renders (also how ``addons list`` attributes them).
MANAGED_BY = {"app.kubernetes.io/managed-by": "sloth-kubernetes"}


def _schema(file_name: str) -> Mapping[str, Any]:
    text = resources.files(__package__).joinpath("schemas", file_name).read_text("utf-8")
    schema: Mapping[str, Any] = json.loads(text)
    return schema


@functools.cache
def helm_kinds() -> tuple[CustomKind, ...]:
    """The HelmChart and HelmChartConfig kinds with their shipped schemas."""
    return (
        CustomKind(
            HELM_API_VERSION,
            "HelmChart",
            "helmcharts",
            True,
            _schema("helm.cattle.io_v1_helmchart.json"),
        ),
        CustomKind(
            HELM_API_VERSION,
            "HelmChartConfig",
            "helmchartconfigs",
            True,
            _schema("helm.cattle.io_v1_helmchartconfig.json"),
        ),
    )


def values_content(defaults: Mapping[str, Any], overrides: Mapping[str, Any]) -> str:
    """The chart values: the plugin's ``defaults`` with the user's ``overrides`` merged over
    them (mappings key by key, anything else replaced), as the YAML ``valuesContent`` holds."""
    return to_yaml(deep_merge(defaults, overrides))


def helm_chart(
    name: str,
    *,
    chart: str,
    repo: str,
    version: str,
    target_namespace: str,
    values: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    bootstrap: bool = False,
    create_namespace: bool = True,
) -> dict[str, Any]:
    """A HelmChart installing ``chart`` at the pinned ``version`` from ``repo``.

    ``bootstrap`` marks charts the cluster needs before it has a working pod network (a CNI):
    helm-controller then runs the install job on the host network, tolerating not-ready nodes.
    """
    spec: dict[str, Any] = {
        "repo": repo,
        "chart": chart,
        "version": version,
        "targetNamespace": target_namespace,
        "createNamespace": create_namespace,
        "valuesContent": values_content(values or {}, overrides or {}),
    }
    if bootstrap:
        spec["bootstrap"] = True
    return {
        "apiVersion": HELM_API_VERSION,
        "kind": "HelmChart",
        "metadata": {"name": name, "namespace": HELM_NAMESPACE, "labels": dict(MANAGED_BY)},
        "spec": spec,
    }


def helm_chart_config(
    name: str,
    *,
    values: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A HelmChartConfig overriding the values of a chart the distribution ships itself
    (RKE2's ``rke2-canal``, ``rke2-calico``, ``rke2-cilium``; K3s's ``traefik``)."""
    return {
        "apiVersion": HELM_API_VERSION,
        "kind": "HelmChartConfig",
        "metadata": {"name": name, "namespace": HELM_NAMESPACE, "labels": dict(MANAGED_BY)},
        "spec": {"valuesContent": values_content(values or {}, overrides or {})},
    }


#: Pod Security Admission labels (kubernetes.io/docs/concepts/security/pod-security-admission).
POD_SECURITY_LABELS = ("enforce", "audit", "warn")


def privileged_namespace(name: str) -> dict[str, Any]:
    """A Namespace whose pods may use host access (PodSecurity ``privileged``): for components
    that must (a CNI operator on the host network, storage daemons mounting node paths). Under
    a restricted cluster default (``hardening: cis``) they are refused without it; the label is
    the documented, per-namespace exception (docs/hardening.md)."""
    labels = dict(MANAGED_BY)
    labels.update(
        {f"pod-security.kubernetes.io/{mode}": "privileged" for mode in POD_SECURITY_LABELS}
    )
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
