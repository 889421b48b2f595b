"""``helm-controller``: the standalone k3s-io/helm-controller, kubeadm's first add-on.

K3s and RKE2 run a helm-controller inside their servers; kubeadm has none, so the add-ons of
this project — HelmCharts, for every CNI and most storage — would never install. This add-on is
installed before every other one on kubeadm (:attr:`Addon.first`), so every HelmChart-based
plugin works on all three distributions.

What it is, from k3s-io/helm-controller at tag **v0.16.5** (the version K3s release-1.31 and
RKE2 v1.31.4 run, so charts behave the same on the three distributions):

* ``manifests/deployment.yaml``, ``rbac.yaml``, ``ns.yaml``: namespace, ServiceAccount,
  ClusterRole (everything) and binding, a one-replica Deployment of
  ``rancher/helm-controller:v0.16.5`` with ``NODE_NAME`` and ``JOB_CLUSTER_ROLE`` (``main.go``
  reads both from the environment) and ``DEFAULT_JOB_IMAGE``
  (``rancher/klipper-helm:v0.9.3-build20241008``, K3s v1.31's);
* ``pkg/crd/crds.go``: it creates its CRDs itself at start (``HelmChart`` with its printer
  columns and status, ``HelmChartConfig``); they are applied here too, with an open schema it
  replaces, so the CNI's HelmChart can be applied right after this add-on.

Changed from upstream's manifest, because it must run before there is a pod network (every node
is NotReady until the CNI it installs runs): host network, the control-plane nodes (the API on
``127.0.0.1:6443`` — no kube-proxy or Service needed, as helm-controller's own ``bootstrap``
jobs do), tolerating the not-ready, network-unavailable and control-plane taints.
"""

from __future__ import annotations

from typing import Any

import attrs
from sloth_kubernetes.plugin import MANAGED_BY, Addon, AddonManifests, doc, privileged_namespace

NAME = "helm-controller"
NAMESPACE = "helm-controller"
VERSION = "v0.16.5"
IMAGE = f"rancher/helm-controller:{VERSION}"
JOB_IMAGE = "rancher/klipper-helm:v0.9.3-build20241008"
GROUP = "helm.cattle.io"
CONTROL_PLANE = "node-role.kubernetes.io/control-plane"


@attrs.frozen
class HelmControllerSettings:
    """Settings of the ``helm-controller`` add-on (kubeadm installs it on its own)."""

    image: str = attrs.field(default=IMAGE, metadata=doc("helm-controller image (pinned)."))
    job_image: str = attrs.field(
        default=JOB_IMAGE, metadata=doc("Default image of the chart install jobs (pinned).")
    )


def _column(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "type": "string", "jsonPath": path}


def _crd(kind: str, plural: str, columns: list[dict[str, Any]], status: bool) -> dict[str, Any]:
    version: dict[str, Any] = {
        "name": "v1",
        "served": True,
        "storage": True,
        "schema": {
            "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        },
    }
    if columns:
        version["additionalPrinterColumns"] = columns
    if status:
        version["subresources"] = {"status": {}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}", "labels": dict(MANAGED_BY)},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "plural": plural,
                "singular": kind.lower(),
                "listKind": f"{kind}List",
            },
            "versions": [version],
        },
    }


def _meta(name: str, namespace: str | None = NAMESPACE) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(MANAGED_BY)}
    if namespace:
        meta["namespace"] = namespace
    return meta


def render(settings: HelmControllerSettings | None) -> AddonManifests:
    settings = settings or HelmControllerSettings()
    chart_columns = [
        _column("Job", ".status.jobName"), _column("Chart", ".spec.chart"),
        _column("TargetNamespace", ".spec.targetNamespace"), _column("Version", ".spec.version"),
        _column("Repo", ".spec.repo"), _column("HelmVersion", ".spec.helmVersion"),
        _column("Bootstrap", ".spec.bootstrap"),
    ]  # fmt: skip
    labels = {"app": NAME}
    env = [
        {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "JOB_CLUSTER_ROLE", "value": NAME},
        {"name": "DEFAULT_JOB_IMAGE", "value": settings.job_image},
        # the API without a Service: no pod network, maybe no kube-proxy yet
        {"name": "KUBERNETES_SERVICE_HOST", "value": "127.0.0.1"},
        {"name": "KUBERNETES_SERVICE_PORT", "value": "6443"},
    ]
    tolerations = [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists",
         "effect": "NoSchedule"},
        {"key": CONTROL_PLANE, "operator": "Exists", "effect": "NoSchedule"},
        {"key": "CriticalAddonsOnly", "operator": "Exists"},
    ]  # fmt: skip
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": CONTROL_PLANE, "operator": "Exists"}]}]}}}  # fmt: skip
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {**_meta(NAME), "labels": {**MANAGED_BY, **labels}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": NAME,
                    "hostNetwork": True,
                    "priorityClassName": "system-cluster-critical",
                    "tolerations": tolerations,
                    "affinity": affinity,
                    "containers": [
                        {
                            "name": NAME,
                            "image": settings.image,
                            "command": ["helm-controller"],
                            "env": env,
                        }
                    ],
                },
            },
        },
    }
    objects = [
        privileged_namespace(NAMESPACE),  # host network: PodSecurity privileged
        _crd("HelmChart", "helmcharts", chart_columns, status=True),
        _crd("HelmChartConfig", "helmchartconfigs", [], status=False),
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(NAME)},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": _meta(NAME, None),
         "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": _meta(NAME, None),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": NAME},
         "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]},
        deployment,
    ]  # fmt: skip
    return AddonManifests(objects)


PLUGIN = Addon(
    name=NAME,
    description=f"the standalone helm-controller {VERSION} (kubeadm's first add-on)",
    supports=("kubeadm",),
    settings=HelmControllerSettings,
    render=lambda _config, settings: render(settings),
    first=True,
)
