"""kubeadm's configuration kinds as data (``data/api-types.yaml``), and strict checks against them.

Every document the plugin renders, and every key a user passes through ``serverConfig`` /
``agentConfig``, is checked field by field against the upstream Go types (names and types as
cited in the data file): unknown fields, wrong types, kinds in the wrong place and fields the tool
sets itself are reported with their path, never passed on for kubeadm to reject on a node.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

import attrs
from sloth_kubernetes.plugin import did_you_mean

_DURATION = re.compile(r"^-?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$|^0$")
_SCALARS = frozenset({"string", "bool", "int", "float", "duration", "time", "object"})

Path = tuple[str | int, ...]


@attrs.frozen
class TypeProblem:
    """One field that does not fit the upstream types: where (below the kind), what, a fix."""

    path: Path
    message: str
    hint: str
    at_key: bool = True


@attrs.frozen
class ApiTypes:
    """The kinds, their apiVersion, the struct types, and where users may set what."""

    kinds: Mapping[str, str]
    types: Mapping[str, Mapping[str, str]]
    placement: Mapping[str, Sequence[str]]
    cluster_wide: Mapping[str, str]
    managed: Mapping[str, str]

    def check_document(self, document: Mapping[str, Any]) -> list[TypeProblem]:
        """A whole rendered document (with apiVersion and kind) against its kind's type."""
        kind = str(document.get("kind"))
        if kind not in self.kinds:
            return [TypeProblem(("kind",), f"unknown kind {kind!r}", ", ".join(self.kinds))]
        problems: list[TypeProblem] = []
        if document.get("apiVersion") != self.kinds[kind]:
            problems.append(
                TypeProblem(
                    ("apiVersion",),
                    f"{kind} is {self.kinds[kind]}, not {document.get('apiVersion')!r}",
                    f"apiVersion: {self.kinds[kind]}",
                )
            )
        body = {k: v for k, v in document.items() if k not in ("apiVersion", "kind")}
        return problems + self.check(kind, body, ())

    def check(self, type_name: str, value: Any, path: Path) -> list[TypeProblem]:
        """``value`` against the type expression ``type_name`` (see the data file's grammar)."""
        if type_name.startswith("[]"):
            if not isinstance(value, list):
                return [_wrong(path, f"a list of {type_name[2:]}", value)]
            return [
                p
                for i, item in enumerate(value)
                for p in self.check(type_name[2:], item, (*path, i))
            ]
        if type_name.startswith("map[") and type_name.endswith("]"):
            if not isinstance(value, Mapping):
                return [_wrong(path, f"a mapping of {type_name[4:-1]} values", value)]
            return [
                p
                for key, item in value.items()
                for p in self.check(type_name[4:-1], item, (*path, str(key)))
            ]
        if type_name in _SCALARS:
            problem = _scalar_problem(type_name, value)
            return [_wrong(path, problem, value)] if problem else []
        fields = self.types[type_name]
        if not isinstance(value, Mapping):
            return [_wrong(path, f"a mapping ({type_name})", value)]
        problems: list[TypeProblem] = []
        for key, item in value.items():
            if key not in fields:
                problems.append(
                    TypeProblem(
                        (*path, str(key)),
                        f"{type_name} has no field {key!r}",
                        did_you_mean(str(key), list(fields))
                        or f"the fields of {type_name}: {', '.join(fields)}",
                    )
                )
                continue
            problems += self.check(fields[key], item, (*path, key))
        return problems

    def check_pass_through(self, where: str, settings: Any) -> list[TypeProblem]:
        """The user's ``serverConfig``/``agentConfig``: kinds it may hold, their fields, and no
        field the tool sets itself. Paths start with ``where``."""
        if not isinstance(settings, Mapping):
            return [_wrong((where,), "a mapping of kubeadm configuration kinds", settings)]
        allowed = self.placement[where]
        problems: list[TypeProblem] = []
        for kind, given in settings.items():
            path: Path = (where, str(kind))
            body = given
            if kind not in allowed:
                if kind in self.kinds:
                    why = self.cluster_wide.get(str(kind), "")
                    problems.append(
                        TypeProblem(
                            path,
                            f"{kind} cannot be set per agent: {why}",
                            f"set it in spec.kubernetes.serverConfig.{kind}",
                        )
                    )
                else:
                    problems.append(
                        TypeProblem(
                            path,
                            f"{where} holds kubeadm configuration kinds; {kind!r} is not one "
                            f"({', '.join(allowed)})",
                            did_you_mean(str(kind), list(allowed))
                            or f"use one of: {', '.join(allowed)}",
                        )
                    )
                continue
            if isinstance(body, Mapping):
                for key in ("apiVersion", "kind"):
                    if key in body:
                        problems.append(
                            TypeProblem(
                                (*path, key),
                                f"{key} is written by sloth-kubernetes ({self.kinds[str(kind)]})",
                                f"remove {key}",
                            )
                        )
                body = {k: v for k, v in body.items() if k not in ("apiVersion", "kind")}
            found = self.check(str(kind), body, path)
            problems += found
            if not found:
                problems += self._managed(str(kind), body, path)
        return problems

    def _managed(self, kind: str, body: Mapping[str, Any], path: Path) -> list[TypeProblem]:
        problems: list[TypeProblem] = []
        for dotted, instead in self.managed.items():
            owner, _, rest = dotted.partition(".")
            if owner != kind:
                continue
            node: Any = body
            keys = rest.split(".")
            for key in keys:
                node = node.get(key) if isinstance(node, Mapping) else None
            if node is not None:
                problems.append(
                    TypeProblem(
                        (*path, *keys), f"{kind}.{rest} is set by sloth-kubernetes itself", instead
                    )
                )
        return problems


def _wrong(path: Path, expected: str, value: Any) -> TypeProblem:
    field = ".".join(str(p) for p in path)
    return TypeProblem(
        path, f"expected {expected}, got {value!r}", f"make {field} {expected}", at_key=False
    )


def _scalar_problem(type_name: str, value: Any) -> str | None:
    if type_name == "object":
        return None if isinstance(value, Mapping) else "a mapping"
    if type_name == "bool":
        return None if isinstance(value, bool) else "true or false"
    if type_name == "int":
        return None if isinstance(value, int) and not isinstance(value, bool) else "an integer"
    if type_name == "float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "a number"
    if not isinstance(value, str):
        return "a string"
    if type_name == "duration" and not _DURATION.match(value):
        return 'a duration such as "30s", "5m" or "1h30m"'
    return None


@cache
def api_types() -> ApiTypes:
    """The data file shipped with the plugin, loaded once."""
    from ruamel.yaml import YAML

    text = (resources.files(__package__) / "data" / "api-types.yaml").read_text(encoding="utf-8")
    data = YAML(typ="safe").load(text)
    return ApiTypes(
        kinds=dict(data["kinds"]),
        types={name: dict(fields) for name, fields in data["types"].items()},
        placement={k: list(v) for k, v in data["placement"].items()},
        cluster_wide=dict(data["clusterWide"]),
        managed=dict(data["managed"]),
    )
