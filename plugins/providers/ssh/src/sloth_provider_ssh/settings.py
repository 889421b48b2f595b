"""The config models: ``spec.providers.ssh`` and ``spec.nodePools[].options`` of ssh pools.

What can be checked from one block alone is checked here, so ``config validate`` reports it with
file:line:column. Checks that need the inventory files or the pools (a pool selecting an unknown
host, a count that does not match) run when the provider resolves its hosts (:mod:`.resolve`).
"""

from __future__ import annotations

import re
from typing import Any

import attrs
from sloth_kubernetes.plugin import InvalidValue, doc, in_range

PROVIDER = "ssh"

_HOST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")
# Addresses and user names end up in ssh's argv: nothing that could read as an option or a
# second argument (no leading '-', no whitespace, no shell or ssh metacharacters).
_ADDRESS = re.compile(r"^[A-Za-z0-9:][A-Za-z0-9._:%-]*$")
_USER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}$")
_LABEL_KEY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9.-]*/)?[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$")


def _host_name(_instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not _HOST_NAME.match(value):
        raise InvalidValue(
            f"{value!r} is not a usable host name",
            hint="use letters, digits, '.', '_' and '-', starting with a letter or digit",
            field=attribute.name,
        )


def _address(_instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not _ADDRESS.match(value):
        raise InvalidValue(
            f"{value!r} is not an IP address or DNS name",
            hint="write the address ssh connects to, e.g. 192.0.2.10 or node1.example.com",
            field=attribute.name,
        )


def _user(_instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not _USER.match(value):
        raise InvalidValue(
            f"{value!r} is not a login name",
            hint="a POSIX user name: letters, digits, '_', '.', '-', not starting with '-'",
            field=attribute.name,
        )


def _path(_instance: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and not value.strip():
        raise InvalidValue("must not be empty", hint="give a file path", field=attribute.name)


def _labels(_instance: Any, attribute: attrs.Attribute[Any], value: dict[str, str]) -> None:
    for key in value:
        if not _LABEL_KEY.match(key) or len(key) > 316:
            raise InvalidValue(
                f"{key!r} is not a valid label key",
                hint="letters, digits, '-', '_', '.', optionally prefixed by a DNS name and '/'",
                field=attribute.name,
            )


_PORT = in_range(1, 65535)


@attrs.frozen
class Bastion:
    """A jump host that is not one of ``hosts`` (``bastion: {address, port, user, key}``)."""

    address: str = attrs.field(validator=_address, metadata=doc("Address of the jump host."))
    port: int = attrs.field(default=22, validator=_PORT, metadata=doc("SSH port."))
    user: str = attrs.field(default="root", validator=_user, metadata=doc("Login user."))
    key: str | None = attrs.field(
        default=None,
        validator=_path,
        metadata=doc("Private key file (default: the key of the host it leads to)."),
    )


@attrs.frozen
class SshHost:
    """One machine you already have."""

    name: str = attrs.field(
        validator=_host_name, metadata=doc("Name of the host in this list (pools select by it).")
    )
    address: str = attrs.field(validator=_address, metadata=doc("IP address or DNS name."))
    port: int = attrs.field(default=22, validator=_PORT, metadata=doc("SSH port."))
    user: str = attrs.field(
        default="root", validator=_user, metadata=doc("Login user (sudo is used when not root).")
    )
    key: str | None = attrs.field(
        default=None,
        validator=_path,
        metadata=doc(
            "Private key file; `~` expanded, relative to the config file's directory "
            "(default: ssh-agent and ssh's default identities)."
        ),
    )
    labels: dict[str, str] = attrs.field(
        factory=dict,
        validator=_labels,
        metadata=doc(
            "Labels pool selectors match (Kubernetes node labels are the pool's `labels`)."
        ),
    )
    bastion: str | Bastion | None = attrs.field(
        default=None,
        metadata=doc("Jump host: the name of another host here, or {address, port, user, key}."),
    )


@attrs.frozen
class Inventory:
    """Hosts imported from a Terraform output file or an Ansible inventory (see the README)."""

    terraform: str | None = attrs.field(
        default=None, validator=_path, metadata=doc("A `terraform output -json` file.")
    )
    ansible: str | None = attrs.field(
        default=None, validator=_path, metadata=doc("An Ansible inventory file (INI or YAML).")
    )
    output: str = attrs.field(
        default="sloth_hosts",
        metadata=doc("The Terraform output holding the hosts (with `terraform`)."),
    )

    def __attrs_post_init__(self) -> None:
        if self.terraform is not None and self.ansible is not None:
            raise InvalidValue(
                "give either `terraform` or `ansible`, not both",
                hint="import the other inventory's hosts into this one, or list them in `hosts`",
                field="ansible",
            )
        if self.terraform is None and self.ansible is None:
            raise InvalidValue(
                "an inventory needs `terraform: FILE` or `ansible: FILE`",
                hint="e.g. `inventory: {terraform: outputs.json}`",
                field="terraform",
            )
        if self.ansible is not None and self.output != "sloth_hosts":
            raise InvalidValue(
                "`output` names a Terraform output; it has no meaning for an Ansible inventory",
                hint="remove `output`",
                field="output",
            )

    @property
    def path(self) -> str:
        return self.terraform or self.ansible or ""


@attrs.frozen
class SshSettings:
    """Settings of ``spec.providers.ssh``: the machines and how their host keys are pinned."""

    hosts: list[SshHost] = attrs.field(
        factory=list, metadata=doc("The machines, in order (pools without options take them).")
    )
    known_hosts: str | None = attrs.field(
        default=None,
        validator=_path,
        metadata=doc(
            "known_hosts file pinning the host keys (default: ~/.ssh/known_hosts if it exists)."
        ),
    )
    inventory: Inventory | None = attrs.field(
        default=None, metadata=doc("Import hosts: {terraform: FILE} or {ansible: FILE}.")
    )
    install_operator_key: bool = attrs.field(
        default=False,
        metadata=doc("Add the cluster's operator key to each user's authorized_keys."),
    )
    connect_timeout: int = attrs.field(
        default=10, validator=in_range(1, 300), metadata=doc("Seconds to wait for SSH to answer.")
    )

    def __attrs_post_init__(self) -> None:
        seen: dict[str, int] = {}
        for index, host in enumerate(self.hosts):
            if host.name in seen:
                raise InvalidValue(
                    f"hosts[{index}]: name {host.name!r} is used twice "
                    f"(first at hosts[{seen[host.name]}])",
                    hint="give each host its own name",
                    field="hosts",
                )
            seen[host.name] = index
        for index, host in enumerate(self.hosts):
            if host.bastion == host.name:
                raise InvalidValue(
                    f"hosts[{index}] ({host.name}) is its own bastion",
                    hint="name another host, or remove `bastion`",
                    field="hosts",
                )
            if isinstance(host.bastion, str) and host.bastion not in seen and not self.inventory:
                raise InvalidValue(
                    f"hosts[{index}] ({host.name}): bastion {host.bastion!r} is not a host "
                    "listed here",
                    hint=f"hosts are: {', '.join(seen)}; or write the bastion as "
                    "{address, port, user, key}",
                    field="hosts",
                )
        if not self.hosts and self.inventory is None:
            raise InvalidValue(
                "no hosts: list them under `hosts` or import them with `inventory`",
                hint="e.g. `hosts: [{name: node1, address: 192.0.2.11}]`",
                field="hosts",
            )


@attrs.frozen
class SshPoolOptions:
    """``spec.nodePools[].options`` of a pool on the ssh provider: which hosts it uses.

    Neither key given: the pool takes the next hosts no other pool selected, in list order.
    """

    # Plain list/dict with empty defaults: the core converter cannot structure `list[str] | None`.
    hosts: list[str] = attrs.field(
        factory=list, metadata=doc("Names of the hosts of this pool, one per node, in order.")
    )
    selector: dict[str, str] = attrs.field(
        factory=dict, metadata=doc("Take the hosts whose labels include all of these.")
    )

    def __attrs_post_init__(self) -> None:
        if self.hosts and self.selector:
            raise InvalidValue("give either `hosts` or `selector`, not both", field="selector")
        if len(set(self.hosts)) != len(self.hosts):
            raise InvalidValue("a host is listed twice", hint="list each once", field="hosts")
