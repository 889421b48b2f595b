"""Registers the ``rke2`` distribution, the model of ``spec.kubernetes.rke2`` and its hooks.

The install order and safety (first server, one server at a time, agent batches, token
handling) are the core's :mod:`sloth_kubernetes.distro.orchestrate`; this plugin says what RKE2
needs (:mod:`.installer`).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, Literal

import attrs
from sloth_kubernetes.plugin import Distro, DistroSettings, FlagProblem, doc

from .installer import BUNDLED_CNIS, DEFAULT_VERSION, Rke2Installer

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

    @classmethod
    def check_kubernetes(cls, kubernetes: Mapping[str, Any]) -> list[FlagProblem]:
        """Also: ``rke2.cni`` must agree with ``spec.kubernetes.cni`` (RKE2 deploys only the
        bundled chart ``cni`` names, so a CNI plugin configuring another chart configures
        nothing), and the cluster must end up with a CNI."""
        problems = super().check_kubernetes(kubernetes)
        own = kubernetes.get("rke2")
        bundled = own.get("cni", "auto") if isinstance(own, Mapping) else "auto"
        block = kubernetes.get("cni")
        plugin = block.get("type") if isinstance(block, Mapping) else None
        if not isinstance(bundled, str) or bundled == "auto":
            return problems
        if isinstance(plugin, str) and bundled != plugin:
            wanted = plugin if plugin in BUNDLED_CNIS else "none"
            problems.append(
                FlagProblem(
                    ("rke2", "cni"),
                    f"rke2.cni {bundled!r} conflicts with the {plugin!r} CNI plugin: RKE2 would "
                    f"deploy {bundled} while the plugin configures "
                    + (f"RKE2's rke2-{plugin} chart" if plugin in BUNDLED_CNIS else "its own"),
                    f"remove rke2.cni (auto follows spec.kubernetes.cni) or set it to {wanted}",
                    at_key=False,
                )
            )
        elif plugin is None and bundled == "none":
            problems.append(
                FlagProblem(
                    ("rke2", "cni"),
                    "rke2.cni none without spec.kubernetes.cni leaves the cluster without a CNI: "
                    "pods get no network",
                    "choose a CNI plugin under spec.kubernetes.cni, or canal, calico or cilium",
                    at_key=False,
                )
            )
        return problems


PLUGIN = Distro(
    name="rke2",
    description=f"RKE2, security-focused Kubernetes by Rancher (default {DEFAULT_VERSION})",
    features=frozenset({"embedded-etcd", "helm-controller", "airgap", "cis-profile"}),
    settings=Rke2Settings,
    installer=installer,
)
