"""The Azure REST API as Microsoft's generated Python SDKs describe it, as a ``DescribedApp``
description (tests only).

The Azure REST API specifications (TypeSpec / OpenAPI in ``Azure/azure-rest-api-specs``) are not
published in a package registry; the official SDKs generated from them are. Four of them are
dev/test dependencies here (pinned in the Makefile's ``PIP_DEV``, MIT licence):

* ``azure-mgmt-compute`` 39.0.0 — virtual machines, disks, VM sizes;
* ``azure-mgmt-network`` 33.1.0 — virtual networks, NSGs, public IPs, network interfaces;
* ``azure-mgmt-resource`` 26.0.0 — resource groups, the resource listing;
* ``azure-mgmt-resource-subscriptions`` 1.0.0 — the subscription and its locations.

From them, at test time (nothing is copied into the repository):

* each operation's **HTTP method, URL template, api-version and query parameters** are read
  from the generated request builder (``operations/_operations.py``, ``build_<group>_<op>_request``:
  ``_url``, the ``api-version`` default, ``HttpRequest(method=…)``, ``_params[…]``);
* each **body** is the generated model (``models/_models.py``) turned into JSON Schema from its
  ``rest_field`` wire names and type hints: nested models, lists, maps, fixed enums (extensible
  ones are strings, as the spec's ``modelAsString``), unknown members refused (Compute and
  Network answer ``400 InvalidRequestFormat`` "Could not find member"), fields whose type is not
  ``Optional`` and that may be written at creation **required** in requests;
* lists are ARM pages (``value`` of the model, ``nextLink``; ``$skiptoken`` accepted on a
  ``nextLink``, the ARM paging contract); errors are each package's ``CloudError`` model.

Which model an operation takes and returns is the generated operation's signature; the table
:data:`OPERATIONS` repeats it (with the builder's name) for the operations the fake serves.
"""

from __future__ import annotations

import enum
import functools
import importlib
import importlib.util
import re
import types
import typing
from pathlib import Path
from typing import Any

from sloth_kubernetes.testing.emulators.described import ApiDescription

PACKAGES = {
    "compute": ("azure.mgmt.compute", "azure-mgmt-compute"),
    "network": ("azure.mgmt.network", "azure-mgmt-network"),
    "resources": ("azure.mgmt.resource.resources", "azure-mgmt-resource"),
    "subscriptions": ("azure.mgmt.resource.subscriptions", "azure-mgmt-resource-subscriptions"),
}

#: package: [(request builder, request body model, reply model, is a list)]
OPERATIONS: dict[str, list[tuple[str, str | None, str | None, bool]]] = {
    "compute": [
        ("virtual_machines_create_or_update", "VirtualMachine", "VirtualMachine", False),
        ("virtual_machines_get", None, "VirtualMachine", False),
        ("virtual_machines_delete", None, None, False),
        ("virtual_machines_list", None, "VirtualMachine", True),
        ("disks_delete", None, None, False),
        ("virtual_machine_sizes_list", None, "VirtualMachineSize", True),
    ],
    "network": [
        ("virtual_networks_create_or_update", "VirtualNetwork", "VirtualNetwork", False),
        ("virtual_networks_list", None, "VirtualNetwork", True),
        ("virtual_networks_delete", None, None, False),
        ("network_security_groups_create_or_update", "NetworkSecurityGroup",
         "NetworkSecurityGroup", False),
        ("network_security_groups_get", None, "NetworkSecurityGroup", False),
        ("network_security_groups_list", None, "NetworkSecurityGroup", True),
        ("network_security_groups_delete", None, None, False),
        ("public_ip_addresses_create_or_update", "PublicIPAddress", "PublicIPAddress", False),
        ("public_ip_addresses_list", None, "PublicIPAddress", True),
        ("public_ip_addresses_delete", None, None, False),
        ("network_interfaces_create_or_update", "NetworkInterface", "NetworkInterface", False),
        ("network_interfaces_list", None, "NetworkInterface", True),
        ("network_interfaces_delete", None, None, False),
    ],
    "resources": [
        ("resource_groups_create_or_update", "ResourceGroup", "ResourceGroup", False),
        ("resource_groups_get", None, "ResourceGroup", False),
        ("resource_groups_delete", None, None, False),
        ("resource_groups_list", None, "ResourceGroup", True),
        ("resources_list", None, "GenericResourceExpanded", True),
    ],
    "subscriptions": [
        ("subscriptions_get", None, "Subscription", False),
        ("subscriptions_list_locations", None, "Location", True),
    ],
}  # fmt: skip


class SdkUnavailable(RuntimeError):
    """An SDK package carrying the description is not installed."""


def api_versions() -> dict[str, str]:
    """``{builder name: api-version}`` the SDKs describe (what the driver must send)."""
    return {
        name: found["api"] for package in OPERATIONS for name, found in _builders(package).items()
    }


def descriptions() -> list[ApiDescription]:
    """One description per SDK package (each with its own error model)."""
    return [_description(package) for package in OPERATIONS]


def _module(package: str, part: str) -> types.ModuleType:
    name, distribution = PACKAGES[package]
    if importlib.util.find_spec(name.rsplit(".", 1)[0]) is None:
        raise SdkUnavailable(f"{distribution} is not installed; run `make install`")
    try:
        return importlib.import_module(f"{name}.{part}")
    except ImportError as error:
        raise SdkUnavailable(
            f"{distribution} is not installed ({error}); run `make install`"
        ) from None


@functools.cache
def _builders(package: str) -> dict[str, dict[str, Any]]:
    """What the generated request builders say: method, URL template, api-version, query."""
    source = Path(str(_module(package, "operations._operations").__file__)).read_text("utf-8")
    wanted = {name for name, *_ in OPERATIONS[package]}
    found: dict[str, dict[str, Any]] = {}
    for name in wanted:  # each builder: from its def to the next top-level def
        start = source.find(f"\ndef build_{name}_request(")
        end = source.find("\ndef ", start + 1)
        if start < 0:
            continue
        text = source[start:end]
        function = f"build_{name}_request"
        url = re.search(r'_url = \(?\s*"([^"]+)"', text)
        api = re.search(r'_params\.pop\("api-version", "([^"]+)"\)', text)
        method = re.search(r'HttpRequest\(method="(\w+)"', text)
        if not (url and api and method):
            raise SdkUnavailable(f"cannot read the request builder {function} of {package}")
        found[name] = {
            "url": url.group(1),
            "api": api.group(1),
            "method": method.group(1),
            "query": sorted(set(re.findall(r'_params\["([^"]+)"\]', text))),
            "source": f"{PACKAGES[package][1]}: operations/_operations.py {function}",
        }
    missing = wanted - set(found)
    if missing:
        raise SdkUnavailable(f"{PACKAGES[package][1]} has no request builder for {missing}")
    return found


def _description(package: str) -> ApiDescription:
    models = _module(package, "models")
    definitions: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for name, request, reply, listed in OPERATIONS[package]:
        builder = _builders(package)[name]
        query: dict[str, Any] = {n: {"type": "string"} for n in builder["query"]}
        query["api-version"] = {"const": builder["api"]}
        body = None
        if request:
            body = {**_ref(models, request, "request", definitions), "x-required-body": True}
        responses: dict[str, Any] = {}
        if reply and listed:
            query["$skiptoken"] = {"type": "string"}  # ARM paging: the nextLink's token
            responses["200"] = {
                "type": "object",
                "required": ["value"],
                "additionalProperties": False,
                "properties": {
                    "value": {"type": "array", "items": _ref(models, reply, "reply", definitions)},
                    "nextLink": {"type": "string"},
                },
            }
        elif reply:
            schema = _ref(models, reply, "reply", definitions)
            responses.update({"200": schema, "201": schema})
        if builder["method"] == "DELETE":
            responses.update({"200": None, "202": None, "204": None})
        operations[f"{builder['method']} {builder['url']}"] = {
            "source": builder["source"],
            "query": query,
            "requiredQuery": ["api-version"],
            "body": body,
            "responses": responses,
        }
    errors = _ref(models, "CloudError", "reply", definitions)
    for schema in [errors, *(o["body"] for o in operations.values() if o["body"])]:
        schema["definitions"] = definitions
    for operation in operations.values():
        for schema in operation["responses"].values():
            if schema is not None:
                schema["definitions"] = definitions
    document = {"_about": {"source": PACKAGES[package][1]}, "errors": errors,
                "operations": operations}  # fmt: skip
    return ApiDescription(document, name=f"{PACKAGES[package][1]} description", ignore_case=True)


def _ref(models: types.ModuleType, name: str, mode: str, definitions: dict[str, Any]) -> Any:
    cls = getattr(models, name)
    return {"$ref": f"#/definitions/{_model(cls, mode, definitions)}"}


def _model(cls: type, mode: str, definitions: dict[str, Any]) -> str:
    """Add ``cls`` (a generated model) as JSON Schema for ``mode`` (request: required fields
    enforced; reply: none) to ``definitions``; return its key."""
    key = f"{cls.__name__}.{mode}"
    if key in definitions:
        return key
    definitions[key] = {}  # placeholder: models refer to themselves
    module = importlib.import_module(cls.__module__)
    package = importlib.import_module(cls.__module__.rsplit(".", 1)[0])
    hints = typing.get_type_hints(cls, globalns=vars(module), localns={"_models": package})
    properties: dict[str, Any] = {}
    required = []
    # the generated base class computes each class's field map in __new__ (a subclass would
    # otherwise show its parent's)
    cls.__new__(cls)
    fields = cls._attr_to_rest_field  # type: ignore[attr-defined]
    for attribute, field in fields.items():
        hint = hints.get(attribute, Any)
        wire = field._rest_name
        properties[wire] = _type(hint, mode, definitions)
        writable = "create" in (field._visibility or ["create"])
        if mode == "request" and writable and not _optional(hint):
            required.append(wire)
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    definitions[key] = schema
    return key


def _optional(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in (
        typing.get_args(hint)
    )


def _type(hint: Any, mode: str, definitions: dict[str, Any]) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        if str in members:  # Union[str, SomeEnum]: an extensible enum (modelAsString)
            return {"type": "string"}
        if len(members) == 1:
            return _type(members[0], mode, definitions)
        return {"anyOf": [_type(m, mode, definitions) for m in members]}
    if origin is list:
        return {"type": "array", "items": _type(args[0], mode, definitions)}
    if origin is dict:
        return {"type": "object", "additionalProperties": _type(args[1], mode, definitions)}
    if origin is typing.Literal:
        return {"enum": list(args)}
    if isinstance(hint, type):
        if issubclass(hint, enum.Enum):
            return {"enum": [m.value for m in hint]}
        if any(base.__module__.endswith("_utils.model_base") for base in hint.__mro__[1:]):
            return {"$ref": f"#/definitions/{_model(hint, mode, definitions)}"}
        simple = {str: "string", bool: "boolean", int: "integer", float: "number",
                  bytes: "string"}  # fmt: skip
        for kind, name in simple.items():
            if issubclass(hint, kind):
                return {"type": name}
        if hint.__name__ in ("datetime", "date", "time", "timedelta"):
            return {"type": "string"}
    return {}
