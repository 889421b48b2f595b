"""Registers the ``rke2`` distribution, the model of ``spec.kubernetes.rke2`` and its hooks.

The install order and safety (first server, one server at a time, agent batches, token
handling) are the core's :mod:`sloth_kubernetes.distro.orchestrate`; this plugin says what RKE2
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

from .installer import DEFAULT_VERSION, Rke2Installer

PackagedComponent = Literal[
    "rke2-coredns", "rke2-ingress-nginx", "rke2-metrics-server", "rke2-snapshot-controller",
    "rke2-snapshot-controller-crd", "rke2-snapshot-validation-webhook",
]  # fmt: skip
BundledCni = Literal["auto", "canal", "calico", "cilium", "none"]


@cache
def installer() -> Rke2Installer:
    return Rke2Installer()


@attrs.frozen
class Rke2Settings(DistroSettings):
    """Settings of ``spec.kubernetes.rke2``."""

    data_dir: str = attrs.field(
        default="/var/lib/rancher/rke2", metadata=doc("RKE2 data directory (`data-dir`).")
    )
    disable: list[PackagedComponent] = attrs.field(
        factory=list, metadata=doc("Packaged components not to deploy (`disable`).")
    )
    cni: BundledCni = attrs.field(
        default="auto",
        metadata=doc(
            "RKE2's bundled CNI (`cni`); auto: canal, or none when spec.kubernetes.cni "
            "names a CNI plugin."
        ),
    )

    @classmethod
    def installer(cls) -> Rke2Installer:
        return installer()


@hookimpl
def register_distros(register: Any) -> None:
    register(
        Component(
            kind="distro",
            name="rke2",
            description=f"RKE2, security-focused Kubernetes by Rancher (default {DEFAULT_VERSION})",
            features=frozenset({"embedded-etcd", "helm-controller", "airgap", "cis-profile"}),
        )
    )


@hookimpl
def register_config_models(register: Any) -> None:
    register(ConfigBlock("kubernetes", "rke2", Rke2Settings))


@hookimpl
def install_distro(context: Any, distro: str, nodes: Sequence[Any]) -> list[Any] | None:
    if distro != "rke2":
        return None
    from sloth_kubernetes.distro.orchestrate import install_cluster

    return install_cluster(context, installer(), nodes, Rke2Settings())


@hookimpl
def uninstall_distro(context: Any, distro: str, nodes: Sequence[Any]) -> list[str] | None:
    if distro != "rke2":
        return None
    from sloth_kubernetes.distro.orchestrate import uninstall_cluster

    return uninstall_cluster(context, installer(), nodes)


@hookimpl
def render_node_files(context: Any, nodes: Sequence[Any]) -> dict[str, dict[str, str]]:
    if context.config.spec.kubernetes.distribution != "rke2":
        return {}
    from sloth_kubernetes.distro.render import render_node_files as render

    return render(context, installer(), nodes, Rke2Settings())


@hookimpl
def deliver_manifests(
    context: Any, distro: str, manifests: Sequence[Any], removed: Sequence[Any]
) -> list[str] | None:
    if distro != "rke2":
        return None
    from sloth_kubernetes.distro.deliver import deliver
    from sloth_kubernetes.distro.orchestrate import settings_of

    settings = settings_of(context, Rke2Settings())
    return deliver(context, installer(), settings, manifests, removed)
