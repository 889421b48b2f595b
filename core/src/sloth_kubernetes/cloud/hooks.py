"""The hook implementations of a cloud plugin, for its :class:`CloudProvider`.

A plugin module does::

    PROVIDER = CloudProvider(ProviderSpec(name="hetzner", ...))
    HOOKS = CloudHooks(PROVIDER)

and its entry point names that object: ``hetzner = "sloth_provider_hetzner.plugin:HOOKS"``.
Every hook answers for ``PROVIDER.name`` only and returns None for other providers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..hookspecs import hookimpl
from ..registry import Component, ConfigBlock

if TYPE_CHECKING:
    from ..context import ClusterContext
    from ..model.nodes import NodeRecord, NodeRequest
    from .provider import CloudProvider


class CloudHooks:
    """``register_providers``, ``register_config_models``, ``provision_nodes``, ``list_nodes``,
    ``destroy_nodes`` and ``describe_nodes`` (the plan's size column) for one cloud."""

    def __init__(self, provider: CloudProvider) -> None:
        self.provider = provider

    def _mine(self, provider: str) -> bool:
        return provider == self.provider.name

    @hookimpl
    def register_providers(self, register: Any) -> None:
        spec = self.provider.spec
        register(
            Component(
                kind="provider", name=spec.name, description=spec.description,
                features=spec.features,
            )
        )  # fmt: skip

    @hookimpl
    def register_config_models(self, register: Any) -> None:
        register(ConfigBlock("providers", self.provider.name, self.provider.spec.settings))

    @hookimpl
    def provision_nodes(
        self, context: ClusterContext, provider: str, requests: Sequence[NodeRequest]
    ) -> list[NodeRecord] | None:
        return self.provider.provision(context, requests) if self._mine(provider) else None

    @hookimpl
    def list_nodes(self, context: ClusterContext, provider: str) -> list[NodeRecord] | None:
        return self.provider.list_nodes(context) if self._mine(provider) else None

    @hookimpl
    def destroy_nodes(
        self, context: ClusterContext, provider: str, nodes: Sequence[NodeRecord]
    ) -> list[str] | None:
        return self.provider.destroy(context, nodes) if self._mine(provider) else None

    @hookimpl
    def describe_nodes(
        self, context: ClusterContext, provider: str, requests: Sequence[NodeRequest]
    ) -> Mapping[str, str] | None:
        return self.provider.describe_sizes(context, requests) if self._mine(provider) else None
