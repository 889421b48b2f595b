"""The distribution twin's brain: what K3s or RKE2 deploys on its own for a server config and the
contents of its auto-deploy manifests directory.

:func:`deployed_objects` is the entry point. It uses only the standard library so it also runs on
a test node's ``python3``. The facts it follows are data (``data/*.json``), each with the upstream
file and version it was read from; README.md in this package lists them.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .admission import Policy, admit_workloads
from .configfile import as_bool, as_list, unknown_keys
from .deploy import deploy_files
from .helm import HELM_API, LoadYaml, install_releases
from .model import Component, DeployedObject, Deployment, Finding, ObjectKey

DATA = Path(__file__).resolve().parent / "data"
SUPPORTED = {("k3s", "v1.31.4+k3s1"), ("rke2", "v1.31.4+rke2r1")}
#: kubeadm has no data file: what it runs on its own is in :mod:`.kubeadm`
KUBEADM_VERSION = "v1.31.4"
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"

__all__ = ["chart_facts", "deployed_objects", "distro_data"]


@functools.cache
def distro_data(distro: str, version: str) -> dict[str, Any]:
    if (distro, version) not in SUPPORTED:
        known = ", ".join(f"{d} {v}" for d, v in sorted(SUPPORTED))
        raise ValueError(f"the twin models {known}, not {distro} {version}")
    data: dict[str, Any] = json.loads((DATA / f"{distro}-{version}.json").read_text("utf-8"))
    return data


@functools.cache
def chart_facts() -> dict[str, Any]:
    facts: dict[str, Any] = json.loads((DATA / "charts.json").read_text("utf-8"))
    return facts["charts"]  # type: ignore[no-any-return]


def deployed_objects(
    distro: str,
    version: str,
    config: Mapping[str, Any],
    manifests: Mapping[str, list[Mapping[str, Any]]],
    *,
    node_name: str,
    load_yaml: LoadYaml | None = None,
    files: Mapping[str, str] | None = None,
) -> Deployment:
    """What ``distro`` at ``version`` runs on a server whose merged config is ``config`` (see
    :func:`~.configfile.merge_config_files`) and whose manifests directory holds ``manifests``
    ({file name: parsed documents}). ``load_yaml`` parses HelmChart ``valuesContent`` text that
    is not JSON (pass a YAML loader when one is available). ``files`` ({absolute path: text}) are
    the server's other files the config points at (the PodSecurity admission configuration).

    kubeadm: ``config`` is the first server's kubeadm configuration ({kind: document}) and
    ``manifests`` what the add-on pipeline applies through the API (kubeadm has no manifests
    directory); see :mod:`.kubeadm`."""
    if distro == "kubeadm":
        from .kubeadm import kubeadm_deployment

        if version != KUBEADM_VERSION:
            raise ValueError(f"the twin models kubeadm {KUBEADM_VERSION}, not {version}")
        deployment = kubeadm_deployment(version, config, manifests, node_name)
        if deployment.starts:
            install_charts(_applied(manifests), deployment, load_yaml)
        return deployment
    data = distro_data(distro, version)
    settings = dict(config)
    deployment = Deployment(distro, version, node_name, settings)
    known = set(data["server_keys"]) - set(data.get("dropped_keys", []))
    for key in unknown_keys(settings, known):
        deployment.ignored.append(
            Finding(f"config.yaml: {key}", f"Unknown flag --{key} found in config.yaml, skipping")
        )
        settings.pop(key)
    if distro == "k3s":
        staged, disables = _k3s(data, settings, manifests, deployment)
    else:
        staged, disables = _rke2(data, settings, manifests, deployment)
    if not deployment.starts:
        return deployment
    _deploy(data, staged, disables, deployment, load_yaml)
    policy = _pod_security(distro, settings, files, deployment, load_yaml)
    if policy is not None:
        admit(policy, deployment)
    return deployment


# -- K3s ------------------------------------------------------------------------------------------


def _k3s(
    data: Mapping[str, Any],
    settings: dict[str, Any],
    manifests: Mapping[str, Sequence[Any]],
    deployment: Deployment,
) -> tuple[dict[str, Sequence[Any]], set[str]]:
    disables = set(as_list(settings, "disable"))
    backend = str(settings.get("flannel-backend", "vxlan"))
    if backend not in data["flannel_backends"]:
        deployment.starts = False
        deployment.refused.append(
            Finding(
                "config.yaml: flannel-backend",
                f"invalid flannel backend {backend!r}; "
                f"K3s knows {', '.join(data['flannel_backends'])}",
            )
        )
    for controller in data["controllers"]:
        if _controller_runs(controller, settings, disables):
            deployment.components.append(
                Component(controller["name"], controller["role"], "k3s built-in controller")
            )
    files: dict[str, Sequence[Any]] = dict(manifests)
    for packaged in data["packaged"]:
        name = packaged["name"]
        if name in disables or (
            packaged.get("disabled_by") and as_bool(settings, packaged["disabled_by"])
        ):
            continue  # not staged (Skips), and deleted with its objects if it was there
        if packaged["file"] in files or f"{packaged['file']}.yaml" in files:
            deployment.ignored.append(
                Finding(f"manifests/{packaged['file']}", "overwritten by K3s's packaged file")
            )
        for kind, namespace, obj_name in packaged.get("objects", []):
            body = _storage_class_body(packaged, obj_name) if kind == "StorageClass" else None
            deployment.objects.append(
                DeployedObject(ObjectKey(kind, namespace, obj_name), "", f"packaged:{name}", body)
            )
        for role in packaged.get("provides", []):
            deployment.components.append(Component(name, role, "k3s packaged component"))
        for chart in packaged.get("helm_charts", []):
            files[f"{name}/{chart['name']}.yaml"] = [_bundled_chart(chart)]
    return files, disables


def _storage_class_body(packaged: Mapping[str, Any], name: str) -> dict[str, Any]:
    spec = next(c for c in packaged["storage_classes"] if c["name"] == name)
    return {
        "metadata": {"name": name, "annotations": {DEFAULT_CLASS: str(spec["default"]).lower()}},
        "provisioner": spec["provisioner"],
    }


def _bundled_chart(chart: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": HELM_API,
        "kind": "HelmChart",
        "metadata": {
            "name": chart["name"],
            "namespace": chart["namespace"],
            "annotations": dict(chart.get("annotations", {})),
        },
        "spec": {
            "chartContent": f"<bundled {chart['name']}>",
            "bootstrap": chart.get("bootstrap", False),
        },
    }


def _controller_runs(
    controller: Mapping[str, Any], settings: Mapping[str, Any], disables: set[str]
) -> bool:
    if "on" in controller:
        return all(_matches(settings, k, v) for k, v in controller["on"].items())
    if controller.get("off_if_disabled") in disables:
        return False
    return not any(_matches(settings, k, v) for k, v in controller.get("off", {}).items())


def _matches(settings: Mapping[str, Any], key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return as_bool(settings, key) is value
    return str(settings.get(key, "")) == str(value)


# -- RKE2 -----------------------------------------------------------------------------------------


def _rke2(
    data: Mapping[str, Any],
    settings: dict[str, Any],
    manifests: Mapping[str, Sequence[Any]],
    deployment: Deployment,
) -> tuple[dict[str, Sequence[Any]], set[str]]:
    disables = set(as_list(settings, "disable"))
    cnis = _select(data["cni_items"], as_list(settings, "cni") or ["canal"], deployment, "cni")
    if cnis and cnis[0] == "multus":
        cnis = cnis[1:]
    elif cnis is not None:
        disables.add("rke2-multus")
    ingress = _select(
        data["ingress_items"],
        as_list(settings, "ingress-controller") or ["ingress-nginx"],
        deployment,
        "ingress-controller",
    )
    if cnis is None or ingress is None:
        deployment.starts = False
        return {}, disables
    for items, chosen in ((data["cni_items"], cnis), (data["ingress_items"], ingress)):
        for item in items:
            if item not in chosen:
                disables |= {f"rke2-{item}", f"rke2-{item}-crd"}
    provider = str(settings.get("cloud-provider-name", ""))
    for name, charts in data["cloud_provider_charts"].items():
        if name != provider:
            disables |= set(charts)
    for controller in data["controllers"]:
        if _controller_runs(controller, settings, set()):
            deployment.components.append(
                Component(controller["name"], controller["role"], "rke2 built-in")
            )
    files: dict[str, Sequence[Any]] = dict(manifests)
    inject = data["inject"]["annotation"]
    for chart in data["charts"]:
        file_name = f"{chart['name']}.yaml"
        if file_name in manifests:
            deployment.ignored.append(
                Finding(f"manifests/{file_name}", "overwritten by RKE2's bundled chart file")
            )
        files[file_name] = [_bundled_chart({**chart, "annotations": {inject: "true"}})]
    files = {name: _inject(docs, data, settings) for name, docs in files.items()}
    return files, disables


def _select(
    valid: Sequence[str], values: list[str], deployment: Deployment, flag: str
) -> list[str] | None:
    """RKE2's validateCNI/validateIngress: at most two values, multus only first, each valid;
    anything else is fatal (the server does not start)."""
    problem = None
    if flag == "cni" and len(values) > 2:
        problem = "must specify 1 or 2 values"
    elif flag == "cni" and values == ["multus"]:
        problem = "multus must be used alongside another primary cni selection"
    elif flag == "cni" and len(values) == 2 and values[0] != "multus":
        problem = "may only provide multiple values if multus is the first value"
    for value in values:
        if problem is None and value not in (*valid, "none", "multus"):
            problem = f"invalid value {value}: must be one of {','.join(valid)}"
    if problem is not None:
        deployment.refused.append(Finding(f"config.yaml: {flag}", f"--{flag}: {problem}"))
        return None
    return [v for v in values if v != "none"]


def _inject(
    documents: Sequence[Any], data: Mapping[str, Any], settings: Mapping[str, Any]
) -> list[Any]:
    """RKE2's setChartValues: ``spec.set`` global.* on every HelmChart unless the annotation
    ``rke2.cattle.io/inject-cluster-config`` says false."""
    cluster = ",".join(as_list(settings, "cluster-cidr")) or "10.42.0.0/16"
    service = ",".join(as_list(settings, "service-cidr")) or "10.43.0.0/16"
    v4 = ",".join(c for c in cluster.split(",") if ":" not in c)
    v6 = ",".join(c for c in cluster.split(",") if ":" in c)
    registry = str(settings.get("system-default-registry", ""))
    values = {
        "global.clusterCIDR": cluster, "global.clusterCIDRv4": v4, "global.clusterCIDRv6": v6,
        "global.clusterDNS": ",".join(as_list(settings, "cluster-dns")) or "10.43.0.10",
        "global.clusterDomain": str(settings.get("cluster-domain", "cluster.local")),
        "global.rke2DataDir": str(settings.get("data-dir", "/var/lib/rancher/rke2")),
        "global.serviceCIDR": service, "global.systemDefaultIngressClass": "ingress-nginx",
        "global.systemDefaultRegistry": registry, "global.cattle.systemDefaultRegistry": registry,
    }  # fmt: skip
    result: list[Any] = []
    for doc in documents:
        if isinstance(doc, Mapping) and doc.get("kind") == "HelmChart" \
                and doc.get("apiVersion") == HELM_API:  # fmt: skip
            annotations = (doc.get("metadata") or {}).get("annotations") or {}
            flag = str(annotations.get(data["inject"]["annotation"], "true")).lower()
            if flag not in ("false", "0", "f"):
                spec = dict(doc.get("spec") or {})
                spec["set"] = {**(spec.get("set") or {}), **values}
                result.append({**doc, "spec": spec})
                continue
        result.append(doc)
    return result


# -- Pod Security admission ----------------------------------------------------------------------

#: rancher/rke2 pkg/rke2/psa.go at v1.31.4+rke2r1 (restrictedPSAConfig), used with profile: cis.
RKE2_CIS_POLICY = ("restricted", ("kube-system", "cis-operator-system", "tigera-operator"))


def _pod_security(
    distro: str,
    settings: Mapping[str, Any],
    files: Mapping[str, str] | None,
    deployment: Deployment,
    load_yaml: LoadYaml | None,
) -> Policy | None:
    """The PodSecurity policy, or ``None`` when it cannot be known: the config names an
    admission file and the caller gave no ``files`` (then admission is not checked)."""
    path = None
    if distro == "k3s":
        for arg in as_list(settings, "kube-apiserver-arg"):
            if arg.startswith("admission-control-config-file="):
                path = arg.split("=", 1)[1]
    else:
        path = str(settings.get("pod-security-admission-config-file") or "") or None
        if path is None:
            cis = str(settings.get("profile", "")).startswith("cis")
            return Policy(*RKE2_CIS_POLICY) if cis else Policy()
    if path is None:
        return Policy()
    if files is None:
        return None
    if path not in files:
        deployment.starts = False
        deployment.refused.append(
            Finding(
                f"config.yaml: {path}",
                "the admission configuration file does not exist: kube-apiserver does not start",
            )
        )
        return None
    parsed: Any = None
    for load in (json.loads, load_yaml):
        if load is None:
            continue
        try:
            parsed = load(files[path])
            break
        except Exception:  # try the next parser; unparsable ends below
            parsed = None
    if not isinstance(parsed, Mapping):
        deployment.refused.append(Finding(path, "admission configuration could not be read"))
        return None
    return Policy.from_config(parsed)


def admit(policy: Policy, deployment: Deployment) -> None:
    """Refuse what the policy does not admit (workloads of manifests, and pods that charts or
    images are known to run, from ``data/charts.json``)."""
    for obj in deployment.objects:
        if obj.key.kind == "Namespace" and obj.body:
            labels = (obj.body.get("metadata") or {}).get("labels") or {}
            if "pod-security.kubernetes.io/enforce" in labels:
                policy.labels[obj.key.name] = str(labels["pod-security.kubernetes.io/enforce"])
    for release in deployment.releases:
        for namespace, level in (release.facts.get("labels_namespaces") or {}).items():
            policy.labels.setdefault(str(namespace), str(level))
    deployment.refused += admit_workloads(policy, deployment, chart_facts(), _image_facts())


@functools.cache
def _image_facts() -> dict[str, Any]:
    facts: dict[str, Any] = json.loads((DATA / "charts.json").read_text("utf-8"))
    return facts.get("images", {})  # type: ignore[no-any-return]


# -- common: deploy controller, then helm-controller -----------------------------------------------


def _deploy(
    data: Mapping[str, Any],
    files: Mapping[str, Sequence[Any]],
    disables: set[str],
    deployment: Deployment,
    load_yaml: LoadYaml | None,
) -> None:
    result = deploy_files(files, disables)
    deployment.ignored += result.ignored
    deployment.refused += result.refused
    applied = [
        (f"addon:{item.addon} ({item.file})", body)
        for item in result.applied
        for body in item.objects
    ]
    install_charts(applied, deployment, load_yaml)


def _applied(manifests: Mapping[str, Sequence[Any]]) -> list[tuple[str, Mapping[str, Any]]]:
    """(source, object) of what the add-on pipeline server-side applies (kubeadm)."""
    return [
        (f"addon:{name} (server-side apply)", body)
        for name, documents in manifests.items()
        for body in documents
        if isinstance(body, Mapping)
    ]


def install_charts(
    applied: Sequence[tuple[str, Mapping[str, Any]]],
    deployment: Deployment,
    load_yaml: LoadYaml | None,
) -> None:
    """The applied objects into ``deployment``, then what the helm-controller makes of the
    HelmCharts among them (nothing, and each HelmChart reported, when none runs)."""
    charts: list[tuple[str, Mapping[str, Any]]] = []
    configs: list[tuple[str, Mapping[str, Any]]] = []
    for source, body in applied:
        meta = body.get("metadata") or {}
        kind = str(body.get("kind", ""))
        namespace = str(meta.get("namespace") or "")
        if namespace == "" and kind in _NAMESPACED:
            namespace = "default"
        key = ObjectKey(kind, namespace, str(meta.get("name", "")))
        deployment.objects.append(
            DeployedObject(key, str(body.get("apiVersion", "")), source, dict(body))
        )
        if body.get("apiVersion") == HELM_API and kind == "HelmChart":
            charts.append((source, body))
        elif body.get("apiVersion") == HELM_API and kind == "HelmChartConfig":
            configs.append((source, body))
    if not any(c.role == "helm-controller" for c in deployment.components):
        for source, chart in charts:
            deployment.ignored.append(
                Finding(
                    source,
                    f"HelmChart {chart['metadata'].get('name')}: no helm-controller "
                    "runs, nothing installs it",
                )
            )
        return
    releases, objects, refused, ignored = install_releases(
        charts, configs, chart_facts(), load_yaml
    )
    deployment.releases += releases
    deployment.objects += objects
    deployment.refused += refused
    deployment.ignored += ignored
    for release in releases:
        if not deployment.installable(release):
            deployment.ignored.append(
                Finding(
                    release.source,
                    f"HelmChart {release.namespace}/{release.name}: no CNI runs and the chart "
                    "is not `bootstrap`, so its install job gets no pod network: it never "
                    "installs",
                )
            )
            continue
        for spec in release.facts.get("storage_classes", []):
            _chart_storage_class(release, spec, deployment)


def _chart_storage_class(release: Any, spec: Mapping[str, Any], deployment: Deployment) -> None:
    enabled = spec.get("enabled")
    if isinstance(enabled, Mapping) and not release.value(enabled["path"], enabled["default"]):
        return
    name = release.value(spec["name_path"], spec["name"]) if "name_path" in spec else spec["name"]
    default = spec["default"]
    is_default = release.value(default["path"], default["default"])
    body = {
        "metadata": {"name": name, "annotations": {DEFAULT_CLASS: str(bool(is_default)).lower()}},
        "provisioner": spec.get("provisioner", ""),
    }
    deployment.objects.append(
        DeployedObject(
            ObjectKey("StorageClass", "", str(name)),
            "storage.k8s.io/v1",
            f"helm:{release.target_namespace}/{release.name}",
            body,
        )
    )


#: Kinds that live in a namespace (a manifest without one lands in ``default``); others used by
#: our add-ons are cluster-scoped.
_NAMESPACED = frozenset(
    {
        "ConfigMap",
        "Secret",
        "ServiceAccount",
        "Service",
        "Deployment",
        "DaemonSet",
        "StatefulSet",
        "Job",
        "CronJob",
        "Pod",
        "Role",
        "RoleBinding",
        "HelmChart",
        "HelmChartConfig",
        "PersistentVolumeClaim",
        "NetworkPolicy",
        "Ingress",
    }
)
