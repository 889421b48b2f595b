"""The ``spec.mesh`` block for ``type: wireguard``: an attrs model with strict validation.

Attribute names are snake_case; the key a user writes in YAML is camelCase and lives in each
field's ``metadata["key"]`` (the core's config loader renames keys with it). Validators raise
``ValueError`` with a message that names the key; the loader turns them into located config errors.
:meth:`WireGuardMeshSpec.from_mapping` is a small stand-alone loader for the same keys, used by the
tests and the benchmark.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Mapping
from typing import Any, Literal

import attrs

Topology = Literal["full", "location"]
EndpointPreference = Literal["public", "private", "auto"]

TOPOLOGIES: tuple[str, ...] = ("full", "location")
ENDPOINT_PREFERENCES: tuple[str, ...] = ("public", "private", "auto")

#: Address ranges a mesh may use: RFC 1918 and the RFC 6598 shared (carrier-grade NAT) range.
PRIVATE_RANGES = tuple(
    ipaddress.IPv4Network(cidr)
    for cidr in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)

# Linux allows almost any byte in an interface name; we accept the conservative subset that is
# also safe to put into a shell command line unquoted. IFNAMSIZ is 16 including the NUL byte.
_INTERFACE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$")
_POOL_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def _private_network(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    key = attribute.metadata.get("key", attribute.name)
    if not isinstance(value, str):
        raise ValueError(
            f"{key} must be an IPv4 network in CIDR form such as 10.100.0.0/16, got {value!r}"
        )
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except ipaddress.AddressValueError:
        raise ValueError(f"{key} {value!r} is not an IPv4 network such as 10.100.0.0/16") from None
    except ValueError as error:
        if "host bits set" in str(error):
            suggestion = ipaddress.IPv4Network(value, strict=False)
            raise ValueError(
                f"{key} {value!r} has host bits set; did you mean {suggestion}?"
            ) from None
        raise ValueError(f"{key} {value!r} is not an IPv4 network such as 10.100.0.0/16") from None
    if not any(network.subnet_of(allowed) for allowed in PRIVATE_RANGES):
        ranges = ", ".join(str(allowed) for allowed in PRIVATE_RANGES)
        raise ValueError(f"{key} {value} is not a private range; use a network inside {ranges}")
    if network.prefixlen > 29:
        raise ValueError(f"{key} {value} is too small for a mesh; use a prefix of /29 or shorter")


def _int_between(low: int, high: int) -> Any:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        key = attribute.metadata.get("key", attribute.name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{key} must be a whole number, got {value!r}")
        if not low <= value <= high:
            raise ValueError(f"{key} must be between {low} and {high}, got {value}")

    return check


def _interface_name(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not _INTERFACE_NAME.match(value):
        raise ValueError(
            f"interface must be a Linux interface name of 1-15 characters from "
            f"letters, digits, '_', '.', '-' (not starting with '.' or '-'), got {value!r}"
        )


def _one_of(choices: tuple[str, ...]) -> Any:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        key = attribute.metadata.get("key", attribute.name)
        if value not in choices:
            raise ValueError(f"{key} must be one of {', '.join(choices)}, got {value!r}")

    return check


def _endpoint_preferences(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, Mapping):
        raise ValueError(
            f"endpointPreference must map node pool names to public, private or auto, got {value!r}"
        )
    for pool, preference in value.items():
        if not isinstance(pool, str) or not _POOL_NAME.match(pool):
            raise ValueError(f"endpointPreference: {pool!r} is not a node pool name")
        if preference not in ENDPOINT_PREFERENCES:
            raise ValueError(
                f"endpointPreference.{pool} must be one of {', '.join(ENDPOINT_PREFERENCES)}, "
                f"got {preference!r}"
            )


def _frozen_dict(value: Any) -> Any:
    # Keep non-mappings as they are so the validator can report them.
    return dict(value) if isinstance(value, Mapping) else value


@attrs.frozen
class WireGuardMeshSpec:
    """``spec.mesh`` for ``type: wireguard``. Every field has a default; see the README."""

    type: str = attrs.field(default="wireguard", validator=_one_of(("wireguard",)))
    cidr: str = attrs.field(
        default="10.100.0.0/16",
        validator=_private_network,
        metadata={
            "key": "cidr",
            "doc": "Node mesh addresses: one /32 per node, allocated in the state store.",
        },
    )
    client_cidr: str = attrs.field(
        default="10.101.0.0/24",
        validator=_private_network,
        metadata={
            "key": "clientCidr",
            "doc": "Operator devices (vpn join); must not overlap cidr.",
        },
    )
    port: int = attrs.field(
        default=51820,
        validator=_int_between(1, 65535),
        metadata={"key": "port", "doc": "UDP listen port on every node."},
    )
    mtu: int = attrs.field(
        default=1420,
        validator=_int_between(1280, 9000),
        metadata={"key": "mtu", "doc": "Interface MTU, 1280-9000."},
    )
    persistent_keepalive: int = attrs.field(
        default=25,
        validator=_int_between(0, 65535),
        metadata={
            "key": "persistentKeepalive",
            "doc": "Seconds, on one end of each pair; 0 = off.",
        },
    )
    interface: str = attrs.field(
        default="wg-sloth",
        validator=_interface_name,
        metadata={
            "key": "interface",
            "doc": "Interface name; also names the node's files, script and units.",
        },
    )
    topology: str = attrs.field(
        default="full",
        validator=_one_of(TOPOLOGIES),
        metadata={
            "key": "topology",
            "doc": "full: every node peers with every other; "
            "location: only gateways peer across locations.",
        },
    )
    #: node pool name → "public" | "private" | "auto"; pools not listed use "auto".
    endpoint_preference: dict[str, str] = attrs.field(
        factory=dict,
        converter=_frozen_dict,
        validator=_endpoint_preferences,
        metadata={
            "key": "endpointPreference",
            "doc": "Node pool -> public, private or auto: "
            "the address peers use to reach its nodes.",
        },
    )
    #: Gateways per location for ``topology: location`` (at least 2, so one may fail).
    gateways_per_location: int = attrs.field(
        default=2,
        validator=_int_between(2, 16),
        metadata={
            "key": "gatewaysPerLocation",
            "doc": "Gateways per location (topology: location), 2-16.",
        },
    )
    #: ``topology: location``: seconds between a node's probes of the gateways it routes
    #: through; a dead gateway's routes move to a live gateway of its location by themselves
    #: (the node-local watcher, see the README). 0 = off (failover only by `mesh check --repair`).
    failover_interval: int = attrs.field(
        default=5,
        validator=_int_between(0, 3600),
        metadata={
            "key": "failoverInterval",
            "doc": "topology: location: seconds between each node's probes of the gateways "
            "it routes through; a dead gateway's routes move to a live gateway of its "
            "location by themselves. 0 = off.",
        },
    )

    def __attrs_post_init__(self) -> None:
        nodes = ipaddress.IPv4Network(self.cidr)
        clients = ipaddress.IPv4Network(self.client_cidr)
        if nodes.overlaps(clients):
            raise ValueError(
                f"cidr {self.cidr} and clientCidr {self.client_cidr} overlap; "
                "node and operator addresses must come from separate ranges"
            )

    @property
    def network(self) -> ipaddress.IPv4Network:
        """The node address range as an ``IPv4Network``."""
        return ipaddress.IPv4Network(self.cidr)

    def preference_for(self, pool: str | None) -> str:
        """Endpoint preference of node pool ``pool`` ("auto" when not configured)."""
        if pool is None:
            return "auto"
        return self.endpoint_preference.get(pool, "auto")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> WireGuardMeshSpec:
        """Build from YAML-style camelCase keys; unknown keys raise ``ValueError`` with a hint."""
        by_key = {
            str(field.metadata.get("key", field.name)): field.name for field in attrs.fields(cls)
        }
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in by_key:
                close = difflib.get_close_matches(str(key), list(by_key), n=1)
                hint = (
                    f"; did you mean {close[0]}?"
                    if close
                    else f"; known keys: {', '.join(sorted(by_key))}"
                )
                raise ValueError(f"unknown key {key!r} in spec.mesh{hint}")
            kwargs[by_key[key]] = value
        return cls(**kwargs)

    def to_mapping(self) -> dict[str, Any]:
        """The camelCase mapping :meth:`from_mapping` accepts (for schema docs and round trips)."""
        return {
            str(field.metadata.get("key", field.name)): getattr(self, field.name)
            for field in attrs.fields(type(self))
        }


#: attribute name → YAML key, for the core's loader (a cattrs rename) and the JSON schema.
FIELD_KEYS: dict[str, str] = {
    field.name: str(field.metadata.get("key", field.name))
    for field in attrs.fields(WireGuardMeshSpec)
}
