"""Registers the ``local`` provider and the model of ``spec.providers.local``.

The host machinery (``hosts.create_hosts`` and friends) is complete; ``provision_nodes`` and
``destroy_nodes`` join it to the engine with the hosts issue, once the state store records the
operator key and host keys.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs
from sloth_kubernetes.hookspecs import hookimpl
from sloth_kubernetes.model.cluster import doc
from sloth_kubernetes.model.validators import ipv4_network
from sloth_kubernetes.registry import Component, ConfigBlock


@attrs.frozen
class LocalSettings:
    """Settings of ``spec.providers.local``."""

    mode: Literal["fast", "systemd"] = attrs.field(
        default="fast",
        metadata=doc("fast: private mounts + tiny init; systemd: systemd as PID 1 per node."),
    )
    cidr: str = attrs.field(
        default="10.251.0.0/24",
        validator=ipv4_network(private=True),
        metadata=doc("Bridge network of the nodes; must not overlap a route of this machine."),
    )


@hookimpl
def register_providers(register: Any) -> None:
    register(
        Component(
            kind="provider",
            name="local",
            description="Lightweight Linux hosts in network namespaces on this machine (root)",
            features=frozenset({"ssh-host-key-at-creation", "private-network"}),
        )
    )


@hookimpl
def register_config_models(register: Any) -> None:
    register(ConfigBlock("providers", "local", LocalSettings))
