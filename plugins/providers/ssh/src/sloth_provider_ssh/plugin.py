"""Registers the ``ssh`` provider (machines you already have) and its config models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sloth_kubernetes.plugin import (
    ClusterContext,
    Component,
    ConfigBlock,
    NodeRecord,
    NodeRequest,
    hookimpl,
)

from .settings import PROVIDER, SshPoolOptions, SshSettings


@hookimpl
def register_providers(register: Any) -> None:
    register(
        Component(
            kind="provider",
            name=PROVIDER,
            description="Machines you already have, reached over SSH (hosts, Terraform, Ansible)",
            features=frozenset({"ssh", "existing-machines", "bastion", "inventory-import"}),
        )
    )


@hookimpl
def register_config_models(register: Any) -> None:
    register(ConfigBlock("providers", PROVIDER, SshSettings))
    register(ConfigBlock("nodePools", PROVIDER, SshPoolOptions))


@hookimpl
def provision_nodes(
    context: ClusterContext, provider: str, requests: Sequence[NodeRequest]
) -> Sequence[NodeRecord] | None:
    if provider != PROVIDER:
        return None
    from .provider import provision

    return provision(context, requests)


@hookimpl
def list_nodes(context: ClusterContext, provider: str) -> Sequence[NodeRecord] | None:
    if provider != PROVIDER:
        return None
    from .provider import list_reachable

    return list_reachable(context)


@hookimpl
def destroy_nodes(
    context: ClusterContext, provider: str, nodes: Sequence[NodeRecord]
) -> Sequence[str] | None:
    if provider != PROVIDER:
        return None
    from .provider import destroy

    return destroy(context, nodes)
