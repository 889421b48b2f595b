"""Objects in etcd as kube-apiserver keeps them: metadata stamped on create (uid,
creationTimestamp, generation), ``resourceVersion`` = etcd's mod revision, optimistic
concurrency on update (a stale resourceVersion is a 409 Conflict), create-if-absent
(409 AlreadyExists). Semantics from kubernetes v1.31
``staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go``.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from typing import Any

from . import resources as res
from .etcd import Client


class ApiFailure(Exception):
    """An API error answered as a ``Status`` (code, reason, message)."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Store:
    def __init__(self, etcd: Client) -> None:
        self.etcd = etcd

    def catalog(self) -> list[res.Resource]:
        items, _rev = self.etcd.prefix(res.CRD_PREFIX)
        return res.catalog([value for _key, value, _mod in items])

    @staticmethod
    def _decode(value: bytes, revision: int) -> dict[str, Any]:
        obj: dict[str, Any] = json.loads(value)
        obj.setdefault("metadata", {})["resourceVersion"] = str(revision)
        return obj

    def get(self, resource: res.Resource, namespace: str, name: str) -> dict[str, Any]:
        found = self.etcd.get(resource.key(namespace, name))
        if found is None:
            raise ApiFailure(
                404,
                "NotFound",
                f'{resource.plural}{"." + resource.group if resource.group else ""} "{name}" '
                "not found",
            )
        return self._decode(*found)

    def list(self, resource: res.Resource, namespace: str = "") -> tuple[list[dict[str, Any]], int]:
        prefix = (
            resource.prefix + "/" + (f"{namespace}/" if namespace and resource.namespaced else "")
        )
        items, revision = self.etcd.prefix(prefix)
        return [self._decode(value, mod) for _key, value, mod in items], revision

    def create(self, resource: res.Resource, obj: dict[str, Any]) -> dict[str, Any]:
        obj = self._stamp(resource, obj)
        meta = obj["metadata"]
        revision = self.etcd.create(
            resource.key(meta.get("namespace", ""), meta["name"]), self._encode(obj)
        )
        if revision is None:
            raise ApiFailure(
                409, "AlreadyExists", f'{resource.plural} "{meta["name"]}" already exists'
            )
        meta["resourceVersion"] = str(revision)
        return obj

    def update(
        self, resource: res.Resource, obj: dict[str, Any], *, status_only: bool = False
    ) -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        current = self.get(resource, namespace, name)
        wanted = str(meta.get("resourceVersion") or "")
        if wanted and wanted != current["metadata"]["resourceVersion"]:
            raise ApiFailure(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {resource.plural} "{name}": the object has been '
                "modified; please apply your changes to the latest version and try again",
            )
        merged = copy.deepcopy(current)
        if status_only:
            merged["status"] = obj.get("status", {})
        else:
            status = current.get("status")
            merged = copy.deepcopy(obj)
            if status is not None and resource.plural != "namespaces":
                merged["status"] = status  # the main resource ignores status (as /status exists)
            for kept in ("uid", "creationTimestamp"):
                merged["metadata"][kept] = current["metadata"].get(kept)
            if merged.get("spec") != current.get("spec"):
                merged["metadata"]["generation"] = int(current["metadata"].get("generation", 1)) + 1
        revision = self.etcd.update(
            resource.key(namespace, name),
            self._encode(merged),
            int(current["metadata"]["resourceVersion"]),
        )
        if revision is None:
            raise ApiFailure(
                409, "Conflict", f'Operation cannot be fulfilled on {resource.plural} "{name}"'
            )
        merged["metadata"]["resourceVersion"] = str(revision)
        return merged

    def put(self, resource: res.Resource, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or replace (what a controller's apply does)."""
        meta = obj.get("metadata") or {}
        try:
            current = self.get(resource, meta.get("namespace", ""), meta["name"])
        except ApiFailure:
            return self.create(resource, obj)
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        if "status" in obj:
            self.update(resource, obj)
            obj["metadata"].pop("resourceVersion", None)
            return self.update(resource, obj, status_only=True)
        return self.update(resource, obj)

    def delete(self, resource: res.Resource, namespace: str, name: str) -> dict[str, Any]:
        current = self.get(resource, namespace, name)
        self.etcd.delete(resource.key(namespace, name))
        return current

    def _stamp(self, resource: res.Resource, obj: dict[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(obj)
        obj["apiVersion"], obj["kind"] = resource.group_version, resource.kind
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            raise ApiFailure(
                422,
                "Invalid",
                f"{resource.kind} is invalid: metadata.name: Required value: name or generateName "
                "is required",
            )
        if resource.namespaced:
            meta.setdefault("namespace", "default")
        else:
            meta.pop("namespace", None)
        meta.pop("resourceVersion", None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        meta.setdefault("generation", 1)
        return obj

    @staticmethod
    def _encode(obj: dict[str, Any]) -> bytes:
        stored = copy.deepcopy(obj)
        stored.get("metadata", {}).pop("resourceVersion", None)
        return json.dumps(stored, sort_keys=True).encode()
