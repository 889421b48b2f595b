"""StorageClass objects from ``spec.storage[].classes`` (name, reclaim policy, default)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..model.cluster import StorageBlock, StorageClassSpec
from .helm import MANAGED_BY

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"


def storage_classes(
    block: StorageBlock,
    provisioner: str,
    *,
    parameters: Callable[[StorageClassSpec], dict[str, str]] | None = None,
    binding_mode: str = "WaitForFirstConsumer",
    allow_expansion: bool = False,
) -> list[dict[str, Any]]:
    """One StorageClass per class of ``block``; the default one carries the annotation that
    makes it the cluster default (the config loader checks there is at most one)."""
    classes = []
    for spec in block.classes:
        body: dict[str, Any] = {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": spec.name,
                "labels": dict(MANAGED_BY),
                "annotations": {DEFAULT_CLASS_ANNOTATION: "true" if spec.default else "false"},
            },
            "provisioner": provisioner,
            "reclaimPolicy": spec.reclaim_policy,
            "volumeBindingMode": binding_mode,
            "allowVolumeExpansion": allow_expansion,
        }
        extra = parameters(spec) if parameters else {}
        if extra:
            body["parameters"] = extra
        classes.append(body)
    return classes
