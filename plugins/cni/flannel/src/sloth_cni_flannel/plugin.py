"""Registers the ``flannel`` CNI and the model of ``spec.kubernetes.cni`` when ``type: flannel``.

K3s embeds flannel; the add-on pipeline (a later issue) sets its backend and points it at the
mesh interface. Flannel here supports K3s only.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs
from sloth_kubernetes.hookspecs import hookimpl
from sloth_kubernetes.model.cluster import doc
from sloth_kubernetes.registry import Component, ConfigBlock


@attrs.frozen
class FlannelSettings:
    """Settings of ``spec.kubernetes.cni`` with ``type: flannel``."""

    backend: Literal["vxlan", "host-gw", "wireguard-native"] = attrs.field(
        default="vxlan", metadata=doc("Flannel backend (`--flannel-backend`).")
    )


@hookimpl
def register_addons(register: Any) -> None:
    register(
        Component(
            kind="cni",
            name="flannel",
            description="Flannel, K3s's built-in CNI, over the mesh interface",
            supports=("k3s",),
        )
    )


@hookimpl
def register_config_models(register: Any) -> None:
    register(ConfigBlock("cni", "flannel", FlannelSettings))
