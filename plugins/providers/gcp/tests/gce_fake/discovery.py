"""Google's Compute Engine v1 discovery document as a request/reply checker (tests only).

The document is Google's own machine-readable description of the API, as shipped in PyPI
``google-api-python-client`` (``googleapiclient/discovery_cache/documents/compute.v1.json``,
Apache-2.0; the version is pinned in the Makefile's ``PIP_DEV``). It is read from the installed
package at test time, never copied into this repository.

What is checked, per request: the method (HTTP verb + ``servicePath`` + ``path`` template), each
path parameter against its ``pattern``, each query parameter (known to the method or one of the
document's global parameters, type, ``enum``, ``minimum``), and the body against the method's
``request`` schema converted to JSON Schema: ``$ref``, types (``int64``/``uint64`` are decimal
strings), ``enum``, ``pattern``, ``items``/``additionalProperties``, unknown fields refused (as
Google's JSON parser refuses them: "Unknown name … Cannot find field"), and the fields annotated
``required`` for that method id. Per reply: a 2xx body against the method's ``response`` schema;
an error body against Google's JSON error model (``error.code``/``message``/``errors[]``), which
the discovery document does not describe (docs: cloud.google.com/apis/design/errors).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
from sloth_kubernetes.testing.emulators.described import schema_problems

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


@attrs.frozen
class Method:
    id: str
    http_method: str
    pattern: re.Pattern[str]
    parameters: Mapping[str, Any]
    request: str | None
    response: str | None
    literal_length: int  # characters outside {placeholders}: the most specific template wins


class ComputeDiscovery:
    """The checker :class:`~sloth_kubernetes.testing.emulators.described.DescribedEmulator`
    calls; ``title`` names the document's revision."""

    def __init__(self, path: Path | None = None) -> None:
        self.document: dict[str, Any] = json.loads((path or document_path()).read_text("utf-8"))
        doc = self.document
        self.title = f"Compute Engine {doc['version']} discovery document rev {doc['revision']}"
        self.base = "/" + doc["servicePath"].strip("/")
        self.methods = list(_methods(doc["resources"], self.base))
        self.global_parameters: dict[str, Any] = doc.get("parameters", {})

    # -- matching -------------------------------------------------------------------------------

    def method(self, http_method: str, path: str) -> tuple[Method | None, dict[str, str]]:
        found = [
            (m, match.groupdict())
            for m in self.methods
            if m.http_method == http_method and (match := m.pattern.fullmatch(path))
        ]
        if not found:
            return None, {}
        return max(found, key=lambda pair: pair[0].literal_length)

    def method_by_id(self, method_id: str) -> Method:
        return next(m for m in self.methods if m.id == method_id)

    # -- the Description protocol ---------------------------------------------------------------

    def check_request(
        self, method: str, path: str, params: Mapping[str, str], body: Any
    ) -> tuple[Method | None, list[str]]:
        found, values = self.method(method, path)
        if found is None:
            return None, [f"no method of the {self.title} is {method} {path}"]
        problems = []
        for name, value in values.items():
            described = found.parameters[name]
            if described.get("pattern") and not re.fullmatch(described["pattern"], value):
                problems.append(f"path parameter {name}={value!r} breaks {described['pattern']}")
        for name, value in params.items():
            described = found.parameters.get(name) or self.global_parameters.get(name)
            if described is None or described.get("location") == "path":
                problems.append(f"unknown query parameter {name!r} for {found.id}")
                continue
            problems += _parameter_problems(name, value, described)
        for name, described in found.parameters.items():
            if (
                described.get("required")
                and described.get("location") == "query"
                and (name not in params)
            ):
                problems.append(f"required query parameter {name!r} missing")
        if found.request is None:
            if body not in (None, b""):
                problems.append(f"{found.id} takes no request body")
        elif not isinstance(body, dict):
            problems.append(f"{found.id} needs a JSON {found.request} body")
        else:
            validator = self._validator(found.request, found.id)
            problems += schema_problems(validator, body, f"body({found.request})")
        return found, problems

    def check_response(self, operation: Any, status: int, body: Any) -> list[str]:
        if status >= 400:
            return schema_problems(_error_validator(), body, "error body")
        if not isinstance(operation, Method) or operation.response is None:
            return [] if body is None else ["a reply body where the method describes none"]
        validator = self._validator(operation.response, None)
        return schema_problems(validator, body, f"body({operation.response})")

    # -- schemas --------------------------------------------------------------------------------

    @functools.cache  # noqa: B019 (one instance per session; the cache is the point)
    def _validator(self, schema: str, method_id: str | None) -> Any:
        """A Draft 2020-12 validator of ``schema``; ``method_id`` adds the fields annotated
        ``required`` for that method (request bodies)."""
        import jsonschema

        root = {"$ref": f"#/$defs/{schema}", "$defs": self._definitions(method_id)}
        return jsonschema.Draft202012Validator(root)

    @functools.cache  # noqa: B019
    def _definitions(self, method_id: str | None) -> dict[str, Any]:
        return {
            name: _convert(described, method_id)
            for name, described in self.document["schemas"].items()
        }

    def schema(self, name: str) -> dict[str, Any]:
        return dict(self.document["schemas"][name])


def _methods(resources: Mapping[str, Any], base: str) -> Any:
    for resource in resources.values():
        for method in (resource.get("methods") or {}).values():
            template = method.get("flatPath") or method["path"]
            regex = re.sub(
                r"\\\{(\+?)(\w+)\\\}",
                lambda m: f"(?P<{m.group(2)}>{'.+' if m.group(1) else '[^/]+'})",
                re.escape(f"{base}/{template}"),
            )
            yield Method(
                id=method["id"],
                http_method=method["httpMethod"],
                pattern=re.compile(regex),
                parameters=method.get("parameters") or {},
                request=(method.get("request") or {}).get("$ref"),
                response=(method.get("response") or {}).get("$ref"),
                literal_length=len(re.sub(r"\{[^}]*\}", "", template)),
            )
        yield from _methods(resource.get("resources") or {}, base)


def _parameter_problems(name: str, value: str, described: Mapping[str, Any]) -> list[str]:
    kind = described.get("type")
    if kind == "integer":
        if not re.fullmatch(r"-?\d+", value):
            return [f"query parameter {name}={value!r} is not an integer"]
        if "minimum" in described and int(value) < int(described["minimum"]):
            return [f"query parameter {name}={value} is below {described['minimum']}"]
    if kind == "boolean" and value not in ("true", "false"):
        return [f"query parameter {name}={value!r} is not true/false"]
    if described.get("enum") and value not in described["enum"]:
        return [f"query parameter {name}={value!r} is not one of {described['enum']}"]
    return []


def _convert(described: Mapping[str, Any], method_id: str | None) -> dict[str, Any]:
    """One discovery schema as JSON Schema (see the module docstring for the rules)."""
    if "$ref" in described:
        return {"$ref": f"#/$defs/{described['$ref']}"}
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


@functools.cache
def _error_validator() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(ERROR_SCHEMA)
