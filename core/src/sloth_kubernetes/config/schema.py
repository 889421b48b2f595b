"""JSON Schema (2020-12) generated from the attrs models, plugins' blocks included.

Editors use it through a modeline:
``# yaml-language-server: $schema=./sloth-kubernetes.schema.json``.
"""

from __future__ import annotations

import types
from typing import Any, Literal, Union, get_args, get_origin

import attrs

from ..model.cluster import ClusterConfig, StorageClassSpec
from ..registry import Catalog, ConfigSlot
from .convert import yaml_key
from .references import REFERENCE

SCHEMA_ID = "https://sloth-kubernetes.io/schemas/cluster-v1beta1.json"


def type_schema(tp: Any) -> dict[str, Any]:
    """The schema of one Python type as used in the models."""
    from .references import Reference

    origin = get_origin(tp)
    if tp is Any:
        return {}
    if tp is str:
        return {"type": "string"}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is Reference:
        return {
            "type": "string",
            "pattern": REFERENCE.pattern,
            "description": "A secret reference: ${env:NAME} or ${file:PATH}.",
        }
    if origin is Literal:
        return {"enum": list(get_args(tp))}
    if origin in (Union, types.UnionType):
        members = [m for m in get_args(tp) if m is not type(None)]
        options = [type_schema(m) for m in members]
        if type(None) in get_args(tp):
            options.append({"type": "null"})
        return options[0] if len(options) == 1 else {"anyOf": options}
    if origin in (list, tuple):
        args = get_args(tp)
        return {"type": "array", "items": type_schema(args[0]) if args else {}}
    if origin is dict:
        args = get_args(tp)
        return {"type": "object", "additionalProperties": type_schema(args[1]) if args else {}}
    if attrs.has(tp):
        return model_schema(tp)
    return {}


def model_schema(cls: type[Any], *, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required = []
    hints = _resolved_types(cls)
    for field in attrs.fields(cls):
        if field.metadata.get("internal") or field.metadata.get("slot"):
            continue
        key = yaml_key(field)
        schema = dict(type_schema(hints[field.name]))
        if field.metadata.get("doc"):
            schema["description"] = field.metadata["doc"]
        if field.default is attrs.NOTHING:
            required.append(key)
        elif not isinstance(field.default, attrs.Factory) and _is_plain(field.default):  # type: ignore[arg-type]
            schema["default"] = field.default
        properties[key] = schema
    properties.update(extra or {})
    result: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if cls.__doc__ and not cls.__doc__.startswith(cls.__name__ + "("):
        result["description"] = cls.__doc__.strip().splitlines()[0]
    if required:
        result["required"] = required
    return result


def _is_plain(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _resolved_types(cls: type[Any]) -> dict[str, Any]:
    import typing

    return typing.get_type_hints(cls)


def _selected(catalog: Catalog, slot: ConfigSlot, kind: str, selector: str) -> dict[str, Any]:
    """anyOf: one object per installed component, told apart by ``selector``."""
    options = []
    for name in catalog.names(kind):  # type: ignore[arg-type]
        block = catalog.block(slot, name)
        extra = {selector: {"const": name}}
        if block is not None:
            schema = model_schema(block.model, extra=extra)
        else:
            schema = {"type": "object", "properties": extra, "additionalProperties": False}
        if slot == "storage":
            schema["properties"]["classes"] = {
                "type": "array",
                "items": model_schema(StorageClassSpec),
            }
        schema["required"] = sorted(
            {*schema.get("required", []), selector} - ({selector} if slot == "mesh" else set())
        )
        options.append(schema)
    return {"anyOf": options} if options else {"type": "object"}


def cluster_schema(catalog: Catalog) -> dict[str, Any]:
    schema = model_schema(ClusterConfig)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "sloth-kubernetes Cluster"
    spec = schema["properties"]["spec"]
    spec["properties"]["providers"] = {
        "type": "object",
        "description": "Provider blocks, keyed by provider name.",
        "properties": {
            name: (
                model_schema(block.model)
                if (block := catalog.block("providers", name))
                else {"type": ["object", "null"], "additionalProperties": False}
            )
            for name in catalog.names("provider")
        },
        "additionalProperties": False,
    }
    spec["properties"]["mesh"] = _selected(catalog, "mesh", "mesh", "type")
    spec["properties"]["storage"] = {
        "type": "array",
        "items": _selected(catalog, "storage", "storage", "type"),
    }
    spec["properties"]["addons"] = {
        "type": "array",
        "items": _selected(catalog, "addons", "addon", "name"),
    }
    kubernetes = spec["properties"]["kubernetes"]
    kubernetes["properties"]["cni"] = _selected(catalog, "cni", "cni", "type")
    for name in catalog.names("distro"):
        block = catalog.block("kubernetes", name)
        kubernetes["properties"][name] = (
            model_schema(block.model)
            if block
            else {"type": "object", "additionalProperties": False}
        )
    pool = spec["properties"]["nodePools"]["items"]
    pool["properties"]["options"] = {
        "description": "Provider-specific pool options (see the provider's README).",
        "anyOf": [model_schema(b.model) for b in catalog.blocks if b.slot == "nodePools"]
        or [{"type": "object"}],
    }
    return schema
