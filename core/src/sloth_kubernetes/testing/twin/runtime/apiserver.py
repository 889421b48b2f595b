"""The twin's Kubernetes API on 6443: discovery, get/list (with label/field selectors and
server-side tables), create, replace, merge/apply patch and delete, backed by etcd.

As K3s/RKE2 run kube-apiserver (v1.31): anonymous requests are refused (K3s passes
``--anonymous-auth=false``, k3s-io/k3s ``pkg/daemons/control/server.go``) with 401; clients
authenticate with certificates signed by the client CA; ``system:masters`` may do everything, a
node (``system:node:<name>`` in ``system:nodes``) may read nodes and write only its own Node
(the Node authorizer and NodeRestriction admission). An etcd without quorum makes requests fail
as kube-apiserver's do (500 from etcd errors, 504 on timeouts; ``/readyz`` reports ``[-]etcd``).
Not served: watch, OpenAPI, aggregated discovery (clients fall back to the legacy documents).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from . import tables
from .config import parse_yaml
from .etcd import EtcdError
from .http import Request, Response, status
from .resources import Resource
from .store import ApiFailure, Store

VERBS = ["create", "delete", "get", "list", "patch", "update"]


class ApiServer:
    def __init__(
        self,
        store: Store,
        version: dict[str, str],
        address: str,
        ready: Callable[[], str],
        authorize: Callable[[Request, Resource, str, str, str], bool] | None = None,
    ) -> None:
        self.store = store
        self.version = version
        self.address = address
        self.ready = ready  # "" when ready, else what is not
        # further authorizers (kubeadm's RBAC): (request, resource, namespace, name, sub)
        self.authorize = authorize

    # -- entry ------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        if not request.user:
            return status(401, "Unauthorized", "Unauthorized")
        try:
            return self._route(request)
        except ApiFailure as failure:
            return status(failure.code, failure.reason, failure.message)
        except EtcdError as error:
            if error.timeout:
                return status(
                    504,
                    "Timeout",
                    "Timeout: request did not complete within requested timeout"
                    " - context deadline exceeded",
                )
            return status(500, "InternalError", f"etcdserver: {error}")

    def _route(self, request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        if path in ("/readyz", "/healthz", "/livez"):
            problem = self.ready() if path != "/livez" else ""
            if problem:
                return Response(500, f"[-]{problem}\nreadyz check failed\n".encode(), "text/plain")
            return Response(200, b"ok", "text/plain")
        if path == "/version":
            return Response.of(200, self.version)
        parts = path.strip("/").split("/")
        if parts[0] == "api":
            return self._api(request, "", parts[1:])
        if parts[0] == "apis":
            return self._apis(request, parts[1:])
        return status(404, "NotFound", "the server could not find the requested resource")

    # -- discovery --------------------------------------------------------------------------
    def _apis(self, request: Request, parts: list[str]) -> Response:
        catalog = self.store.catalog()
        if not parts:
            groups: dict[str, list[str]] = {}
            for r in catalog:
                if r.group and r.version not in groups.setdefault(r.group, []):
                    groups[r.group].append(r.version)
            return Response.of(
                200,
                {
                    "kind": "APIGroupList",
                    "apiVersion": "v1",
                    "groups": [self._group(g, vs) for g, vs in groups.items()],
                },
            )
        if len(parts) == 1:
            versions = sorted({r.version for r in catalog if r.group == parts[0]})
            if not versions:
                return status(404, "NotFound", "the server could not find the requested resource")
            return Response.of(
                200, {"kind": "APIGroup", "apiVersion": "v1", **self._group(parts[0], versions)}
            )
        return self._api(request, parts[0], parts[1:])

    @staticmethod
    def _group(group: str, versions: list[str]) -> dict[str, Any]:
        listed = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": listed, "preferredVersion": listed[0]}

    def _api(self, request: Request, group: str, parts: list[str]) -> Response:
        catalog = self.store.catalog()
        if group == "" and not parts:
            return Response.of(
                200,
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{self.address}:6443"}
                    ],
                },
            )
        version, rest = parts[0], parts[1:]
        served = [r for r in catalog if r.group == group and r.version == version]
        if not served:
            return status(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            return Response.of(
                200,
                {
                    "kind": "APIResourceList",
                    "apiVersion": "v1",
                    "groupVersion": f"{group}/{version}" if group else version,
                    "resources": [self._describe(r) for r in served]
                    + [
                        {
                            "name": f"{r.plural}/status",
                            "singularName": "",
                            "namespaced": r.namespaced,
                            "kind": r.kind,
                            "verbs": ["get", "patch", "update"],
                        }
                        for r in served
                    ],
                },
            )
        namespace = ""
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        by_plural = {r.plural: r for r in served}
        resource = by_plural.get(rest[0])
        if resource is None:
            return status(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if namespace and not resource.namespaced:
            return status(404, "NotFound", "the server could not find the requested resource")
        return self._verb(request, resource, namespace, name, sub)

    @staticmethod
    def _describe(r: Resource) -> dict[str, Any]:
        return {
            "name": r.plural,
            "singularName": r.kind.lower(),
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": VERBS + ["deletecollection", "watch"] * 0,
            "shortNames": list(r.short_names),
            "storageVersionHash": "",
        }

    # -- verbs ------------------------------------------------------------------------------
    def _verb(
        self, request: Request, resource: Resource, namespace: str, name: str, sub: str
    ) -> Response:
        if request.query.get("watch") in ("true", "1"):
            return status(405, "MethodNotAllowed", "the sloth twin does not serve watches")
        self._authorize(request, resource, namespace, name, sub)
        method = request.method
        if method == "GET" and not name:
            items, revision = self.store.list(resource, namespace)
            items = [i for i in items if _selected(i, request.query)]
            if "as=Table" in request.headers.get("accept", ""):
                return Response.of(200, tables.table(resource, items, revision))
            return Response.of(
                200,
                {
                    "kind": f"{resource.kind}List",
                    "apiVersion": resource.group_version,
                    "metadata": {"resourceVersion": str(revision)},
                    "items": items,
                },
            )
        if method == "GET":
            obj = self.store.get(resource, namespace, name)
            if "as=Table" in request.headers.get("accept", ""):
                return Response.of(
                    200, tables.table(resource, [obj], int(obj["metadata"]["resourceVersion"]))
                )
            return Response.of(200, obj)
        if method == "POST" and not name:
            body = request.json()
            self._same_namespace(resource, body, namespace)
            self._namespace_exists(resource, body.get("metadata", {}).get("namespace") or namespace)
            if resource.namespaced:
                body.setdefault("metadata", {})["namespace"] = namespace or "default"
            return Response.of(201, self.store.create(resource, body))
        if method == "PUT" and name:
            body = request.json()
            self._same_namespace(resource, body, namespace)
            return Response.of(200, self.store.update(resource, body, status_only=sub == "status"))
        if method == "PATCH" and name:
            return self._patch(request, resource, namespace, name, sub)
        if method == "DELETE" and name:
            deleted = self.store.delete(resource, namespace, name)
            return Response.of(200, deleted)
        return status(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )

    def _patch(
        self, request: Request, resource: Resource, namespace: str, name: str, sub: str
    ) -> Response:
        kind = request.headers.get("content-type", "")
        if "apply-patch" in kind:  # server-side apply: create or merge (field managers not kept)
            patch = parse_yaml(request.body.decode()) or {}
            try:
                current = self.store.get(resource, namespace, name)
            except ApiFailure:
                patch.setdefault("metadata", {}).update(
                    {"name": name, **({"namespace": namespace} if namespace else {})}
                )
                self._namespace_exists(resource, namespace)
                return Response.of(201, self.store.create(resource, patch))
        elif (
            "merge-patch" in kind
            or "strategic-merge-patch" in kind
            or ("json" in kind and "json-patch" not in kind)
        ):
            patch = request.json()
            current = self.store.get(resource, namespace, name)
        else:
            return status(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: "
                "application/merge-patch+json, application/strategic-merge-patch+json, "
                "application/apply-patch+yaml",
            )
        merged = _merge(current, patch)
        merged["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        return Response.of(200, self.store.update(resource, merged, status_only=sub == "status"))

    def _authorize(
        self, request: Request, resource: Resource, namespace: str, name: str, sub: str
    ) -> None:
        if "system:masters" in request.groups:
            return
        if self.authorize is not None and self.authorize(request, resource, namespace, name, sub):
            return
        if "system:nodes" in request.groups and request.user.startswith("system:node:"):
            own = request.user.removeprefix("system:node:")
            if request.method == "GET" and resource.plural in (
                "nodes",
                "namespaces",
                "services",
                "endpoints",
                "configmaps",
            ):
                return
            if (resource.plural == "nodes" and not resource.group) and (
                request.method == "POST" or name == own
            ):
                return
        verb = {
            "GET": "get",
            "POST": "create",
            "PUT": "update",
            "PATCH": "patch",
            "DELETE": "delete",
        }.get(request.method, "")
        raise ApiFailure(
            403,
            "Forbidden",
            f'{resource.plural} is forbidden: User "{request.user}" cannot {verb} resource '
            f'"{resource.plural}" in API group "{resource.group}"',
        )

    @staticmethod
    def _same_namespace(resource: Resource, body: Any, namespace: str) -> None:
        if not isinstance(body, dict):
            raise ApiFailure(400, "BadRequest", "the body is not an object")
        given = (body.get("metadata") or {}).get("namespace")
        if resource.namespaced and given and namespace and given != namespace:
            raise ApiFailure(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on "
                "the request",
            )

    def _namespace_exists(self, resource: Resource, namespace: str) -> None:
        if resource.namespaced:
            namespaces = next(r for r in self.store.catalog() if r.plural == "namespaces")
            try:
                self.store.get(namespaces, "", namespace or "default")
            except ApiFailure:
                raise ApiFailure(404, "NotFound", f'namespaces "{namespace}" not found') from None


def _merge(current: Any, patch: Any) -> Any:
    """JSON merge patch (RFC 7386): maps merge, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(current) if isinstance(current, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


def _selected(obj: dict[str, Any], query: dict[str, str]) -> bool:
    meta = obj.get("metadata", {})
    labels = meta.get("labels") or {}
    for term in filter(None, (t.strip() for t in query.get("labelSelector", "").split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    for term in filter(None, (t.strip() for t in query.get("fieldSelector", "").split(","))):
        key, _, value = term.replace("==", "=").partition("=")
        negate = key.endswith("!")
        key = key.rstrip("!")
        fields = {
            "metadata.name": meta.get("name"),
            "metadata.namespace": meta.get("namespace", ""),
        }
        if obj.get("kind") == "Pod" or "nodeName" in (obj.get("spec") or {}):
            # pods' own field selectors (kubernetes pkg/registry/core/pod/strategy.go)
            fields["status.phase"] = (obj.get("status") or {}).get("phase", "")
            fields["spec.nodeName"] = (obj.get("spec") or {}).get("nodeName", "")
        if key not in fields:
            raise ApiFailure(
                400,
                "BadRequest",
                f'"{key}" is not a known field selector: only '
                + ", ".join(f'"{k}"' for k in fields),
            )
        if (fields[key] == value) == negate:
            return False
    return True


def dumps(obj: Any) -> str:
    return json.dumps(obj)
