"""The deploy controller over ``<data-dir>/server/manifests``, applying what the model says.

K3s (k3s-io/k3s ``pkg/deploy/controller.go``, v1.31.4+k3s1) re-reads the directory on a timer
and applies each file's objects, owned by an ``Addon``. What it does not do, as K3s documents
(https://docs.k3s.io/installation/packaged-components, v1.31): "Deleting files out of this
directory will not delete the corresponding resources from the cluster" — only a packaged
component turned off with ``disable:`` is removed with its objects. After its first pass a
file is re-applied only when it changes (k3s-io/k3s issue #3711): an object deleted by hand
comes back at the next start, not before.
Which objects a distribution runs for a config and a set of manifests (packaged components,
``disable:``, RKE2's charts for ``cni:``, HelmCharts becoming releases, HelmChartConfig merges)
is decided by the twin's model, :func:`sloth_kubernetes.testing.twin.distribution.deployed_objects`;
this module writes its answer into the API and removes packaged objects it no longer lists.
K3s polls every 15 s; the twin every 2 s.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from .config import parse_yaml, parse_yaml_documents
from .facts import Facts
from .resources import BUILTIN, for_kind
from .store import ApiFailure, Store

APPLIED = "/sloth-twin/applied/"  # etcd keys of what this controller wrote (not in /registry)


def read_manifests(directory: str) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    if not os.path.isdir(directory):
        return found
    for root, _dirs, files in os.walk(directory):
        for file in sorted(files):
            path = os.path.join(root, file)
            relative = os.path.relpath(path, directory)
            if not file.lower().endswith((".yaml", ".yml", ".json")) and not file.endswith(".skip"):
                continue
            try:
                with open(path, encoding="utf-8") as handle:
                    found[relative] = (
                        parse_yaml_documents(handle.read()) if not file.endswith(".skip") else []
                    )
            except Exception:  # K3s logs the file's error and goes on with the others
                found[relative] = []
    return found


def desired(
    facts: Facts, config: dict[str, Any], manifests: dict[str, list[Any]], node_name: str
) -> tuple[list[dict[str, Any]], bool]:
    """The objects to write, and whether a CNI runs (a built-in one or a chart with that role)."""
    from ..distribution import deployed_objects

    deployment = deployed_objects(
        facts.distro, facts.version, config, manifests, node_name=node_name, load_yaml=parse_yaml
    )
    objects = []
    for item in deployment.objects:
        body = dict(item.body) if item.body else {}
        # the model names packaged objects by kind only: their group/version are the built-in ones
        body.setdefault("apiVersion", item.api_version or _builtin_version(item.key.kind))
        body.setdefault("kind", item.key.kind)
        meta = body.setdefault("metadata", {})
        meta.setdefault("name", item.key.name)
        if item.key.namespace:
            meta.setdefault("namespace", item.key.namespace)
        meta.setdefault("annotations", {})["sloth.twin/source"] = item.source
        objects.append(body)
    return objects, bool(deployment.running("cni"))


def apply(store: Store, objects: list[dict[str, Any]], *, first_pass: bool) -> list[str]:
    """Write ``objects`` (unchanged ones are skipped; on the first pass of a start, missing ones
    are written again), delete packaged objects no longer listed (a ``disable:``). Returns
    problems (kinds the API does not know, and the like)."""
    catalog = store.catalog()
    problems: list[str] = []
    wanted: set[str] = set()
    # CRDs first, so their kinds are known when their objects are written
    for obj in sorted(objects, key=lambda o: o.get("kind") != "CustomResourceDefinition"):
        resource = for_kind(catalog, str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        if resource is None:
            catalog = store.catalog()
            resource = for_kind(catalog, str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        if resource is None:
            problems.append(f"no kind {obj.get('kind')} in {obj.get('apiVersion')}")
            continue
        meta = obj["metadata"]
        key = resource.key(
            meta.get("namespace", "default") if resource.namespaced else "", meta["name"]
        )
        source = str((meta.get("annotations") or {}).get("sloth.twin/source", ""))
        digest = hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()
        wanted.add(key)
        seen = store.etcd.get(APPLIED + key)
        unchanged = seen is not None and seen[0].decode().split(" ", 1)[0] == digest
        if unchanged and (not first_pass or store.etcd.get(key) is not None):
            continue
        try:
            store.put(resource, obj)
        except ApiFailure as failure:
            problems.append(f"{key}: {failure.message}")
            continue
        store.etcd.put(APPLIED + key, f"{digest} {source}".encode())
    applied, _ = store.etcd.prefix(APPLIED)
    for record_key, value, _mod in applied:
        key = record_key[len(APPLIED) :]
        packaged = value.decode().partition(" ")[2].startswith("packaged:")
        if key not in wanted and packaged:
            store.etcd.delete(key)
            store.etcd.delete(record_key)
    return problems


def _builtin_version(kind: str) -> str:
    return next((r.group_version for r in BUILTIN if r.kind == kind), "")
