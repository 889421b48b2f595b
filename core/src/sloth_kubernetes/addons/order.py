"""The order of the add-on phase: declared ``requires`` first, then CNI → storage → the rest."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError, ConfigIssue
from ..registry import Catalog, ComponentKind

#: One selected component: (kind, name, settings), as the engine's ``addon_components`` yields.
Selected = tuple[ComponentKind, str, Any]
KIND_RANK: dict[str, int] = {"cni": 0, "storage": 1, "addon": 2}
_KIND_WORDS = {"cni", "storage", "addon"}


def component_id(kind: str, name: str) -> str:
    """``cni/cilium``: how components are named in the registry, messages and ``addons list``."""
    return f"{kind}/{name}"


def _issue(source: str, message: str, hint: str) -> ConfigError:
    return ConfigError([ConfigIssue(source, 0, 0, "spec.addons", message, hint)], hint=hint)


def order_components(
    catalog: Catalog, selected: Sequence[Selected], *, source: str = "config"
) -> list[Selected]:
    """``selected`` sorted so that every component comes after what it ``requires``.

    A requirement is a kind (``"cni"``, ``"storage"``, ``"addon"``: every selected component of
    that kind; none selected is fine, the distribution's built-in one serves) or a component name
    (it must be selected). Among components whose requirements are met, a ``first`` component
    (kubeadm's helm-controller) comes before everything, then CNI before storage before the
    rest, then spec order. A missing dependency or a cycle is a
    :class:`ConfigError` naming it.
    """
    ids = [component_id(kind, name) for kind, name, _ in selected]
    by_name: dict[str, list[int]] = {}
    for index, (_, name, _) in enumerate(selected):
        by_name.setdefault(name, []).append(index)
    edges: dict[int, set[int]] = {i: set() for i in range(len(selected))}  # i needs these first
    for index, (kind, name, _) in enumerate(selected):
        component = catalog.component(kind, name)
        for requirement in component.requires if component else ():
            if requirement in _KIND_WORDS:
                needed = [i for i, s in enumerate(selected) if s[0] == requirement]
            elif requirement in by_name:
                needed = by_name[requirement]
            else:
                raise _issue(
                    source,
                    f"{ids[index]} requires {requirement!r}, which the spec does not select",
                    f"add {requirement} to the spec (spec.addons or spec.storage) or remove {name}",
                )
            edges[index].update(i for i in needed if i != index)

    def rank(index: int) -> int:
        kind, name, _ = selected[index]
        component = catalog.component(kind, name)
        return -1 if component is not None and component.first else KIND_RANK.get(kind, 3)

    ready = [(rank(i), i) for i in range(len(selected)) if not edges[i]]
    heapq.heapify(ready)
    waiting = {i: set(deps) for i, deps in edges.items() if deps}
    order: list[int] = []
    while ready:
        _, index = heapq.heappop(ready)
        order.append(index)
        for other, deps in list(waiting.items()):
            deps.discard(index)
            if not deps:
                del waiting[other]
                heapq.heappush(ready, (rank(other), other))
    if waiting:
        cycle = _cycle(waiting)
        raise _issue(
            source,
            "add-on dependencies form a cycle: " + " → ".join(ids[i] for i in cycle),
            "one of these plugins declares a wrong `requires`; report it to its authors",
        )
    return [selected[i] for i in order]


def _cycle(waiting: dict[int, set[int]]) -> list[int]:
    """One cycle among the components still waiting (each waits for another waiting one)."""
    start = min(waiting)
    path = [start]
    seen = {start: 0}
    current = start
    while True:
        current = min(d for d in waiting[current] if d in waiting)
        if current in seen:
            return [*path[seen[current] :], current]
        seen[current] = len(path)
        path.append(current)
