"""The helm-controller: HelmChart → Helm release, HelmChartConfig → merged values.

Follows k3s-io/helm-controller v0.16.5 ``pkg/controllers/chart/chart.go`` (the version K3s
release-1.31 and RKE2 v1.31.4+rke2r1 use):

* a HelmChart is managed only when it has ``spec.chart`` or ``spec.chartContent``; its release is
  named after the HelmChart and installed into ``spec.targetNamespace`` (else the HelmChart's own
  namespace); ``createNamespace`` adds ``--create-namespace``; ``version`` is ``--version`` (a repo
  chart without it installs whatever is newest: not pinned); ``jobImage`` replaces the default
  ``rancher/klipper-helm:v0.9.3-build20241008``; ``bootstrap`` runs the job on the host network on
  a control-plane node, tolerating not-ready nodes;
* values reach helm as files: ``values-01_HelmChart.yaml`` (``valuesContent``) then
  ``values-10_HelmChartConfig.yaml`` (the ``valuesContent`` of the HelmChartConfig with the same
  name *and namespace*), later files win; ``spec.set`` becomes ``--set``/``--set-string`` and wins
  over both; a HelmChartConfig's ``failurePolicy`` replaces the chart's;
* a HelmChartConfig with no HelmChart of the same name and namespace does nothing;
* per HelmChart it creates Job ``helm-install-<name>``, Secret ``chart-values-<name>``,
  ServiceAccount ``helm-<name>`` (chart namespace) and ClusterRoleBinding
  ``helm-<namespace>-<name>``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .model import DeployedObject, Finding, ObjectKey, Release

HELM_API = "helm.cattle.io/v1"
DEFAULT_JOB_IMAGE = "rancher/klipper-helm:v0.9.3-build20241008"
LoadYaml = Callable[[str], Any]


def merge_values(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's coalescing of two values files: maps merge key by key, anything else (lists,
    scalars) is replaced, and ``null`` removes the key."""
    result = copy.deepcopy(dict(base))
    for key, value in over.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merge_values(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def set_path(values: dict[str, Any], dotted: str, value: Any) -> None:
    """``--set a.b.c=value``: create the maps along the way."""
    node = values
    parts = dotted.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def parse_values(text: Any, load_yaml: LoadYaml | None) -> tuple[dict[str, Any], str | None]:
    """``valuesContent`` as a mapping; JSON is read without a YAML parser."""
    if not text:
        return {}, None
    if isinstance(text, Mapping):
        return dict(text), None
    loaders: list[LoadYaml] = [json.loads] + ([load_yaml] if load_yaml else [])
    error = "valuesContent is not JSON and no YAML loader was given"
    for load in loaders:
        try:
            parsed = load(str(text))
        except Exception as failure:  # any parser's error: report, never crash the model
            error = f"valuesContent could not be parsed: {failure}"
            continue
        if parsed is None:
            return {}, None
        if isinstance(parsed, Mapping):
            return dict(parsed), None
        return {}, "valuesContent is not a mapping"
    return {}, error


def _key(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or "default"), str(meta.get("name") or "")


def install_releases(
    charts: Sequence[tuple[str, Mapping[str, Any]]],
    configs: Sequence[tuple[str, Mapping[str, Any]]],
    chart_facts: Mapping[str, Mapping[str, Any]],
    load_yaml: LoadYaml | None,
) -> tuple[list[Release], list[DeployedObject], list[Finding], list[Finding]]:
    """(releases, objects the controller creates, refused, ignored) for the HelmCharts and
    HelmChartConfigs in the cluster, each given with the source that created it."""
    by_key = {_key(body): (source, body) for source, body in charts}
    config_by_key = {_key(body): (source, body) for source, body in configs}
    releases: list[Release] = []
    objects: list[DeployedObject] = []
    refused: list[Finding] = []
    ignored: list[Finding] = []
    for (namespace, name), (source, _body) in config_by_key.items():
        if (namespace, name) not in by_key:
            ignored.append(
                Finding(
                    source,
                    f"HelmChartConfig {namespace}/{name} has no HelmChart of that "
                    "name and namespace: it changes nothing",
                )
            )
    targets: dict[tuple[str, str], str] = {}
    for (namespace, name), (source, body) in sorted(by_key.items()):
        spec = body.get("spec") or {}
        if not spec.get("chart") and not spec.get("chartContent"):
            ignored.append(Finding(source, f"HelmChart {namespace}/{name} names no chart"))
            continue
        values, error = parse_values(spec.get("valuesContent"), load_yaml)
        config_sources: list[str] = []
        if (namespace, name) in config_by_key:
            config_source, config = config_by_key[(namespace, name)]
            extra, config_error = parse_values(
                (config.get("spec") or {}).get("valuesContent"), load_yaml
            )
            values = merge_values(values, extra)
            error = error or config_error
            config_sources.append(config_source)
        set_values = dict(spec.get("set") or {})
        for dotted in sorted(set_values):
            set_path(values, dotted, set_values[dotted])
        target = str(spec.get("targetNamespace") or namespace)
        chart = str(spec.get("chart") or name)
        if (target, name) in targets:
            refused.append(
                Finding(
                    source,
                    f"release {name!r} in {target} is already installed by "
                    f"{targets[(target, name)]}: helm refuses a second release of that name",
                )
            )
            continue
        targets[(target, name)] = source
        releases.append(
            Release(
                name=name,
                namespace=namespace,
                target_namespace=target,
                chart=chart,
                repo=str(spec.get("repo") or ""),
                version=str(spec.get("version") or ""),
                bundled=bool(spec.get("chartContent")),
                bootstrap=bool(spec.get("bootstrap")),
                job_image=str(spec.get("jobImage") or "").strip() or DEFAULT_JOB_IMAGE,
                create_namespace=bool(spec.get("createNamespace")),
                values=values,
                set_values=set_values,
                source=source,
                configs=config_sources,
                facts=dict(chart_facts.get(chart) or chart_facts.get(name) or {}),
                values_error=error,
            )
        )
        owner = f"helm-controller:{namespace}/{name}"
        for kind, obj_ns, obj_name, api in (
            ("Job", namespace, f"helm-install-{name}", "batch/v1"),
            ("Secret", namespace, f"chart-values-{name}", "v1"),
            ("ServiceAccount", namespace, f"helm-{name}", "v1"),
            ("ClusterRoleBinding", "", f"helm-{namespace}-{name}", "rbac.authorization.k8s.io/v1"),
        ):
            objects.append(DeployedObject(ObjectKey(kind, obj_ns, obj_name), api, owner))
    return releases, objects, refused, ignored
