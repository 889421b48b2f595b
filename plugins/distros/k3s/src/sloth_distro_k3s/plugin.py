"""Registers the ``k3s`` distribution and the model of ``spec.kubernetes.k3s``.

The install/join orchestration (``install_distro``) arrives with the distributions issue; until
then `plan` shows what would be installed and `up` stops before the distro phase.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs
from sloth_kubernetes.hookspecs import hookimpl
from sloth_kubernetes.model.cluster import doc
from sloth_kubernetes.registry import Component, ConfigBlock

#: The version installed when ``spec.kubernetes.version`` is not set (a stable K3s release).
DEFAULT_VERSION = "v1.31.4+k3s1"

PackagedComponent = Literal["traefik", "servicelb", "local-storage", "metrics-server", "coredns"]


@attrs.frozen
class K3sSettings:
    """Settings of ``spec.kubernetes.k3s``."""

    data_dir: str = attrs.field(
        default="/var/lib/rancher/k3s", metadata=doc("K3s data directory (`--data-dir`).")
    )
    disable: list[PackagedComponent] = attrs.field(
        factory=list, metadata=doc("Packaged components not to deploy (`--disable`).")
    )


@hookimpl
def register_distros(register: Any) -> None:
    register(
        Component(
            kind="distro",
            name="k3s",
            description=f"K3s, lightweight certified Kubernetes (default {DEFAULT_VERSION})",
            features=frozenset({"embedded-etcd", "helm-controller", "airgap"}),
        )
    )


@hookimpl
def register_config_models(register: Any) -> None:
    register(ConfigBlock("kubernetes", "k3s", K3sSettings))
