"""``spec.mesh`` for ``type: tailscale``: how to install Tailscale and which tailnet to join."""

from __future__ import annotations

import re
from typing import Any, Literal

import attrs
from sloth_kubernetes.plugin import Reference, doc

_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TAG = re.compile(r"^tag:[a-z0-9][a-z0-9-]*$")


def _version(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not (isinstance(value, str) and _VERSION.match(value)):
        raise ValueError(f"version must look like 1.76.6, got {value!r}")


def _login_server(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not (isinstance(value, str) and value.startswith("https://")):
        raise ValueError(f"loginServer must be an https:// URL (Headscale), got {value!r}")


def _tags(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    for tag in value:
        if not (isinstance(tag, str) and _TAG.match(tag)):
            raise ValueError(f"tags must look like tag:k8s-node, got {tag!r}")


TAILSCALE_INTERFACE = "tailscale0"
TAILSCALE_MTU = 1280


@attrs.frozen
class TailscaleMeshSpec:
    """``spec.mesh`` for ``type: tailscale`` (see the plugin README)."""

    type: Literal["tailscale"] = attrs.field(default="tailscale", metadata=doc("Always tailscale."))
    auth_key: Reference = attrs.field(
        default=Reference("env", "TS_AUTHKEY"),
        metadata=doc("Pre-auth key (a reference, e.g. ${env:TS_AUTHKEY}); never stored."),
    )
    login_server: str | None = attrs.field(
        default=None,
        validator=_login_server,
        metadata=doc("Control server URL for self-hosted Headscale; default Tailscale's."),
    )
    install: Literal["package", "static"] = attrs.field(
        default="package",
        metadata=doc("package: the official apt repository; static: a pinned tarball."),
    )
    version: str | None = attrs.field(
        default=None,
        validator=_version,
        metadata=doc("Tailscale version; required for install: static."),
    )
    checksum: str | None = attrs.field(
        default=None,
        metadata=doc("sha256 of the static tarball (required for install: static)."),
    )
    tags: list[str] = attrs.field(
        factory=list, validator=_tags, metadata=doc("ACL tags to advertise, e.g. tag:k8s.")
    )
    accept_routes: bool = attrs.field(
        default=False, metadata=doc("Accept subnet routes other nodes advertise.")
    )

    @property
    def interface(self) -> str:
        """The node-to-node interface CNIs must use: tailscaled's TUN device (its default
        ``--tun=tailscale0``, which the plugin does not change)."""
        return TAILSCALE_INTERFACE

    @property
    def mtu(self) -> int:
        """That interface's MTU: tailscale's fixed TUN MTU (tailscale/tailscale
        ``net/tstun/mtu.go`` DefaultTUNMTU = 1280)."""
        return TAILSCALE_MTU

    def __attrs_post_init__(self) -> None:
        if self.install == "static":
            if self.version is None:
                raise ValueError("install: static needs a pinned version (e.g. 1.76.6)")
            if self.checksum is None or not _SHA256.match(self.checksum):
                raise ValueError(
                    "install: static needs checksum: the tarball's sha256 (64 hex digits) "
                    "from https://pkgs.tailscale.com/stable/"
                )
