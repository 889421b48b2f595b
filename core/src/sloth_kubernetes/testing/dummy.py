"""An in-memory ``dummy`` provider for tests: machines are dict entries, nothing is touched.

It is a fake by design (named as one): it exists to drive the engine without machines. It is as
strict as a real provider about its inputs: a request for another provider is not answered,
duplicate names are adopted rather than created twice.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import attrs

from ..context import ClusterContext
from ..hookspecs import hookimpl
from ..model.cluster import doc
from ..model.nodes import NodeRecord, NodeRequest
from ..registry import Component, ConfigBlock


@attrs.frozen
class DummySettings:
    """Settings of ``spec.providers.dummy``."""

    network: str = attrs.field(default="10.99.0.0/16", metadata=doc("Addresses handed out."))


class DummyProvider:
    """Register an instance with ``register_plugin(DummyProvider(), "dummy")``."""

    name = "dummy"

    def __init__(self) -> None:
        self.machines: dict[str, NodeRecord] = {}
        self.created: list[str] = []
        self._ids = itertools.count(1)

    @hookimpl
    def register_providers(self, register: Any) -> None:
        register(
            Component(
                kind="provider", name=self.name, description="In-memory machines for tests (a fake)"
            )
        )

    @hookimpl
    def register_config_models(self, register: Any) -> None:
        register(ConfigBlock("providers", self.name, DummySettings))

    @hookimpl
    def provision_nodes(
        self, context: ClusterContext, provider: str, requests: Sequence[NodeRequest]
    ) -> list[NodeRecord] | None:
        if provider != self.name:
            return None
        records = []
        for request in requests:
            if request.name not in self.machines:  # adopt, never duplicate
                number = next(self._ids)
                self.machines[request.name] = NodeRecord(
                    cluster=context.name,
                    name=request.name,
                    pool=request.pool,
                    provider=self.name,
                    roles=request.roles,
                    cloud_id=f"dummy-{number}",
                    private_address=f"10.99.0.{number}",
                    labels={"sloth/cluster": context.name, **request.labels},
                )
                self.created.append(request.name)
            records.append(self.machines[request.name])
        return records

    @hookimpl
    def list_nodes(self, context: ClusterContext, provider: str) -> list[NodeRecord] | None:
        if provider != self.name:
            return None
        return [n for n in self.machines.values() if n.labels.get("sloth/cluster") == context.name]

    @hookimpl
    def destroy_nodes(
        self, context: ClusterContext, provider: str, nodes: Sequence[NodeRecord]
    ) -> list[str] | None:
        if provider != self.name:
            return None
        _ = context
        return [n.name for n in nodes if self.machines.pop(n.name, None) is not None]
