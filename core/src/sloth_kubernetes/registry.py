"""What plugins register: named components and the config models of their blocks.

Registration hooks (see :mod:`sloth_kubernetes.hookspecs`) receive a ``register`` callback and call
it with these records. The plugin manager stamps each record with the plugin that registered it, so
errors can say which distribution to install or blame.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import attrs

ComponentKind = Literal["provider", "distro", "mesh", "cni", "storage", "addon"]
COMPONENT_KINDS: tuple[ComponentKind, ...] = (
    "provider",
    "distro",
    "mesh",
    "cni",
    "storage",
    "addon",
)


@attrs.frozen
class Component:
    """A named thing a cluster spec can select: a provider, distro, mesh, CNI, storage or add-on.

    ``requires`` names other components (``"cni"``, ``"storage"`` or a component name) that must be
    installed first; it orders the add-on phase. ``supports`` lists the distros a CNI/storage/add-on
    works with (empty: all). ``first``: installed before every other component the spec selects
    (what the others are delivered through, such as kubeadm's standalone helm-controller).
    """

    kind: ComponentKind
    name: str
    description: str
    features: frozenset[str] = frozenset()
    requires: tuple[str, ...] = ()
    supports: tuple[str, ...] = ()
    first: bool = False
    plugin: str = ""  # set by the plugin manager: the plugin that registered it


#: Where a plugin's config model plugs into the cluster spec. The block path is
#: ``<slot>.<name>``: ``providers.aws`` is ``spec.providers.aws``; ``mesh.wireguard`` is the whole
#: ``spec.mesh`` block when its ``type`` is wireguard; ``kubernetes.k3s`` is
#: ``spec.kubernetes.k3s``;
#: ``cni.cilium`` is ``spec.kubernetes.cni`` when its ``type`` is cilium; ``storage.longhorn`` and
#: ``addons.argocd`` are the items of ``spec.storage``/``spec.addons`` with that type/name;
#: ``nodePools.aws`` is ``spec.nodePools[].options`` of pools on the aws provider.
ConfigSlot = Literal["providers", "mesh", "kubernetes", "cni", "storage", "addons", "nodePools"]
CONFIG_SLOTS: tuple[ConfigSlot, ...] = (
    "providers",
    "mesh",
    "kubernetes",
    "cni",
    "storage",
    "addons",
    "nodePools",
)


@attrs.frozen
class ConfigBlock:
    """An attrs class that validates one plugin's block of the spec (see :data:`ConfigSlot`)."""

    slot: ConfigSlot
    name: str
    model: type[Any]
    plugin: str = ""

    @property
    def path(self) -> str:
        return f"{self.slot}.{self.name}"


Register = Callable[[Any], None]


@attrs.frozen
class Catalog:
    """Everything the installed plugins registered, looked up by the config loader and the CLI."""

    components: tuple[Component, ...] = ()
    blocks: tuple[ConfigBlock, ...] = ()

    def names(self, kind: ComponentKind) -> list[str]:
        return sorted(c.name for c in self.components if c.kind == kind)

    def component(self, kind: ComponentKind, name: str) -> Component | None:
        for component in self.components:
            if component.kind == kind and component.name == name:
                return component
        return None

    def block(self, slot: ConfigSlot, name: str) -> ConfigBlock | None:
        for block in self.blocks:
            if block.slot == slot and block.name == name:
                return block
        return None
