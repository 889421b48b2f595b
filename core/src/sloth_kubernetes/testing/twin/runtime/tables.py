"""Server-side printing: the ``Table`` kubectl asks for (``Accept: ...;as=Table;g=meta.k8s.io``).

Columns for nodes and pods as kubernetes v1.31 ``pkg/printers/internalversion/printers.go``
prints them; custom resources get their CRD's ``additionalPrinterColumns`` (simple JSONPaths)
and everything else Name + Age, as kube-apiserver's default table convertor does.
"""

from __future__ import annotations

import calendar
import time
from typing import Any

from .resources import Resource


def age(timestamp: str | None) -> str:
    """kubernetes' HumanDuration, short form."""
    if not timestamp:
        return "<unknown>"
    seconds = max(
        0, int(time.time() - calendar.timegm(time.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ")))
    )
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}h"
    return f"{hours // 24}d"


def _node_cells(node: dict[str, Any]) -> list[Any]:
    labels = node.get("metadata", {}).get("labels") or {}
    status = "Unknown"
    for condition in node.get("status", {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            status = {"True": "Ready", "False": "NotReady"}.get(condition.get("status"), "Unknown")
    if node.get("spec", {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    roles = sorted(
        key.split("/", 1)[1] for key in labels if key.startswith("node-role.kubernetes.io/")
    )
    version = node.get("status", {}).get("nodeInfo", {}).get("kubeletVersion", "")
    return [
        status,
        ",".join(roles) or "<none>",
        age(node["metadata"].get("creationTimestamp")),
        version,
    ]


def _pod_cells(pod: dict[str, Any]) -> list[Any]:
    statuses = pod.get("status", {}).get("containerStatuses") or []
    containers = pod.get("spec", {}).get("containers") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    restarts = sum(int(s.get("restartCount", 0)) for s in statuses)
    phase = pod.get("status", {}).get("reason") or pod.get("status", {}).get("phase") or "Pending"
    return [
        f"{ready}/{len(containers)}",
        phase,
        restarts,
        age(pod["metadata"].get("creationTimestamp")),
    ]


def _jsonpath(obj: Any, path: str) -> Any:
    node = obj
    for part in path.strip().lstrip(".").split("."):
        if "[" in part:  # filters like conditions[?(@.type=='Failed')].status: not evaluated
            return None
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return None
    return node


def _column(name: str, kind: str = "string", fmt: str = "", priority: int = 0) -> dict[str, Any]:
    return {"name": name, "type": kind, "format": fmt, "description": "", "priority": priority}


def table(resource: Resource, items: list[dict[str, Any]], revision: int) -> dict[str, Any]:
    name = _column("Name", fmt="name")
    if resource.plural == "nodes" and not resource.group:
        columns = [name, _column("Status"), _column("Roles"), _column("Age"), _column("Version")]
        cells = [_node_cells(i) for i in items]
    elif resource.plural == "pods" and not resource.group:
        columns = [
            name,
            _column("Ready"),
            _column("Status"),
            _column("Restarts", "integer"),
            _column("Age"),
        ]
        cells = [_pod_cells(i) for i in items]
    elif resource.printer_columns:
        printed = [
            c
            for c in resource.printer_columns
            if not str(c.get("jsonPath", "")).startswith(".metadata.creationTimestamp")
        ]
        columns = (
            [name]
            + [
                _column(c["name"], str(c.get("type", "string")), "", int(c.get("priority", 0)))
                for c in printed
            ]
            + [_column("Age")]
        )
        cells = [
            [_jsonpath(i, str(c.get("jsonPath", ""))) for c in printed]
            + [age(i["metadata"].get("creationTimestamp"))]
            for i in items
        ]
    else:
        columns = [name, _column("Age")]
        cells = [[age(i["metadata"].get("creationTimestamp"))] for i in items]
    rows = []
    for item, row in zip(items, cells, strict=True):
        meta = item.get("metadata", {})
        partial = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": meta,
        }
        rows.append({"cells": [meta.get("name"), *row], "object": partial})
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": str(revision)},
        "columnDefinitions": columns,
        "rows": rows,
    }
