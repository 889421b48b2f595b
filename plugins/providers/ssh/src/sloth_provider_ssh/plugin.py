"""The ``ssh`` provider component (machines you already have) and its config models."""

from __future__ import annotations

from collections.abc import Sequence

from sloth_kubernetes.plugin import ClusterContext, NodeRecord, NodeRequest, Provider

from .settings import PROVIDER, SshPoolOptions, SshSettings


class SshProvider(Provider):
    """Adopts the hosts the spec names (or an inventory lists); never creates or deletes one."""

    def provision(
        self, context: ClusterContext, requests: Sequence[NodeRequest]
    ) -> list[NodeRecord]:
        from .provider import provision

        return provision(context, requests)

    def list_nodes(self, context: ClusterContext) -> list[NodeRecord]:
        from .provider import list_reachable

        return list_reachable(context)

    def destroy(self, context: ClusterContext, nodes: Sequence[NodeRecord]) -> list[str]:
        from .provider import destroy

        return destroy(context, nodes)


PLUGIN = SshProvider(
    PROVIDER,
    "Machines you already have, reached over SSH (hosts, Terraform, Ansible)",
    settings=SshSettings,
    pool_options=SshPoolOptions,
    features=frozenset({"ssh", "existing-machines", "bastion", "inventory-import"}),
)
