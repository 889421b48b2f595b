"""What a CNI needs to know about the node network: the mesh interface, its MTU, the pod CIDR.

MTU arithmetic (docs/addons.md has the same table). Node traffic between nodes travels inside the
WireGuard mesh, so a pod packet is wrapped up to twice:

* WireGuard adds 32 bytes (16 header + 16 authentication tag) inside UDP (8) inside the outer IP
  header (20 for IPv4, 40 for IPv6): **60 bytes over IPv4, 80 over IPv6**. The mesh interface's MTU
  (``spec.mesh.mtu``, default 1420 = 1500 - 80) already accounts for it, for either family.
* The CNI's own encapsulation on top of the mesh interface: VXLAN 50 bytes (inner Ethernet 14 +
  VXLAN 8 + UDP 8 + IPv4 20), Geneve 50 (the same without options), IP-in-IP 20, none for native
  routing. A CNI that also encrypts with its own WireGuard (cilium ``encryption: wireguard``)
  adds another 80.

So the pod MTU is ``mesh MTU - CNI encapsulation - CNI encryption``: 1420 - 50 = 1370 for VXLAN
over the default mesh.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import attrs

from ..model.cluster import PluginBlock

if TYPE_CHECKING:
    from ..model.cluster import ClusterConfig

WIREGUARD_OVERHEAD_IPV4 = 60
WIREGUARD_OVERHEAD_IPV6 = 80
#: The worst case, used for an encryption layer whose outer family is not known.
WIREGUARD_OVERHEAD = WIREGUARD_OVERHEAD_IPV6
Encapsulation = Literal["vxlan", "geneve", "ipip", "none"]
ENCAPSULATION_OVERHEAD: dict[str, int] = {"vxlan": 50, "geneve": 50, "ipip": 20, "none": 0}
DEFAULT_MESH_MTU = 1500 - WIREGUARD_OVERHEAD_IPV6
DEFAULT_MESH_INTERFACE = "wg-sloth"


@attrs.frozen
class NodeNetwork:
    """The node network as the mesh set it up."""

    interface: str = DEFAULT_MESH_INTERFACE
    mtu: int = DEFAULT_MESH_MTU
    pod_cidr: str = "10.42.0.0/16"
    service_cidr: str = "10.43.0.0/16"

    def pod_mtu(self, encapsulation: Encapsulation, *, encrypted: bool = False) -> int:
        """The MTU of pod interfaces for a CNI using ``encapsulation`` over the mesh."""
        overhead = ENCAPSULATION_OVERHEAD[encapsulation]
        if encrypted:
            overhead += WIREGUARD_OVERHEAD
        return self.mtu - overhead


def node_network(config: ClusterConfig) -> NodeNetwork:
    """Read the mesh interface and MTU from ``spec.mesh`` and the CIDRs from ``spec.kubernetes``.

    Any mesh plugin whose settings have ``interface``/``mtu`` attributes is honoured; without a
    mesh block the WireGuard defaults apply.
    """
    mesh = config.spec.mesh
    settings = mesh.settings if isinstance(mesh, PluginBlock) else None
    kubernetes = config.spec.kubernetes
    return NodeNetwork(
        interface=str(getattr(settings, "interface", DEFAULT_MESH_INTERFACE)),
        mtu=int(getattr(settings, "mtu", DEFAULT_MESH_MTU)),
        pod_cidr=kubernetes.pod_cidr,
        service_cidr=kubernetes.service_cidr,
    )
