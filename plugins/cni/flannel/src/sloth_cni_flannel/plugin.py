"""``flannel``: K3s's built-in CNI, carried over the mesh interface.

Nothing is applied to the cluster: K3s runs flannel itself. The K3s distro writes the server
options from this block: ``flannel-backend`` and ``flannel-iface`` = the mesh interface, so pod
traffic between nodes travels inside the mesh. flannel reads the MTU
of that interface and subtracts its own encapsulation (VXLAN: 50 bytes) itself; the pod CIDR is
K3s's ``cluster-cidr`` (``spec.kubernetes.podCidr``).
"""

from __future__ import annotations

from typing import Literal

import attrs
from sloth_kubernetes.plugin import (
    AddonManifests,
    Cni,
    doc,
)

NAME = "flannel"


@attrs.frozen
class FlannelSettings:
    """Settings of ``spec.kubernetes.cni`` with ``type: flannel``."""

    backend: Literal["vxlan", "host-gw", "wireguard-native"] = attrs.field(
        default="vxlan", metadata=doc("Flannel backend (`--flannel-backend`).")
    )


PLUGIN = Cni(
    name=NAME,
    description="Flannel, K3s's built-in CNI, over the mesh interface",
    supports=("k3s",),
    settings=FlannelSettings,
    render=lambda _config, _settings: AddonManifests([]),  # K3s runs flannel: no objects
)
