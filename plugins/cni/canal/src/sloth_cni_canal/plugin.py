"""``canal``: Calico policy over flannel networking; RKE2's default CNI.

RKE2 ships canal as its bundled chart ``rke2-canal``; the plugin configures it with a
HelmChartConfig (no chart download): flannel on the mesh interface, Calico's pod interface MTU =
mesh MTU - 50 (flannel's VXLAN). The pod CIDR is RKE2's ``cluster-cidr`` (the distro sets it from
``spec.kubernetes.podCidr``).
"""

from __future__ import annotations

from typing import Any, Literal

import attrs
from sloth_kubernetes.plugin import (
    AddonManifests,
    ClusterConfig,
    Cni,
    doc,
    helm_chart_config,
    node_network,
)

NAME = "canal"


@attrs.frozen
class CanalSettings:
    """Settings of ``spec.kubernetes.cni`` with ``type: canal``."""

    backend: Literal["vxlan", "host-gw"] = attrs.field(
        default="vxlan", metadata=doc("Flannel backend of canal.")
    )
    values: dict[str, Any] = attrs.field(
        factory=dict, metadata=doc("rke2-canal chart values merged over the plugin's.")
    )


def render(config: ClusterConfig, settings: CanalSettings | None) -> AddonManifests:
    settings = settings or CanalSettings()
    network = node_network(config)
    values = {
        "flannel": {"iface": network.interface, "backend": settings.backend},
        "calico": {"vethuMTU": network.pod_mtu("vxlan" if settings.backend == "vxlan" else "none")},
    }
    return AddonManifests(
        [helm_chart_config("rke2-canal", values=values, overrides=settings.values)]
    )


PLUGIN = Cni(
    name=NAME,
    description="Canal (Calico policy + flannel), RKE2's bundled chart",
    supports=("rke2",),
    settings=CanalSettings,
    render=render,
)
