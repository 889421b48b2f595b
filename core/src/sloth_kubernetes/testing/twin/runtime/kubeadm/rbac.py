"""RBAC as kube-apiserver v1.31 evaluates it, for the roles kubeadm's cluster depends on.

The evaluation (``plugin/pkg/auth/authorizer/rbac/rbac.go``): a request is allowed when a
ClusterRoleBinding, or a RoleBinding in the request's namespace, names the user or one of its
groups (``system:authenticated`` / ``system:unauthenticated`` included) and its role has a
rule matching API group, resource (``resource/subresource``), verb and — when the rule lists
them — the object's name; ``*`` matches anything.

What kube-apiserver creates on its own at start (``bootstrappolicy/policy.go``,
``.../controller_policy.go``): the cluster roles used here — ``cluster-admin`` bound to
``system:masters``; ``system:node-bootstrapper``; the CSR ``nodeclient``/``selfnodeclient``
roles. Everything else kubeadm creates itself (:mod:`.cluster`). Not modelled: aggregated
roles, non-resource URLs (health, version and discovery are open to everyone here), service
accounts; the controller-manager's and scheduler's users are allowed everything (their
bootstrap roles are broad).
"""

from __future__ import annotations

from typing import Any


def _cluster_role(name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": name,
                         "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
            "rules": rules}  # fmt: skip


def _rule(groups: list[str], resources: list[str], verbs: list[str]) -> dict[str, Any]:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


CSR = "certificates.k8s.io"
BOOTSTRAP_ROLES = [
    _cluster_role("cluster-admin", [_rule(["*"], ["*"], ["*"])]),
    _cluster_role("system:node-bootstrapper", [
        _rule([CSR], ["certificatesigningrequests"], ["create", "get", "list", "watch"])]),
    _cluster_role("system:certificates.k8s.io:certificatesigningrequests:nodeclient", [
        _rule([CSR], ["certificatesigningrequests/nodeclient"], ["create"])]),
    _cluster_role("system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", [
        _rule([CSR], ["certificatesigningrequests/selfnodeclient"], ["create"])]),
]  # fmt: skip
BOOTSTRAP_BINDINGS = [
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
     "metadata": {"name": "cluster-admin",
                  "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                 "name": "cluster-admin"},
     "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                   "name": "system:masters"}]},
]  # fmt: skip
#: controller-manager and scheduler identities (their bootstrap roles are broad)
COMPONENTS = {"system:kube-controller-manager", "system:kube-scheduler"}


def _matches(rule: dict[str, Any], group: str, resource: str, verb: str, name: str) -> bool:
    groups = rule.get("apiGroups") or []
    resources = rule.get("resources") or []
    verbs = rule.get("verbs") or []
    names = rule.get("resourceNames") or []
    return (
        ("*" in groups or group in groups)
        and ("*" in resources or resource in resources)
        and ("*" in verbs or verb in verbs)
        and (not names or name in names)
    )


def _subject(subjects: list[dict[str, Any]], user: str, groups: list[str]) -> bool:
    for subject in subjects or []:
        kind, name = subject.get("kind"), subject.get("name")
        if (kind == "User" and name == user) or (kind == "Group" and name in groups):
            return True
    return False


def allowed(lookup: Any, user: str, groups: list[str], verb: str, group: str, resource: str,
            namespace: str, name: str) -> bool:  # fmt: skip
    """``lookup(kind, namespace)`` lists stored RBAC objects of ``kind`` (Role/RoleBinding in
    ``namespace``; the cluster kinds with ``""``)."""
    if user in COMPONENTS:
        return True
    everyone = [*groups, "system:unauthenticated" if user == "system:anonymous"
                else "system:authenticated"]  # fmt: skip
    bindings = [(b, "") for b in lookup("ClusterRoleBinding", "")]
    if namespace:
        bindings += [(b, namespace) for b in lookup("RoleBinding", namespace)]
    for binding, where in bindings:
        if not _subject(binding.get("subjects") or [], user, everyone):
            continue
        ref = binding.get("roleRef") or {}
        kind = ref.get("kind")
        roles = lookup(kind, where if kind == "Role" else "")
        role = next((r for r in roles if r["metadata"]["name"] == ref.get("name")), None)
        for rule in (role or {}).get("rules") or []:
            if _matches(rule, group, resource, verb, name):
                return True
    return False
