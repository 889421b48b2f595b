"""Hook implementations for a cloud plugin, from its :class:`ProviderSpec`.

A plugin module does::

    PROVIDER = CloudProvider(ProviderSpec(name="hetzner", ...))
    (register_providers, register_config_models, provision_nodes, list_nodes,
     destroy_nodes) = plugin_hooks(PROVIDER)
    describe_nodes = describe_hook(PROVIDER)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..hookspecs import hookimpl
from ..registry import Component, ConfigBlock

if TYPE_CHECKING:
    from ..context import ClusterContext
    from ..model.nodes import NodeRecord, NodeRequest
    from .provider import CloudProvider


def plugin_hooks(provider: CloudProvider) -> tuple[Callable[..., Any], ...]:
    """``register_providers, register_config_models, provision_nodes, list_nodes,
    destroy_nodes`` answering for ``provider.name`` only."""
    name = provider.name

    @hookimpl
    def register_providers(register: Any) -> None:
        register(
            Component(
                kind="provider",
                name=name,
                description=provider.spec.description,
                features=provider.spec.features,
            )
        )

    @hookimpl
    def register_config_models(register: Any) -> None:
        register(ConfigBlock("providers", name, provider.spec.settings))

    @hookimpl
    def provision_nodes(
        context: ClusterContext, provider: str, requests: Sequence[NodeRequest]
    ) -> list[NodeRecord] | None:
        return cloud.provision(context, requests) if provider == name else None

    @hookimpl
    def list_nodes(context: ClusterContext, provider: str) -> list[NodeRecord] | None:
        return cloud.list_nodes(context) if provider == name else None

    @hookimpl
    def destroy_nodes(
        context: ClusterContext, provider: str, nodes: Sequence[NodeRecord]
    ) -> list[str] | None:
        return cloud.destroy(context, nodes) if provider == name else None

    cloud = provider
    return (
        register_providers,
        register_config_models,
        provision_nodes,
        list_nodes,
        destroy_nodes,
    )


def describe_hook(provider: CloudProvider) -> Callable[..., Any]:
    """``describe_nodes`` for ``provider.name``: the size each node gets and why (``plan``)."""
    name = provider.name

    @hookimpl
    def describe_nodes(
        context: ClusterContext, provider: str, requests: Sequence[NodeRequest]
    ) -> Mapping[str, str] | None:
        return cloud.describe_sizes(context, requests) if provider == name else None

    cloud = provider
    return describe_nodes
