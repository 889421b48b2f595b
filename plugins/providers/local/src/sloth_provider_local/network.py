"""The network the local hosts share: one Linux bridge owned by us, addresses from one CIDR.

Interface names are limited to 15 characters, so bridge and veth names are short hashes
(``slb``/``slv`` + 8 hex digits) and carry their full identity in the interface *alias*
(``sloth-local:<network>[:<host>]``): that is how :func:`sloth_provider_local.hosts.sweep` finds
them again after a crash, even when the state directory is gone.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re

import attrs
from sloth_kubernetes.plugin import ProviderError

from ._system import PROVIDER, run

ALIAS_PREFIX = "sloth-local:"
NETNS_PREFIX = "sloth-"
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _check_cidr(_instance: object, _attribute: object, value: str) -> None:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError as error:
        raise ProviderError(
            f"invalid local network CIDR {value!r}: {error}",
            hint="use an IPv4 network such as 10.250.1.0/24",
            provider=PROVIDER,
        ) from error
    if net.version != 4 or net.prefixlen > 29:
        raise ProviderError(
            f"local network CIDR {value!r} must be IPv4 with a prefix of /29 or shorter",
            hint="use e.g. 10.250.1.0/24",
            provider=PROVIDER,
        )


def _check_name(_instance: object, _attribute: object, value: str) -> None:
    if not _NAME.match(value):
        raise ProviderError(
            f"invalid local network name {value!r}",
            hint="use 1-32 lowercase letters, digits and dashes",
            provider=PROVIDER,
        )


def check_host_name(name: str) -> None:
    """Host names become hostnames and netns names: DNS labels only."""
    if not _HOST.match(name):
        raise ProviderError(
            f"invalid local host name {name!r}",
            hint="use 1-63 lowercase letters, digits and dashes (a DNS label)",
            provider=PROVIDER,
        )


@attrs.frozen
class LocalNetwork:
    """A bridge plus address range shared by a group of local hosts (typically one cluster)."""

    name: str = attrs.field(validator=_check_name)
    cidr: str = attrs.field(validator=_check_cidr)

    @property
    def bridge(self) -> str:
        """The bridge interface name on the machine (≤ 15 characters)."""
        return "slb" + _short_hash(self.name)

    @property
    def network(self) -> ipaddress.IPv4Network:
        net = ipaddress.ip_network(self.cidr)
        assert isinstance(net, ipaddress.IPv4Network)
        return net

    @property
    def gateway(self) -> str:
        """The bridge's own address: the first usable address of the CIDR."""
        return str(self.network.network_address + 1)

    @property
    def alias(self) -> str:
        return f"{ALIAS_PREFIX}{self.name}"

    def veth(self, host: str) -> str:
        """The machine-side veth name for ``host`` (≤ 15 characters)."""
        return "slv" + _short_hash(f"{self.name}/{host}")

    def mac(self, address: str) -> str:
        """The MAC of the host holding ``address``: derived from the address, so a host
        re-created at the same address is not hidden behind stale ARP entries of its peers."""
        digest = hashlib.sha256(f"{self.name}/{address}".encode()).digest()
        return ":".join(f"{b:02x}" for b in (0x02, *digest[:5]))  # locally administered

    def netns(self, host: str) -> str:
        return f"{NETNS_PREFIX}{self.name}-{host}"

    def host_alias(self, host: str) -> str:
        return f"{ALIAS_PREFIX}{self.name}:{host}"

    def host_addresses(self) -> list[str]:
        """Addresses available to hosts, in allocation order (gateway excluded)."""
        first = self.network.network_address + 2
        last = self.network.broadcast_address - 1
        return [str(ipaddress.IPv4Address(a)) for a in range(int(first), int(last) + 1)]


def _links() -> list[dict[str, object]]:
    out = run(["ip", "-j", "link", "show"], what="listing network interfaces")
    links: list[dict[str, object]] = json.loads(out or "[]")
    return links


def link_exists(name: str) -> bool:
    return any(link.get("ifname") == name for link in _links())


def links_with_alias_prefix(prefix: str) -> list[str]:
    """Names of interfaces whose alias starts with ``prefix`` (our bridges and veths)."""
    return [
        str(link["ifname"])
        for link in _links()
        if str(link.get("ifalias", "")).startswith(prefix) and "ifname" in link
    ]


def _owner(link: str, aliases: dict[str, str]) -> str:
    """Who uses interface ``link``: another local network of this tool, or the machine."""
    alias = aliases.get(link, "")
    if alias.startswith(ALIAS_PREFIX):
        other, _, host = alias[len(ALIAS_PREFIX) :].partition(":")
        where = f"host {host} of " if host else ""
        return f"{where}the local network {other!r} (bridge {link}; another cluster's hosts)"
    return f"{link} (this machine's)"


def check_no_overlap(network: LocalNetwork) -> None:
    """Refuse a CIDR that overlaps a route or address the machine already uses elsewhere —
    another local network's bridge or one of the machine's own — naming who uses it. Read-only:
    ``plan`` runs it before anything is created."""
    ours = network.network
    aliases = {str(link.get("ifname")): str(link.get("ifalias", "")) for link in _links()}
    routes = json.loads(run(["ip", "-j", "-4", "route", "show"], what="listing routes") or "[]")
    for route in routes:
        dst, dev = route.get("dst", ""), route.get("dev", "")
        if dst in ("", "default") or dev == network.bridge:
            continue
        try:
            other = ipaddress.ip_network(dst if "/" in dst else f"{dst}/32", strict=False)
        except ValueError:
            continue
        if other.overlaps(ours):
            raise ProviderError(
                f"local network {network.cidr} ({network.name}) overlaps the route {dst} "
                f"on {_owner(dev, aliases)}",
                hint="choose another cidr for spec.providers.local (e.g. another "
                "10.250.x.0/24), or destroy the cluster that owns it",
                provider=PROVIDER,
            )
    addrs = json.loads(run(["ip", "-j", "-4", "addr", "show"], what="listing addresses") or "[]")
    for link in addrs:
        if link.get("ifname") == network.bridge:
            continue
        for info in link.get("addr_info", []):
            if "local" not in info:
                continue
            local = ipaddress.ip_address(info["local"])
            if local in ours:
                raise ProviderError(
                    f"local network {network.cidr} ({network.name}) contains {local}, "
                    f"already used on {_owner(str(link.get('ifname')), aliases)}",
                    hint="choose another cidr for spec.providers.local",
                    provider=PROVIDER,
                )


def bridge_addresses(network: LocalNetwork) -> list[str] | None:
    """The IPv4 addresses (``a.b.c.d/len``) of the network's bridge; None if it does not
    exist."""
    if not link_exists(network.bridge):
        return None
    shown = run(["ip", "-j", "-4", "addr", "show", "dev", network.bridge], what="reading bridge")
    return [
        f"{info['local']}/{info['prefixlen']}"
        for link in json.loads(shown or "[]")
        for info in link.get("addr_info", [])
        if "local" in info
    ]


def check_bridge_range(network: LocalNetwork, *, attached: bool) -> bool:
    """Whether the network's bridge exists with its gateway address. A bridge left with
    another range (the cidr changed, or an earlier run died) would leave every host unreachable
    until a timeout: with no host ``attached`` it is removed (to be made again), otherwise
    refused naming both ranges."""
    found = bridge_addresses(network)
    if found is None:
        return False
    wanted = f"{network.gateway}/{network.network.prefixlen}"
    if wanted in found:
        return True
    if attached:
        raise ProviderError(
            f"the bridge {network.bridge} of local network {network.name} has "
            f"{', '.join(found) or 'no address'}, not {wanted} (cidr {network.cidr}): its hosts "
            "were made with another cidr",
            hint="put the cidr back, or destroy the cluster and create it again with the new one",
            provider=PROVIDER,
        )
    remove_bridge(network)
    return False


def ensure_bridge(network: LocalNetwork, *, attached: bool = True) -> None:
    """Create the bridge with the gateway address, or accept the existing one (see
    :func:`check_bridge_range`; ``attached``: whether hosts of the network are recorded)."""
    if check_bridge_range(network, attached=attached):
        return
    check_no_overlap(network)
    prefix = network.network.prefixlen
    run(
        ["ip", "-batch", "-"],
        what=f"creating bridge {network.bridge}",
        input_text=(
            f"link add {network.bridge} type bridge\n"
            f'link set {network.bridge} alias "{network.alias}"\n'
            f"addr add {network.gateway}/{prefix} dev {network.bridge}\n"
            f"link set {network.bridge} up\n"
        ),
        ok_errors=("File exists",),  # a concurrent creator won the race: same bridge, fine
    )


def remove_bridge(network: LocalNetwork) -> None:
    run(
        ["ip", "link", "del", network.bridge],
        what=f"removing bridge {network.bridge}",
        ok_errors=("Cannot find device",),
    )
