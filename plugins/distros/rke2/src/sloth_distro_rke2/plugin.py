"""Registers the ``rke2`` distribution, the model of ``spec.kubernetes.rke2`` and its hooks.

The install order and safety (first server, one server at a time, agent batches, token
handling) are the core's :mod:`sloth_kubernetes.distro.orchestrate`; this plugin says what RKE2
needs (:mod:`.installer`).
"""

from __future__ import annotations

from functools import cache
from typing import Literal

import attrs
from sloth_kubernetes.plugin import DistroPlugin, DistroSettings, distro_hooks, doc

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


PLUGIN = DistroPlugin(
    name="rke2",
    description=f"RKE2, security-focused Kubernetes by Rancher (default {DEFAULT_VERSION})",
    features=frozenset({"embedded-etcd", "helm-controller", "airgap", "cis-profile"}),
    settings=Rke2Settings,
    installer=installer,
)
(
    register_distros,
    register_config_models,
    install_distro,
    uninstall_distro,
    render_node_files,
    deliver_manifests,
) = distro_hooks(PLUGIN)
