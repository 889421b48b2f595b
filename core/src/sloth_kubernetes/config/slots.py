"""Plugin blocks of the spec, validated with the models their plugins registered.

Selection: ``spec.providers.<name>`` by key; ``spec.mesh`` and ``spec.kubernetes.cni`` by ``type``;
``spec.storage[]`` by ``type``; ``spec.addons[]`` by ``name``; ``spec.kubernetes.<distribution>``
by the distribution's name; ``spec.nodePools[].options`` by the pool's provider.
"""

from __future__ import annotations

from typing import Any

import attrs

from ..model.cluster import PluginBlock, StorageBlock, StorageClassSpec
from ..registry import Catalog, ComponentKind, ConfigSlot
from .convert import problems_from
from .located import LDict, without
from .problem import PathPart, Problem, did_you_mean

DEFAULT_MESH = "wireguard"
DISTRO_DEFAULT = "k3s"


@attrs.define
class Slots:
    providers: dict[str, PluginBlock] = attrs.field(factory=dict)
    pool_options: dict[int, Any] = attrs.field(factory=dict)
    mesh: PluginBlock | None = None
    cni: PluginBlock | None = None
    distro: PluginBlock | None = None
    distro_key: str | None = None
    storage: list[StorageBlock] = attrs.field(factory=list)
    addons: list[PluginBlock] = attrs.field(factory=list)


def validate_slots(raw: Any, catalog: Catalog, converter: Any) -> tuple[Slots, list[Problem]]:
    checker = _Checker(converter, catalog, [])
    slots = Slots()
    spec = raw.get("spec") if isinstance(raw, dict) else None
    if not isinstance(spec, dict):
        return slots, []
    providers = spec.get("providers")
    if isinstance(providers, dict):
        for name, value in providers.items():
            path: tuple[PathPart, ...] = ("spec", "providers", name)
            slots.providers[name] = checker.block("provider", "providers", name, value, path)
    pools = spec.get("nodePools")
    if isinstance(pools, list):
        for index, pool in enumerate(pools):
            if isinstance(pool, dict) and pool.get("options") is not None:
                provider = pool.get("provider")
                if isinstance(provider, str):
                    slots.pool_options[index] = checker.settings(
                        "nodePools",
                        provider,
                        pool["options"],
                        ("spec", "nodePools", index, "options"),
                    )
    slots.mesh = checker.selected(
        "mesh", "mesh", "type", spec.get("mesh"), ("spec", "mesh"), DEFAULT_MESH
    )
    kubernetes = spec.get("kubernetes")
    if kubernetes is None:
        kubernetes = LDict()
    if isinstance(kubernetes, dict):
        _kubernetes(checker, slots, kubernetes)
    storage = spec.get("storage")
    if isinstance(storage, list):
        for index, item in enumerate(storage):
            block = checker.storage(item, ("spec", "storage", index))
            if block is not None:
                slots.storage.append(block)
    addons = spec.get("addons")
    if isinstance(addons, list):
        for index, item in enumerate(addons):
            selected = checker.selected("addon", "addons", "name", item, ("spec", "addons", index))
            if selected is not None:
                slots.addons.append(selected)
    return slots, checker.problems


def _kubernetes(checker: _Checker, slots: Slots, kubernetes: dict[str, Any]) -> None:
    chosen = kubernetes.get("distribution", DISTRO_DEFAULT)
    if not isinstance(chosen, str):
        return  # the core model reports the type error
    base: tuple[PathPart, ...] = ("spec", "kubernetes")
    for key in kubernetes:
        if key != chosen and key in checker.catalog.names("distro"):
            checker.problems.append(
                Problem(
                    (*base, key),
                    f"settings for distribution {key!r}, but `distribution` is {chosen!r}",
                    f"move them under `{chosen}:` or set `distribution: {key}`",
                    at_key=True,
                )
            )
    if chosen in kubernetes:
        slots.distro_key = chosen
    slots.distro = PluginBlock(
        chosen, checker.settings("kubernetes", chosen, kubernetes.get(chosen), (*base, chosen))
    )
    if kubernetes.get("cni") is not None:
        slots.cni = checker.selected("cni", "cni", "type", kubernetes["cni"], (*base, "cni"))


@attrs.define
class _Checker:
    converter: Any
    catalog: Catalog
    problems: list[Problem]

    def block(
        self, kind: ComponentKind, slot: ConfigSlot, name: str, raw: Any, path: tuple[PathPart, ...]
    ) -> PluginBlock:
        if self.catalog.component(kind, name) is None:
            self.problems.append(self._unknown(kind, name, path, at_key=True))
            return PluginBlock(name)
        return PluginBlock(name, self.settings(slot, name, raw, path))

    def selected(
        self,
        kind: ComponentKind,
        slot: ConfigSlot,
        selector: str,
        raw: Any,
        path: tuple[PathPart, ...],
        default: str | None = None,
    ) -> PluginBlock | None:
        if raw is None:
            raw = LDict()
        if not isinstance(raw, dict):
            self.problems.append(Problem(path, "expected a mapping", f"write `{selector}: …`"))
            return None
        name = raw.get(selector, default)
        if name is None:
            self.problems.append(
                Problem(path, f"missing required key {selector!r}", f"add `{selector}: …`")
            )
            return None
        if not isinstance(name, str):
            self.problems.append(Problem((*path, selector), f"{selector} must be a string"))
            return None
        if self.catalog.component(kind, name) is None:
            self.problems.append(self._unknown(kind, name, (*path, selector)))
            return PluginBlock(name)
        rest = (
            without(raw, [selector])
            if isinstance(raw, LDict)
            else {k: v for k, v in raw.items() if k != selector}
        )
        return PluginBlock(name, self.settings(slot, name, rest, path))

    def storage(self, raw: Any, path: tuple[PathPart, ...]) -> StorageBlock | None:
        rest = without(raw, ["classes"]) if isinstance(raw, LDict) else raw
        block = self.selected("storage", "storage", "type", rest, path)
        if block is None:
            return None
        classes: tuple[StorageClassSpec, ...] = ()
        if isinstance(raw, dict) and "classes" in raw:
            try:
                classes = tuple(self.converter.structure(raw["classes"], list[StorageClassSpec]))
            except Exception as error:
                self.problems.extend(
                    attrs.evolve(p, path=(*path, "classes", *p.path)) for p in problems_from(error)
                )
        return StorageBlock(block.name, classes, block.settings)

    def settings(self, slot: ConfigSlot, name: str, raw: Any, path: tuple[PathPart, ...]) -> Any:
        block = self.catalog.block(slot, name)
        if block is None:
            if isinstance(raw, dict):
                for key in raw:
                    self.problems.append(
                        Problem(
                            (*path, key),
                            f"unknown key {key!r}",
                            f"{name} takes no settings here",
                            at_key=True,
                        )
                    )
            elif raw is not None:
                self.problems.append(Problem(path, f"{name} takes no settings here"))
            return None
        try:
            return self.converter.structure(raw if raw is not None else {}, block.model)
        except Exception as error:
            self.problems.extend(
                attrs.evolve(p, path=(*path, *p.path)) for p in problems_from(error)
            )
            return None

    def _unknown(
        self, kind: ComponentKind, name: str, path: tuple[PathPart, ...], *, at_key: bool = False
    ) -> Problem:
        installed = self.catalog.names(kind)
        hint = did_you_mean(name, installed) or (
            f"installed: {', '.join(installed)}; or install the plugin providing {name!r}"
            if installed
            else f"no {kind} plugin is installed; install the one providing {name!r}"
        )
        return Problem(path, f"no {kind} named {name!r} is installed", hint, at_key=at_key)
