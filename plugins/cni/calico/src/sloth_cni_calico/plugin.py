"""``calico``: Calico networking and policy, installed by the Tigera operator.

K3s: a HelmChart for the pinned ``tigera-operator`` chart (K3s's flannel and network policy
controller are turned off by the K3s distro, which writes ``flannel-backend: none`` and
``disable-network-policy: true`` for any CNI plugin but flannel). RKE2: a HelmChartConfig for
its bundled ``rke2-calico`` chart. Either way Calico's IP pool is ``spec.kubernetes.podCidr``,
node addresses are detected on the mesh interface, and the pod MTU is mesh MTU - encapsulation
(VXLAN 50, IP-in-IP 20, none 0).
"""

from __future__ import annotations

from typing import Any, Literal

import attrs
from sloth_kubernetes.plugin import (
    AddonManifests,
    ClusterConfig,
    Cni,
    doc,
    helm_chart,
    helm_chart_config,
    node_network,
    privileged_namespace,
)

NAME = "calico"
CHART_REPO = "https://docs.tigera.io/calico/charts"
DEFAULT_VERSION = "v3.28.2"
_OVERHEAD_NAME = {"VXLAN": "vxlan", "IPIP": "ipip", "None": "none"}


@attrs.frozen
class CalicoSettings:
    """Settings of ``spec.kubernetes.cni`` with ``type: calico``."""

    encapsulation: Literal["VXLAN", "IPIP", "None"] = attrs.field(
        default="VXLAN", metadata=doc("Encapsulation of pod traffic between nodes.")
    )
    version: str = attrs.field(
        default=DEFAULT_VERSION, metadata=doc("tigera-operator chart version (K3s; pinned).")
    )
    values: dict[str, Any] = attrs.field(
        factory=dict, metadata=doc("Chart values merged over the plugin's.")
    )


def values(config: ClusterConfig, settings: CalicoSettings) -> dict[str, Any]:
    network = node_network(config)
    mtu = network.pod_mtu(_OVERHEAD_NAME[settings.encapsulation])  # type: ignore[arg-type]
    pool = {
        "cidr": network.pod_cidr,
        "encapsulation": settings.encapsulation,
        "natOutgoing": "Enabled",
        "blockSize": 26,
    }
    return {
        "installation": {
            "calicoNetwork": {
                "mtu": mtu,
                "ipPools": [pool],
                "nodeAddressAutodetectionV4": {"interface": network.interface},
            }
        }
    }


def render(config: ClusterConfig, settings: CalicoSettings | None) -> AddonManifests:
    settings = settings or CalicoSettings()
    base = values(config, settings)
    if config.spec.kubernetes.distribution == "rke2":
        return AddonManifests(
            [helm_chart_config("rke2-calico", values=base, overrides=settings.values)]
        )
    chart = helm_chart(
        "tigera-operator",
        chart="tigera-operator",
        repo=CHART_REPO,
        version=settings.version,
        target_namespace="tigera-operator",
        values=base,
        overrides=settings.values,
        bootstrap=True,
    )
    # the operator runs on the host network (it starts before pods have one); the operator
    # labels calico-system privileged itself
    return AddonManifests([privileged_namespace("tigera-operator"), chart])


PLUGIN = Cni(
    name=NAME,
    description="Calico networking and policy (Tigera operator)",
    supports=("k3s", "rke2", "kubeadm"),
    settings=CalicoSettings,
    render=render,
)
