"""Registers the ``k3s`` distribution, the model of ``spec.kubernetes.k3s`` and its hooks.

The install order and safety (first server, one server at a time, agent batches, token
handling) are the core's :mod:`sloth_kubernetes.distro.orchestrate`; this plugin says what K3s
needs (:mod:`.installer`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, Literal

import attrs
from sloth_kubernetes.distro.settings import DistroSettings
from sloth_kubernetes.hookspecs import hookimpl
from sloth_kubernetes.model.cluster import doc
from sloth_kubernetes.registry import Component, ConfigBlock

from .installer import DEFAULT_VERSION, K3sInstaller

PackagedComponent = Literal["traefik", "servicelb", "local-storage", "metrics-server", "coredns"]


@cache
def installer() -> K3sInstaller:
    return K3sInstaller()


@attrs.frozen
class K3sSettings(DistroSettings):
    """Settings of ``spec.kubernetes.k3s``."""

    data_dir: str = attrs.field(
        default="/var/lib/rancher/k3s", metadata=doc("K3s data directory (`data-dir`).")
    )
    disable: list[PackagedComponent] = attrs.field(
        factory=list, metadata=doc("Packaged components not to deploy (`disable`).")
    )

    @classmethod
    def installer(cls) -> K3sInstaller:
        return installer()


@hookimpl
def register_distros(register: Any) -> None:
    register(
        Component(
            kind="distro",
            name="k3s",
            description=f"K3s, lightweight certified Kubernetes (default {DEFAULT_VERSION})",
            features=frozenset({"embedded-etcd", "helm-controller", "airgap", "flannel"}),
        )
    )


@hookimpl
def register_config_models(register: Any) -> None:
    register(ConfigBlock("kubernetes", "k3s", K3sSettings))


@hookimpl
def install_distro(context: Any, distro: str, nodes: Sequence[Any]) -> list[Any] | None:
    if distro != "k3s":
        return None
    from sloth_kubernetes.distro.orchestrate import install_cluster

    return install_cluster(context, installer(), nodes, K3sSettings())


@hookimpl
def uninstall_distro(context: Any, distro: str, nodes: Sequence[Any]) -> list[str] | None:
    if distro != "k3s":
        return None
    from sloth_kubernetes.distro.orchestrate import uninstall_cluster

    return uninstall_cluster(context, installer(), nodes)


@hookimpl
def render_node_files(context: Any, nodes: Sequence[Any]) -> dict[str, dict[str, str]]:
    if context.config.spec.kubernetes.distribution != "k3s":
        return {}
    from sloth_kubernetes.distro.render import render_node_files as render

    return render(context, installer(), nodes, K3sSettings())


@hookimpl
def deliver_manifests(
    context: Any, distro: str, manifests: Sequence[Any], removed: Sequence[Any]
) -> list[str] | None:
    if distro != "k3s":
        return None
    from sloth_kubernetes.distro.deliver import deliver
    from sloth_kubernetes.distro.orchestrate import settings_of

    settings = settings_of(context, K3sSettings())
    return deliver(context, installer(), settings, manifests, removed)
