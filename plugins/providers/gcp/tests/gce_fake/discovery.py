"""Google's Compute Engine v1 discovery document as a ``DescribedApp`` description (tests only).

The document is Google's own machine-readable description of the API, as shipped in PyPI
``google-api-python-client`` (``googleapiclient/discovery_cache/documents/compute.v1.json``,
Apache-2.0; the version is pinned in the Makefile's ``PIP_DEV``). It is read from the installed
package at test time, never copied into this repository.

:func:`compute_description` turns the methods a fake serves into the operations document of
:class:`~sloth_kubernetes.testing.emulators.described.ApiDescription` (built in memory at test
time from the installed document, never written to the repository), which then checks, per
request: the method (HTTP verb + ``servicePath`` + ``flatPath`` template), each path parameter
against its ``pattern``, each query parameter (known to the method or one of the document's
global parameters; integer, boolean, ``enum``), and the body against the method's ``request``
schema converted to JSON Schema: ``$ref``, types (``int64``/``uint64`` are decimal strings),
``enum``, ``pattern`` (whole value), ``items``/``additionalProperties``, unknown fields refused
(as Google's JSON parser refuses them: "Unknown name … Cannot find field"), and the fields
annotated ``required`` for that method id. Per reply: a ``200`` body against the method's
``response`` schema; an error body against Google's JSON error model
(``error.code``/``message``/``errors[]``), which the discovery document does not describe
(cloud.google.com/apis/design/errors).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from sloth_kubernetes.testing.emulators.described import ApiDescription

DOCUMENT = "googleapiclient/discovery_cache/documents/compute.v1.json"
PACKAGE = "google-api-python-client"

#: Google's error model (the discovery document describes successful replies only).
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "integer"},
                "message": {"type": "string"},
                "status": {"type": "string"},
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["message", "reason"],
                        "additionalProperties": False,
                        "properties": {
                            "message": {"type": "string"},
                            "domain": {"type": "string"},
                            "reason": {"type": "string"},
                            "location": {"type": "string"},
                            "locationType": {"type": "string"},
                        },
                    },
                },
                "details": {"type": "array"},
            },
        }
    },
}


class DiscoveryUnavailable(RuntimeError):
    """The package carrying the discovery document is not installed."""


def document_path() -> Path:
    spec = importlib.util.find_spec("googleapiclient")
    if spec is None or not spec.submodule_search_locations:
        raise DiscoveryUnavailable(
            f"{PACKAGE} is not installed (it carries Google's Compute discovery document); "
            "run `make install`"
        )
    path = Path(next(iter(spec.submodule_search_locations))).parent / DOCUMENT
    if not path.is_file():
        raise DiscoveryUnavailable(f"{path} is missing from the installed {PACKAGE}")
    return path


@functools.cache
def load_document() -> dict[str, Any]:
    return dict(json.loads(document_path().read_text("utf-8")))


def compute_description(method_ids: Iterable[str]) -> ApiDescription:
    """The description of ``method_ids`` (``compute.instances.insert``, …), checked as the
    module docstring says; an id the document lacks raises ``KeyError``."""
    doc = load_document()
    methods = {m["id"]: m for m in _methods(doc["resources"])}
    base = "/" + doc["servicePath"].strip("/")
    operations = {}
    for method_id in method_ids:
        method = methods[method_id]
        template = re.sub(r"\{\+?(\w+)\}", r"{\1}", method.get("flatPath") or method["path"])
        described = method.get("parameters") or {}
        query = {
            name: _parameter(p)
            for name, p in {**doc.get("parameters", {}), **described}.items()
            if p.get("location") == "query"
        }
        request = (method.get("request") or {}).get("$ref")
        response = (method.get("response") or {}).get("$ref")
        operations[f"{method['httpMethod']} {base}/{template}"] = {
            "source": f"{DOCUMENT}#{method_id}",
            "query": query,
            "requiredQuery": [
                n for n, p in described.items() if p.get("required") and p["location"] == "query"
            ],
            "path": {n: _parameter(p) for n, p in described.items() if p["location"] == "path"},
            "body": _schema(doc, request, method_id, required=True) if request else None,
            "responses": {"200": _schema(doc, response, None) if response else None},
        }
    about = {
        "source": f"{PACKAGE}: {DOCUMENT}",
        "revision": doc["revision"],
        "licence": "Apache-2.0",
    }
    document = {"_about": about, "errors": ERROR_SCHEMA, "operations": operations}
    name = f"Compute Engine {doc['version']} discovery document rev {doc['revision']}"
    return ApiDescription(document, name=name)


def _methods(resources: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for resource in resources.values():
        yield from (resource.get("methods") or {}).values()
        yield from _methods(resource.get("resources") or {})


def _parameter(described: Mapping[str, Any]) -> dict[str, Any]:
    """A query or path parameter (always a string on the wire) as JSON Schema."""
    if described.get("enum"):
        return {"enum": list(described["enum"])}
    if described.get("type") == "integer":
        return {"type": "string", "pattern": r"^-?[0-9]+$"}
    if described.get("type") == "boolean":
        return {"enum": ["true", "false"]}
    if described.get("pattern"):
        return {"type": "string", "pattern": f"^(?:{described['pattern']})$"}
    return {"type": "string"}


def _schema(
    doc: Mapping[str, Any], name: str, method_id: str | None, *, required: bool = False
) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "$ref": f"#/definitions/{name}",
        "definitions": _definitions(method_id),
    }
    if required:
        schema["x-required-body"] = True
    return schema


@functools.cache
def _definitions(method_id: str | None) -> dict[str, Any]:
    """Every schema of the document as JSON Schema; ``method_id`` adds the fields annotated
    ``required`` for that method (request bodies)."""
    return {
        name: _convert(described, method_id)
        for name, described in load_document()["schemas"].items()
    }


def _convert(described: Mapping[str, Any], method_id: str | None) -> dict[str, Any]:
    """One discovery schema as JSON Schema (see the module docstring for the rules)."""
    if "$ref" in described:
        return {"$ref": f"#/definitions/{described['$ref']}"}
    converted: dict[str, Any] = {}
    kind = described.get("type")
    fmt = described.get("format")
    if kind == "string" and fmt in ("int64", "uint64"):
        converted.update(type="string", pattern=r"^-?[0-9]+$")
    elif kind in ("string", "integer", "number", "boolean", "array", "object"):
        converted["type"] = kind
    if described.get("enum"):
        converted["enum"] = list(described["enum"])
    if described.get("pattern"):
        converted["pattern"] = f"^(?:{described['pattern']})$"
    if "items" in described:
        converted["items"] = _convert(described["items"], method_id)
    properties = described.get("properties")
    if properties is not None:
        converted["properties"] = {k: _convert(v, method_id) for k, v in properties.items()}
        required = [
            k
            for k, v in properties.items()
            if method_id and method_id in ((v.get("annotations") or {}).get("required") or [])
        ]
        if required:
            converted["required"] = required
    if "additionalProperties" in described:
        converted["additionalProperties"] = _convert(described["additionalProperties"], method_id)
    elif properties is not None:
        converted["additionalProperties"] = False  # Google refuses unknown fields
    return converted
