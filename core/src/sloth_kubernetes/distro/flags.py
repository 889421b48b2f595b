"""A distribution's documented config-file keys, kept as a data file in its plugin.

Each distro plugin ships ``flags.yaml`` (header cites the docs page and version it was copied
from) listing the keys its server and agent config files accept. The core uses it to validate
``spec.kubernetes.serverConfig``/``agentConfig`` when the config is loaded, and the tests check
every rendered config file against it.

Keys fall in three groups besides "allowed": *managed* keys the tool sets itself (token, node IP,
server URL…; the user sets the matching spec field instead), *cluster-wide* keys that must be
identical on every server (the tool renders them once for all servers, so they are refused in
``agentConfig``), and *secret* keys, masked in ``render`` output.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import attrs

from ..config.problem import did_you_mean

Role = Literal["server", "agent"]
KeyType = Literal["string", "bool", "int", "list"]


@attrs.frozen
class FlagProblem:
    """One invalid extra setting: the key path below ``spec.kubernetes``, what is wrong, a hint."""

    path: tuple[str, ...]
    message: str
    hint: str | None = None
    at_key: bool = True  # located at the key (unknown/refused keys) or at the value (type)


@attrs.frozen
class FlagCatalog:
    """The documented keys of one distribution (see module doc)."""

    distro: str
    docs: str
    docs_version: str
    server: Mapping[str, KeyType]
    agent: Mapping[str, KeyType]
    cluster_wide: frozenset[str] = frozenset()
    managed: Mapping[str, str] = attrs.field(factory=dict)  # key -> what to set instead
    secret: frozenset[str] = frozenset()

    def keys(self, role: Role) -> Mapping[str, KeyType]:
        return self.server if role == "server" else self.agent

    def check(self, role: Role, settings: Mapping[str, Any], where: str) -> list[FlagProblem]:
        """Problems of user-given extra settings for ``role`` (``where``: the spec key)."""
        problems: list[FlagProblem] = []
        known = self.keys(role)
        for key, value in settings.items():
            path = (where, str(key))
            if not isinstance(key, str) or key not in known:
                other = self.keys("agent" if role == "server" else "server")
                hint = did_you_mean(str(key), list(known))
                if hint is None and key in other:
                    hint = f"{key!r} is a {'agent' if role == 'server' else 'server'} setting"
                problems.append(
                    FlagProblem(
                        path,
                        f"{self.distro} {role}s have no setting {key!r} "
                        f"(documented keys: {self.docs}, {self.docs_version})",
                        hint or f"see {self.docs} for the {role} keys",
                    )
                )
                continue
            if key in self.managed:
                problems.append(
                    FlagProblem(
                        path,
                        f"{key!r} is set by sloth-kubernetes itself",
                        self.managed[key],
                    )
                )
                continue
            if role == "agent" and key in self.cluster_wide:
                problems.append(
                    FlagProblem(
                        path,
                        f"{key!r} must be identical on every server; it is not an agent setting",
                        "set it once in spec.kubernetes.serverConfig",
                    )
                )
                continue
            problem = _type_problem(known[key], value)
            if problem:
                problems.append(FlagProblem(path, f"{key}: {problem}", None, at_key=False))
        return problems

    def unknown_keys(self, role: Role, rendered: Iterable[str]) -> list[str]:
        """Keys of a rendered config file the distribution does not document (a bug if any)."""
        return sorted(k for k in rendered if k not in self.keys(role))


def _type_problem(kind: KeyType, value: Any) -> str | None:
    if kind == "bool" and not isinstance(value, bool):
        return f"expected true or false, got {value!r}"
    if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        return f"expected an integer, got {value!r}"
    if kind == "list" and not isinstance(value, list | str):
        return f"expected a list of strings, got {value!r}"
    if kind == "list" and isinstance(value, list) and not all(isinstance(v, str) for v in value):
        return "expected a list of strings"
    if kind == "string" and (isinstance(value, bool) or not isinstance(value, str | int | float)):
        return f"expected a string, got {value!r}"
    return None


def load_flags(path: Path) -> FlagCatalog:
    """Read a plugin's ``flags.yaml``."""
    from ruamel.yaml import YAML

    data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    return FlagCatalog(
        distro=str(data["distro"]),
        docs=str(data["docs"]),
        docs_version=str(data["docsVersion"]),
        server=dict(data["server"]),
        agent=dict(data["agent"]),
        cluster_wide=frozenset(data.get("clusterWide", ())),
        managed=dict(data.get("managed", {})),
        secret=frozenset(data.get("secret", ())),
    )
