"""The API's resources: built-in kinds the twin serves, plus every CRD stored in etcd.

Storage keys follow kube-apiserver's layout (kubernetes v1.31
``pkg/kubeapiserver/default_storage_factory_builder.go``, ``SpecialDefaultResourcePrefixes``:
nodes under ``minions``, services under ``services/specs``, endpoints under
``services/endpoints``); built-in resources of named groups are stored without the group,
custom resources under ``/registry/<group>/<resource>``. The twin stores JSON (the real server
stores built-in kinds as protobuf).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    builtin: bool = True
    printer_columns: tuple[dict[str, Any], ...] = field(default=(), compare=False)

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def prefix(self) -> str:
        special = {
            "nodes": "minions",
            "services": "services/specs",
            "endpoints": "services/endpoints",
        }
        # the apiextensions and aggregator servers keep their group in the key
        if not self.builtin or self.group in GROUP_KEYED:
            return f"/registry/{self.group}/{self.plural}"
        if self.group:
            return f"/registry/{self.plural}"
        return "/registry/" + special.get(self.plural, self.plural)

    def key(self, namespace: str, name: str) -> str:
        return f"{self.prefix}/{namespace}/{name}" if self.namespaced else f"{self.prefix}/{name}"


GROUP_KEYED = ("apiextensions.k8s.io", "apiregistration.k8s.io")


def _r(gv: str, plural: str, kind: str, namespaced: bool, *short: str) -> Resource:
    group, _, version = gv.rpartition("/")
    return Resource(group, version, plural, kind, namespaced, tuple(short))


BUILTIN = [
    _r("v1", "namespaces", "Namespace", False, "ns"),
    _r("v1", "nodes", "Node", False, "no"),
    _r("v1", "pods", "Pod", True, "po"),
    _r("v1", "services", "Service", True, "svc"),
    _r("v1", "endpoints", "Endpoints", True, "ep"),
    _r("v1", "configmaps", "ConfigMap", True, "cm"),
    _r("v1", "secrets", "Secret", True),
    _r("v1", "serviceaccounts", "ServiceAccount", True, "sa"),
    _r("v1", "events", "Event", True, "ev"),
    _r("v1", "persistentvolumes", "PersistentVolume", False, "pv"),
    _r("v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, "pvc"),
    _r("apps/v1", "deployments", "Deployment", True, "deploy"),
    _r("apps/v1", "daemonsets", "DaemonSet", True, "ds"),
    _r("apps/v1", "statefulsets", "StatefulSet", True, "sts"),
    _r("apps/v1", "replicasets", "ReplicaSet", True, "rs"),
    _r("batch/v1", "jobs", "Job", True),
    _r("batch/v1", "cronjobs", "CronJob", True, "cj"),
    _r("storage.k8s.io/v1", "storageclasses", "StorageClass", False, "sc"),
    _r("storage.k8s.io/v1", "csidrivers", "CSIDriver", False),
    _r("rbac.authorization.k8s.io/v1", "clusterroles", "ClusterRole", False),
    _r("rbac.authorization.k8s.io/v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _r("rbac.authorization.k8s.io/v1", "roles", "Role", True),
    _r("rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding", True),
    _r(
        "apiextensions.k8s.io/v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        "crd",
        "crds",
    ),
    _r("apiregistration.k8s.io/v1", "apiservices", "APIService", False),
    _r(
        "admissionregistration.k8s.io/v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        False,
    ),
    _r(
        "admissionregistration.k8s.io/v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        False,
    ),
    _r("networking.k8s.io/v1", "networkpolicies", "NetworkPolicy", True, "netpol"),
    _r("networking.k8s.io/v1", "ingresses", "Ingress", True, "ing"),
    _r("networking.k8s.io/v1", "ingressclasses", "IngressClass", False),
    _r("policy/v1", "poddisruptionbudgets", "PodDisruptionBudget", True, "pdb"),
    _r("scheduling.k8s.io/v1", "priorityclasses", "PriorityClass", False, "pc"),
    _r("coordination.k8s.io/v1", "leases", "Lease", True),
    _r("node.k8s.io/v1", "runtimeclasses", "RuntimeClass", False),
    _r("discovery.k8s.io/v1", "endpointslices", "EndpointSlice", True),
    _r(
        "certificates.k8s.io/v1",
        "certificatesigningrequests",
        "CertificateSigningRequest",
        False,
        "csr",
    ),
]

CRD_PREFIX = "/registry/apiextensions.k8s.io/customresourcedefinitions/"


def from_crd(crd: dict[str, Any]) -> list[Resource]:
    """The served versions of a stored CustomResourceDefinition."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    found = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        found.append(
            Resource(
                str(spec.get("group", "")),
                str(version.get("name", "")),
                str(names.get("plural", "")),
                str(names.get("kind", "")),
                spec.get("scope", "Namespaced") == "Namespaced",
                tuple(names.get("shortNames") or ()),
                builtin=False,
                printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
            )
        )
    return found


def catalog(stored_crds: list[bytes]) -> list[Resource]:
    resources = list(BUILTIN)
    seen = {(r.group, r.version, r.plural) for r in resources}
    for raw in stored_crds:
        try:
            crd = json.loads(raw)
        except ValueError:
            continue
        for resource in from_crd(crd):
            if (resource.group, resource.version, resource.plural) not in seen:
                seen.add((resource.group, resource.version, resource.plural))
                resources.append(resource)
    return resources


def for_kind(resources: list[Resource], api_version: str, kind: str) -> Resource | None:
    group, _, version = api_version.rpartition("/")
    for resource in resources:
        if resource.kind == kind and resource.group == group and resource.version == version:
            return resource
    return None
