"""Nodes: what the planner asks a provider for, and the record of a machine that exists."""

from __future__ import annotations

from typing import Any

import attrs


def _roles(value: Any) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class NodePackage:
    """A Debian package a plugin needs on a node (the ``node_packages`` hook; prepare installs it).

    ``unless_module``: needed only where the node's kernel cannot provide that module — e.g.
    ``wireguard-go``, the userspace fallback for the ``wireguard`` module. Prepare reads the
    module's state from the node (only the modules its probe knows: ``baseline.REQUIRED_MODULES``
    and ``OPTIONAL_MODULES``; any other is taken as missing, so the fallback is installed).
    """

    name: str
    unless_module: str = ""


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
    """One machine of a cluster, as providers report it and the state store keeps it.

    ``cloud_id`` is the provider's id (``None`` until created); ``host_key`` the machine's SSH
    public host key, pinned for every connection; ``ssh_port``/``ssh_user`` how the operator
    reaches it; ``phases`` maps a phase name to this node's last status there (e.g.
    ``{"prepare": "done"}``); ``extra`` holds provider- or plugin-specific JSON-able data — never
    secrets (use ``StateStore.put_secret``).
    """

    cluster: str
    name: str
    pool: str = ""
    provider: str = ""
    cloud_id: str | None = None
    roles: tuple[str, ...] = attrs.field(default=(), converter=_roles)
    public_address: str | None = None
    private_address: str | None = None
    mesh_address: str | None = None
    host_key: str | None = None
    labels: dict[str, str] = attrs.field(factory=dict)
    phases: dict[str, str] = attrs.field(factory=dict)
    extra: dict[str, Any] = attrs.field(factory=dict)
    created_at: str = ""
    updated_at: str = ""
    ssh_port: int = 22
    ssh_user: str = "root"

    @property
    def is_server(self) -> bool:
        return "server" in self.roles

    @property
    def address(self) -> str | None:
        """Where the operator connects: the public address, else the private one."""
        return self.public_address or self.private_address


@attrs.frozen
class ResourceChange:
    """One change ``up``'s provision phase would make to a resource the cluster's machines share
    on a provider (the ``plan_shared_changes`` hook; ``plan`` shows it).

    ``kind``: ``add-rule`` or ``remove-rule`` (a cloud firewall's inbound rule); ``resource``:
    what is changed (``firewall sloth-demo``); ``detail``: the rule (``tcp 6443 from
    198.51.100.7/32``); ``blocked``: why ``up`` cannot make the change itself (it then warns,
    naming it), empty when it can.
    """

    provider: str
    kind: str
    resource: str
    detail: str
    blocked: str = ""
