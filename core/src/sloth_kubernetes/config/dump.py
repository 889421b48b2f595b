"""The effective config as plain data (``config show``): defaults filled in, secrets masked."""

from __future__ import annotations

from typing import Any

import attrs

from ..model.cluster import ClusterConfig, PluginBlock, StorageBlock
from ..secrets import MASK, Secret
from .convert import yaml_key
from .references import Reference


def to_data(value: Any) -> Any:
    """Unstructure a model into YAML keys; references print as written, secrets as a mask."""
    if isinstance(value, Reference):
        return str(value)
    if isinstance(value, Secret):
        return MASK
    if isinstance(value, PluginBlock):
        return to_data(value.settings) if value.settings is not None else {}
    if isinstance(value, StorageBlock):
        data = {"type": value.type, "classes": [to_data(c) for c in value.classes]}
        if value.settings is not None:
            data.update(to_data(value.settings))
        return data
    if attrs.has(type(value)):
        return {
            yaml_key(a): to_data(getattr(value, a.name))
            for a in attrs.fields(type(value))
            if not a.metadata.get("internal")
        }
    if isinstance(value, dict):
        return {str(k): to_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_data(item) for item in value]
    return value


def effective_config(config: ClusterConfig) -> dict[str, Any]:
    data: dict[str, Any] = to_data(config)
    spec = data["spec"]
    mesh = config.spec.mesh
    if isinstance(mesh, PluginBlock):
        spec["mesh"] = {"type": mesh.name, **spec["mesh"]}
    kubernetes = config.spec.kubernetes
    if isinstance(kubernetes.cni, PluginBlock):
        spec["kubernetes"]["cni"] = {"type": kubernetes.cni.name, **spec["kubernetes"]["cni"]}
    if isinstance(kubernetes.distro, PluginBlock) and kubernetes.distro.settings is not None:
        spec["kubernetes"][kubernetes.distribution] = to_data(kubernetes.distro.settings)
    spec["addons"] = [{"name": block.name, **to_data(block)} for block in config.spec.addons]
    for pool in spec["nodePools"]:
        if pool.get("options") is None:
            pool.pop("options", None)
    return data
