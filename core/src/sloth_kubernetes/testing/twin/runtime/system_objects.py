"""Objects a server creates on its own before any manifest is read.

* kube-apiserver (kubernetes v1.31 ``pkg/controlplane/controller/systemnamespaces``,
  ``.../kubernetesservice``): namespaces ``default``, ``kube-system``, ``kube-public``,
  ``kube-node-lease``; Service ``default/kubernetes`` on the first service address, port 443.
* K3s (k3s-io/k3s ``pkg/crd/crds.go``) registers its CRDs at start: ``addons.k3s.cattle.io``,
  and the helm-controller's ``helmcharts``/``helmchartconfigs.helm.cattle.io``
  (k3s-io/helm-controller ``pkg/apis/helm.cattle.io/v1/types.go``, printer columns as there;
  read at mirror HEAD 21a911f). RKE2 runs the same code.
"""

from __future__ import annotations

from typing import Any

from .facts import Facts
from .store import ApiFailure, Store


def _crd(group: str, kind: str, plural: str, columns: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "plural": plural,
                "singular": kind.lower(),
                "listKind": f"{kind}List",
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                }
            ],
        },
    }


def _col(name: str, path: str, kind: str = "string", priority: int = 0) -> dict[str, Any]:
    return {"name": name, "type": kind, "jsonPath": path, "priority": priority}


CRDS = [
    _crd(
        "k3s.cattle.io",
        "Addon",
        "addons",
        [_col("Source", ".spec.source"), _col("Checksum", ".spec.checksum")],
    ),
    _crd(
        "helm.cattle.io",
        "HelmChart",
        "helmcharts",
        [
            _col("Repo", ".spec.repo"),
            _col("Chart", ".spec.chart"),
            _col("Version", ".spec.version"),
            _col("TargetNamespace", ".spec.targetNamespace"),
            _col("Bootstrap", ".spec.bootstrap", "boolean"),
            _col("Failed", ".status.conditions[?(@.type=='Failed')].status"),
            _col("Job", ".status.jobName", priority=10),
        ],
    ),
    _crd("helm.cattle.io", "HelmChartConfig", "helmchartconfigs", []),
]


def ensure_system_objects(
    store: Store, facts: Facts, *, crds: list[dict[str, Any]] | None = None,
    service_ip: str = "10.43.0.1",
) -> None:  # fmt: skip
    """``crds``: K3s's (the default); kube-apiserver alone registers none. ``service_ip``:
    the first address of the service CIDR (K3s's default 10.43.0.0/16)."""
    catalog = {(r.group, r.plural): r for r in store.catalog()}
    for crd in CRDS if crds is None else crds:
        _create(store, catalog[("apiextensions.k8s.io", "customresourcedefinitions")], crd)
    for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
        _create(
            store,
            catalog[("", "namespaces")],
            {
                "metadata": {"name": name},
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            },
        )
    _create(
        store,
        catalog[("", "services")],
        {
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {
                "type": "ClusterIP",
                "clusterIP": service_ip,
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
            },
        },
    )


def _create(store: Store, resource: Any, obj: dict[str, Any]) -> None:
    try:
        store.create(resource, obj)
    except ApiFailure as failure:
        if failure.code != 409:
            raise
