"""Hook implementations for a distro plugin, from its name, settings model and installer.

Every distribution gets the same orchestration and safety from the core; a plugin module does::

    (register_distros, register_config_models, install_distro, uninstall_distro,
     render_node_files, deliver_manifests) = distro_hooks(DISTRO, K3sSettings, installer)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from ..hookspecs import hookimpl
from ..registry import Component, ConfigBlock


@attrs.frozen
class DistroPlugin:
    """What a distro plugin declares: its component, settings model and installer factory."""

    name: str
    description: str
    features: frozenset[str]
    settings: type[Any]
    installer: Callable[[], Any]


def distro_hooks(plugin: DistroPlugin) -> tuple[Callable[..., Any], ...]:
    """``register_distros, register_config_models, install_distro, uninstall_distro,
    render_node_files, deliver_manifests`` answering for ``plugin.name`` only."""
    name = plugin.name

    @hookimpl
    def register_distros(register: Any) -> None:
        register(Component(kind="distro", name=name, description=plugin.description,
                           features=plugin.features))  # fmt: skip

    @hookimpl
    def register_config_models(register: Any) -> None:
        register(ConfigBlock("kubernetes", name, plugin.settings))

    @hookimpl
    def install_distro(context: Any, distro: str, nodes: Sequence[Any]) -> list[Any] | None:
        if distro != name:
            return None
        from .orchestrate import install_cluster

        return install_cluster(context, plugin.installer(), nodes, plugin.settings())

    @hookimpl
    def uninstall_distro(context: Any, distro: str, nodes: Sequence[Any]) -> list[str] | None:
        if distro != name:
            return None
        from .orchestrate import uninstall_cluster

        return uninstall_cluster(context, plugin.installer(), nodes)

    @hookimpl
    def render_node_files(context: Any, nodes: Sequence[Any]) -> dict[str, dict[str, str]]:
        if context.config.spec.kubernetes.distribution != name:
            return {}
        from .render import render_node_files as render

        return render(context, plugin.installer(), nodes, plugin.settings())

    @hookimpl
    def deliver_manifests(
        context: Any, distro: str, manifests: Sequence[Any], removed: Sequence[Any]
    ) -> list[str] | None:
        if distro != name:
            return None
        from .deliver import deliver
        from .orchestrate import settings_of

        settings = settings_of(context, plugin.settings())
        return deliver(context, plugin.installer(), settings, manifests, removed)

    return (register_distros, register_config_models, install_distro, uninstall_distro,
            render_node_files, deliver_manifests)  # fmt: skip
