"""Checks that span several keys: references between blocks, quorum, unique names, defaults.

They read the raw tree (type-guarded), so they run even when other parts failed to validate.
"""

from __future__ import annotations

from typing import Any

from ..registry import Catalog, ComponentKind
from .problem import Problem, did_you_mean
from .slots import DISTRO_DEFAULT


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list[tuple[int, dict[str, Any]]]:
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)]


def check_semantics(raw: Any, catalog: Catalog) -> list[Problem]:
    spec = _mapping(_mapping(raw).get("spec"))
    if not spec:
        return []
    problems = _pools(spec)
    kubernetes = _mapping(spec.get("kubernetes"))
    distribution = kubernetes.get("distribution", DISTRO_DEFAULT)
    if not isinstance(distribution, str):
        return problems
    k8s: tuple[Any, ...] = ("spec", "kubernetes")
    if catalog.component("distro", distribution) is None:
        installed = catalog.names("distro")
        problems.append(
            Problem(
                (*k8s, "distribution"),
                f"no distro named {distribution!r} is installed",
                did_you_mean(distribution, installed)
                or (
                    f"installed: {', '.join(installed)}" if installed else "install a distro plugin"
                ),
            )
        )
    problems += _distro_settings(catalog, distribution, kubernetes, k8s)
    problems += _api_endpoint(catalog, distribution, kubernetes.get("apiEndpoint"), k8s)
    cni = _mapping(kubernetes.get("cni"))
    if isinstance(cni.get("type"), str):
        problems += _supports(catalog, "cni", cni["type"], distribution, (*k8s, "cni", "type"))
    problems += _storage(spec, catalog, distribution)
    names: dict[str, int] = {}
    for index, addon in _items(spec.get("addons")):
        name = addon.get("name")
        if not isinstance(name, str):
            continue
        if name in names:
            problems.append(
                Problem(
                    ("spec", "addons", index, "name"),
                    f"add-on {name!r} is listed twice (first at addons[{names[name]}])",
                    "list each add-on once",
                )
            )
        names.setdefault(name, index)
        problems += _supports(
            catalog, "addon", name, distribution, ("spec", "addons", index, "name")
        )
    return problems


def _distro_settings(
    catalog: Catalog, distribution: str, kubernetes: dict[str, Any], base: tuple[Any, ...]
) -> list[Problem]:
    """The distro's own checks of ``serverConfig``/``agentConfig`` (its documented flags).

    A distro plugin's block model may define ``check_kubernetes(raw_kubernetes)`` returning
    problems with ``path`` (relative to spec.kubernetes), ``message``, ``hint`` and ``at_key``.
    """
    block = catalog.block("kubernetes", distribution)
    check = getattr(block.model, "check_kubernetes", None) if block is not None else None
    if not callable(check):
        return []
    return [
        Problem((*base, *p.path), p.message, p.hint, at_key=p.at_key) for p in check(kubernetes)
    ]


#: Our providers libcloud (3.9) has a load-balancer driver for: AWS (classic ELB, TCP listeners;
#: its ALB is HTTP-only and cannot pass client certificates through) and GCE (target pools).
LOAD_BALANCER_PROVIDERS = ("aws", "gcp")


def _api_endpoint(
    catalog: Catalog, distribution: str, endpoint: Any, base: tuple[Any, ...]
) -> list[Problem]:
    """Modes the distribution or this version cannot serve are refused, never ignored."""
    mode = _mapping(endpoint).get("mode")
    path = (*base, "apiEndpoint", "mode")
    if mode == "loadBalancer":
        return [
            Problem(
                path,
                "mode loadBalancer is not available yet: of our providers, libcloud has a "
                f"load-balancer API for {' and '.join(LOAD_BALANCER_PROVIDERS)} only "
                "(digitalocean, linode, hetzner, vultr, azure and openstack have none), and "
                "sloth-kubernetes does not create one yet",
                "use mode nodeLocal (a balancer on every node), or create the load balancer "
                "yourself and use `mode: dns` with its `address:`",
            )
        ]
    if mode == "nodeLocal":
        block = catalog.block("kubernetes", distribution)
        installer = getattr(block.model, "installer", None) if block is not None else None
        found = installer() if callable(installer) else None
        if found is not None and not found.node_local_balancer:
            return [
                Problem(
                    path,
                    f"distribution {distribution} does not support mode nodeLocal yet",
                    "remove `mode: nodeLocal` (nodes then register with the first server) or "
                    "use `mode: dns` with an address leading to every server",
                )
            ]
    return []


def _pools(spec: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    path: tuple[Any, ...] = ("spec", "nodePools")
    pools = _items(spec.get("nodePools"))
    if isinstance(spec.get("nodePools"), list) and not pools:
        problems.append(Problem(path, "no node pools", "add at least one pool with a server"))
    providers = sorted(_mapping(spec.get("providers")))
    seen: dict[str, int] = {}
    servers = 0
    countable = True  # a count or roles of the wrong type is reported elsewhere; don't guess
    for index, pool in pools:
        name = pool.get("name")
        if isinstance(name, str):
            if name in seen:
                problems.append(
                    Problem(
                        (*path, index, "name"),
                        f"pool name {name!r} is used twice (first at nodePools[{seen[name]}])",
                        "give each pool its own name",
                    )
                )
            seen.setdefault(name, index)
        provider = pool.get("provider")
        if isinstance(provider, str) and provider not in providers:
            problems.append(
                Problem(
                    (*path, index, "provider"),
                    f"provider {provider!r} is not configured under spec.providers",
                    did_you_mean(provider, providers)
                    or f"add `{provider}: {{}}` under spec.providers",
                )
            )
        roles = pool.get("roles", ["agent"])
        count = pool.get("count", 1)
        if not isinstance(roles, list) or isinstance(count, bool) or not isinstance(count, int):
            countable = False
        elif "server" in roles:
            servers += count
    if not countable:
        return problems
    if pools and servers == 0:
        problems.append(
            Problem(path, "no node has the `server` role", "give one pool `roles: [server]`")
        )
    elif servers > 0 and servers % 2 == 0:
        problems.append(
            Problem(
                path,
                f"{servers} servers: an even number of etcd members tolerates no more failures "
                f"than {servers - 1} and risks a split vote",
                f"use {servers - 1} or {servers + 1} servers (1, 3 or 5 are usual)",
            )
        )
    return problems


def _storage(spec: dict[str, Any], catalog: Catalog, distribution: str) -> list[Problem]:
    problems: list[Problem] = []
    defaults: list[tuple[int, int, str]] = []
    any_classes = False
    for index, block in _items(spec.get("storage")):
        if isinstance(block.get("type"), str):
            problems += _supports(
                catalog, "storage", block["type"], distribution, ("spec", "storage", index, "type")
            )
        for c_index, cls in _items(block.get("classes")):
            any_classes = True
            if cls.get("default") is True:
                defaults.append((index, c_index, str(cls.get("name"))))
    for index, c_index, name in defaults[1:]:
        problems.append(
            Problem(
                ("spec", "storage", index, "classes", c_index, "default"),
                f"storage class {name!r} is a second default class (first: {defaults[0][2]!r})",
                "mark exactly one class `default: true`",
            )
        )
    if any_classes and not defaults:
        problems.append(
            Problem(
                ("spec", "storage"),
                "no storage class is the default",
                "mark exactly one class `default: true`",
            )
        )
    return problems


def _supports(
    catalog: Catalog, kind: ComponentKind, name: str, distribution: str, path: tuple[Any, ...]
) -> list[Problem]:
    component = catalog.component(kind, name)
    if component is None or not component.supports or distribution in component.supports:
        return []
    compatible = [
        c.name
        for c in catalog.components
        if c.kind == kind and (not c.supports or distribution in c.supports)
    ]
    return [
        Problem(
            path,
            f"{kind} {name!r} does not support distribution {distribution!r} "
            f"(it supports: {', '.join(component.supports)})",
            f"with {distribution} use: {', '.join(compatible)}"
            if compatible
            else f"no {kind} plugin supports {distribution} yet: remove it, or choose "
            f"distribution {' or '.join(component.supports)}",
        )
    ]
