"""Hook implementations for a CNI, storage or add-on plugin, from what it declares.

A plugin module does::

    PLUGIN = AddonPlugin(Component(kind="storage", name="longhorn", ...), LonghornSettings,
                         render=lambda config, settings: render(settings))
    (register_addons, register_config_models, render_addon, install_addon) = addon_hooks(PLUGIN)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from ..hookspecs import hookimpl
from ..registry import Component, ConfigBlock, ConfigSlot
from .manifests import AddonManifests

SLOTS: dict[str, ConfigSlot] = {"cni": "cni", "storage": "storage", "addon": "addons"}


@attrs.frozen
class AddonPlugin:
    """The component, its settings model, and how to render its objects from (config, settings)."""

    component: Component
    settings: type[Any]
    render: Callable[[Any, Any], AddonManifests]


def addon_hooks(plugin: AddonPlugin) -> tuple[Callable[..., Any], ...]:
    """``register_addons, register_config_models, render_addon, install_addon`` answering for
    ``plugin.component.name`` only; installation is the core pipeline's ``install_manifests``."""
    component = plugin.component
    name = component.name

    @hookimpl
    def register_addons(register: Any) -> None:
        register(component)

    @hookimpl
    def register_config_models(register: Any) -> None:
        register(ConfigBlock(SLOTS[component.kind], name, plugin.settings))

    @hookimpl
    def render_addon(context: Any, addon: str, settings: Any) -> AddonManifests | None:
        return plugin.render(context.config, settings) if addon == name else None

    @hookimpl
    def install_addon(context: Any, addon: str, settings: Any) -> list[str] | None:
        if addon != name:
            return None
        from .pipeline import install_manifests

        rendered = plugin.render(context.config, settings)
        return install_manifests(context, component.kind, name, rendered).keys

    return register_addons, register_config_models, render_addon, install_addon
