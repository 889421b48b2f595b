"""Registers the ``k3s`` distribution, the model of ``spec.kubernetes.k3s`` and its hooks.

The install order and safety (first server, one server at a time, agent batches, token
handling) are the core's :mod:`sloth_kubernetes.distro.orchestrate`; this plugin says what K3s
needs (:mod:`.installer`).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, Literal

import attrs
from sloth_kubernetes.plugin import Distro, DistroSettings, FlagProblem, doc

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

    @classmethod
    def check_kubernetes(cls, kubernetes: Mapping[str, Any]) -> list[FlagProblem]:
        """Also: the helm-controller must run — the add-on phase delivers CNI, storage and
        add-ons as HelmCharts in the manifests directory, and without it nothing installs them
        (the distribution twin shows them unprocessed)."""
        problems = super().check_kubernetes(kubernetes)
        extra = kubernetes.get("serverConfig")
        if isinstance(extra, Mapping) and extra.get("disable-helm-controller") is True:
            problems.append(
                FlagProblem(
                    ("serverConfig", "disable-helm-controller"),
                    "without K3s's helm-controller the HelmCharts of the add-on phase (CNI, "
                    "storage, add-ons) and K3s's own traefik are never installed",
                    "remove disable-helm-controller",
                    at_key=False,
                )
            )
        return problems


PLUGIN = Distro(
    name="k3s",
    description=f"K3s, lightweight certified Kubernetes (default {DEFAULT_VERSION})",
    features=frozenset({"embedded-etcd", "helm-controller", "airgap", "flannel"}),
    settings=K3sSettings,
    installer=installer,
)
