"""``cilium``: eBPF networking, with optional WireGuard encryption and kube-proxy replacement.

K3s and kubeadm: a HelmChart for the pinned ``cilium`` chart (bootstrap: it runs before pods have
a network; the K3s distro turns flannel, the network policy controller and — with kube-proxy
replacement — kube-proxy off; kubeadm then skips its kube-proxy add-on). RKE2: a
HelmChartConfig for the bundled ``rke2-cilium`` chart.

MTU: Cilium's ``MTU`` value is the *device* MTU, and Cilium subtracts its own tunnel (VXLAN/Geneve
50) and WireGuard (80) overhead from it for pod routes. So it is given the mesh interface's MTU
as is; :func:`pod_mtu` shows what pods end up with. The pod CIDR is Cilium's cluster-pool IPAM
range, ``spec.kubernetes.podCidr``.
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
)

NAME = "cilium"
CHART_REPO = "https://helm.cilium.io/"
DEFAULT_VERSION = "1.16.5"
#: With kube-proxy replacement Cilium must reach the API without a Service: every node runs the
#: distribution's local API load balancer (K3s agents on 6444, RKE2 on 6443). kubeadm's workers
#: have none: there Cilium is pointed at the control-plane endpoint (``apiEndpoint`` or
#: ``kubeadm.registrationAddress``, which the kubeadm distro requires with this setting).
LOCAL_API_PORT = {"k3s": 6444, "rke2": 6443}


@attrs.frozen
class CiliumSettings:
    """Settings of ``spec.kubernetes.cni`` with ``type: cilium``."""

    encryption: Literal["none", "wireguard"] = attrs.field(
        default="none", metadata=doc("Encrypt pod traffic with Cilium's own WireGuard.")
    )
    kube_proxy_replacement: bool = attrs.field(
        default=False, metadata=doc("Replace kube-proxy with Cilium's eBPF service handling.")
    )
    tunnel: Literal["vxlan", "geneve"] = attrs.field(
        default="vxlan", metadata=doc("Tunnel protocol between nodes.")
    )
    version: str = attrs.field(
        default=DEFAULT_VERSION, metadata=doc("cilium chart version (K3s; pinned).")
    )
    values: dict[str, Any] = attrs.field(
        factory=dict, metadata=doc("Chart values merged over the plugin's.")
    )


def pod_mtu(config: ClusterConfig, settings: CiliumSettings) -> int:
    network = node_network(config)
    return network.pod_mtu(settings.tunnel, encrypted=settings.encryption == "wireguard")


def values(config: ClusterConfig, settings: CiliumSettings) -> dict[str, Any]:
    network = node_network(config)
    result: dict[str, Any] = {
        "MTU": network.mtu,
        "routingMode": "tunnel",
        "tunnelProtocol": settings.tunnel,
        "ipam": {
            "mode": "cluster-pool",
            "operator": {"clusterPoolIPv4PodCIDRList": [network.pod_cidr]},
        },
        "encryption": {"enabled": settings.encryption == "wireguard", "type": "wireguard"},
        "kubeProxyReplacement": settings.kube_proxy_replacement,
    }
    if settings.kube_proxy_replacement:
        distro = config.spec.kubernetes.distribution
        result["k8sServiceHost"] = "127.0.0.1"
        result["k8sServicePort"] = LOCAL_API_PORT.get(distro, 6443)
        if distro == "kubeadm":
            block = config.spec.kubernetes.distro
            address = getattr(getattr(block, "settings", None), "registration_address", None)
            endpoint = config.spec.kubernetes.api_endpoint
            named = getattr(endpoint, "address", endpoint)  # a string, or the block's address
            result["k8sServiceHost"] = named or address or ""
    return result


def render(config: ClusterConfig, settings: CiliumSettings | None) -> AddonManifests:
    settings = settings or CiliumSettings()
    base = values(config, settings)
    if config.spec.kubernetes.distribution == "rke2":
        return AddonManifests(
            [helm_chart_config("rke2-cilium", values=base, overrides=settings.values)]
        )
    chart = helm_chart(
        "cilium",
        chart="cilium",
        repo=CHART_REPO,
        version=settings.version,
        target_namespace="kube-system",
        values=base,
        overrides=settings.values,
        bootstrap=True,
        create_namespace=False,
    )
    return AddonManifests([chart])


PLUGIN = Cni(
    name=NAME,
    description="Cilium eBPF networking (WireGuard encryption, kube-proxy replacement)",
    supports=("k3s", "rke2", "kubeadm"),
    settings=CiliumSettings,
    render=render,
)
