"""Registers ``local-path`` storage and the model of its ``spec.storage[]`` item.

Volumes live on the node that first uses them (no replication): right for single-node data,
development and caches. Installed by the add-on pipeline (a later issue).
"""

from __future__ import annotations

from typing import Any

import attrs
from sloth_kubernetes.hookspecs import hookimpl
from sloth_kubernetes.model.cluster import doc
from sloth_kubernetes.registry import Component, ConfigBlock


@attrs.frozen
class LocalPathSettings:
    """Settings of a ``spec.storage[]`` item with ``type: local-path``."""

    path: str = attrs.field(
        default="/var/lib/rancher/k3s/storage",
        metadata=doc("Directory on each node where volumes are created."),
    )


@hookimpl
def register_addons(register: Any) -> None:
    register(
        Component(
            kind="storage",
            name="local-path",
            description="Node-local volumes (rancher local-path-provisioner)",
            requires=("cni",),
        )
    )


@hookimpl
def register_config_models(register: Any) -> None:
    register(ConfigBlock("storage", "local-path", LocalPathSettings))
