"""Nodes: what the planner asks a provider for, and what a provider reports back."""

from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen
class NodeRequest:
    """One machine the plan wants from a provider. ``name`` is stable: ``<cluster>-<pool>-<n>``."""

    name: str
    pool: str
    provider: str
    roles: tuple[str, ...]
    index: int
    size: Any = None  # a provider size name or a SizeRequest
    image: str | None = None
    region: str | None = None
    labels: dict[str, str] = attrs.field(factory=dict)
    options: Any = None  # the provider's pool-options model, if it registered one


@attrs.frozen
class NodeRecord:
    """A machine that exists, as recorded in state. Addresses are empty until known."""

    name: str
    pool: str
    provider: str
    roles: tuple[str, ...]
    cloud_id: str = ""
    public_address: str = ""
    private_address: str = ""
    mesh_address: str = ""
    ssh_port: int = 22
    ssh_user: str = "root"
    host_key: str = ""  # the machine's SSH host public key, pinned for every connection
    labels: dict[str, str] = attrs.field(factory=dict)
    extra: dict[str, Any] = attrs.field(factory=dict)

    @property
    def is_server(self) -> bool:
        return "server" in self.roles
