"""The host firewall: an nftables table ``inet sloth`` derived from the cluster spec.

Pure rendering. The file replaces the whole table in one ``nft -f`` transaction (create, delete,
define: atomic, and other tables — Docker's, kube-proxy's, the distribution's — are left alone).
Only the ``input`` hook is filtered: forwarding belongs to the CNI and kube-proxy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

import attrs

from ...model.cluster import KUBERNETES_API_PORT

TABLE = "sloth"
RULES_FILE = "/etc/nftables.d/sloth.nft"
RECORD_FILE = "/var/lib/sloth/firewall.sha256"
BOOT_UNIT = "/etc/systemd/system/sloth-firewall.service"

#: Kubernetes and CNI ports, accepted only on the mesh interface: (protocol, port or range, why).
MESH_PORTS: tuple[tuple[str, str, str], ...] = (
    ("tcp", "179", "Calico BGP"),
    ("tcp", "2379-2380", "etcd client and peer"),
    ("tcp", "4240", "Cilium health"),
    ("tcp", "4244", "Hubble"),
    ("tcp", "5001", "k3s/RKE2 embedded registry (spegel)"),
    ("tcp", "5473", "Calico Typha"),
    ("tcp", "6443", "Kubernetes API (also public on servers: FirewallSpec.api_allowed_cidrs)"),
    ("tcp", "9100", "node-exporter"),
    ("tcp", "9345", "RKE2 supervisor"),
    ("tcp", "10250", "kubelet"),
    ("tcp", "30000-32767", "NodePort services"),
    ("udp", "4789", "Calico VXLAN"),
    ("udp", "6081", "Cilium Geneve"),
    ("udp", "8472", "Flannel/Cilium VXLAN"),
    ("udp", "51820-51821", "Flannel WireGuard backend"),
    ("udp", "30000-32767", "NodePort services"),
)


@attrs.frozen
class FirewallSpec:
    """What the ruleset is derived from (one per node: the SSH port may differ)."""

    ssh_port: int = 22
    ssh_allowed_cidrs: tuple[str, ...] = ("0.0.0.0/0",)
    mesh_port: int = 51820
    mesh_interface: str = "wg-sloth"
    pod_cidr: str = "10.42.0.0/16"
    #: Who may reach the Kubernetes API on the public interfaces: ``spec.security.apiAllowedCIDRs``
    #: on servers, empty on agents (nothing of theirs serves the API from outside the mesh).
    api_allowed_cidrs: tuple[str, ...] = ()
    api_port: int = KUBERNETES_API_PORT


def _networks(cidrs: Iterable[str], version: int) -> list[str]:
    networks = [ipaddress.ip_network(cidr, strict=False) for cidr in cidrs]
    # Overlapping elements are an error in an nft interval set: merge them first.
    if version == 4:
        v4 = [n for n in networks if isinstance(n, ipaddress.IPv4Network)]
        return [str(n) for n in ipaddress.collapse_addresses(v4)]
    v6 = [n for n in networks if isinstance(n, ipaddress.IPv6Network)]
    return [str(n) for n in ipaddress.collapse_addresses(v6)]


def _tcp_from(cidrs: Iterable[str], port: int) -> list[str]:
    """Accept TCP ``port`` from ``cidrs`` on any interface (one rule per address family)."""
    rules = []
    for version, family, proto in ((4, "ip", "ipv4"), (6, "ip6", "ipv6")):
        networks = _networks(cidrs, version)
        if not networks:
            continue
        if networks[0].endswith("/0"):
            rules.append(f"meta nfproto {proto} tcp dport {port} accept")
        else:
            rules.append(f"{family} saddr {{ {', '.join(networks)} }} tcp dport {port} accept")
    return rules


def render(spec: FirewallSpec) -> str:
    """The ``nft -f`` file for ``spec`` (deterministic: same spec, same bytes)."""
    interface = spec.mesh_interface
    tcp = ", ".join(port for proto, port, _ in MESH_PORTS if proto == "tcp")
    udp = ", ".join(port for proto, port, _ in MESH_PORTS if proto == "udp")
    pod_family = "ip6" if ipaddress.ip_network(spec.pod_cidr, strict=False).version == 6 else "ip"
    rules = [
        "ct state established,related accept",
        "ct state invalid drop",
        'iifname "lo" accept',
        "meta l4proto { icmp, ipv6-icmp } accept",
        "# DHCP replies (leases must renew)",
        "udp sport 67 udp dport 68 accept",
        "ip6 saddr fe80::/10 udp sport 547 udp dport 546 accept",
        "# SSH from spec.security.sshAllowedCIDRs",
        *_tcp_from(spec.ssh_allowed_cidrs, spec.ssh_port),
        *(
            [
                "# the Kubernetes API from spec.security.apiAllowedCIDRs (servers only)",
                *_tcp_from(spec.api_allowed_cidrs, spec.api_port),
            ]
            if spec.api_allowed_cidrs
            else []
        ),
        "# the mesh's own UDP port, from anywhere",
        f"udp dport {spec.mesh_port} accept",
        "# Kubernetes and CNI ports, only on the mesh interface",
        f'iifname "{interface}" tcp dport {{ {tcp} }} accept',
        f'iifname "{interface}" udp dport {{ {udp} }} accept',
        "# pods reaching their node (kubelet, DNS on host network); reverse-path checked",
        f"{pod_family} saddr {spec.pod_cidr} fib saddr . iif oif exists accept",
    ]
    body = "\n".join(f"\t\t{rule}" for rule in rules)
    return (
        "# Written by sloth-kubernetes from the cluster spec; do not edit.\n"
        "# Loaded with `nft -f`: replaces table inet sloth atomically, leaves other tables alone.\n"
        f"table inet {TABLE}\n"
        f"delete table inet {TABLE}\n"
        f"table inet {TABLE} {{\n"
        "\tchain input {\n"
        "\t\ttype filter hook input priority filter; policy drop;\n"
        f"{body}\n"
        "\t}\n"
        "}\n"
    )


def boot_unit() -> str:
    """A oneshot unit loading the table at boot, before the network comes up."""
    return (
        "# Written by sloth-kubernetes; do not edit.\n"
        "[Unit]\n"
        "Description=sloth-kubernetes host firewall (nftables table inet sloth)\n"
        "DefaultDependencies=no\n"
        "Before=network-pre.target\n"
        "Wants=network-pre.target\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        "RemainAfterExit=yes\n"
        f"ExecStart=/usr/sbin/nft -f {RULES_FILE}\n"
        f"ExecStop=/usr/sbin/nft delete table inet {TABLE}\n"
        "\n"
        "[Install]\n"
        "WantedBy=sysinit.target\n"
    )


def firewall_spec(
    *,
    ssh_port: int,
    ssh_allowed_cidrs: Iterable[str],
    mesh: object,
    pod_cidr: str,
    api_allowed_cidrs: Iterable[str] = (),
) -> FirewallSpec:
    """Build the spec from cluster settings; ``mesh`` is the mesh block's settings (any object
    with ``port``/``interface``, e.g. WireGuardMeshSpec) or None for the defaults;
    ``api_allowed_cidrs`` is empty for agents."""
    port = getattr(mesh, "port", None)
    interface = getattr(mesh, "interface", None)
    return FirewallSpec(
        ssh_port=ssh_port,
        ssh_allowed_cidrs=tuple(ssh_allowed_cidrs),
        mesh_port=port if isinstance(port, int) else 51820,
        mesh_interface=interface if isinstance(interface, str) else "wg-sloth",
        pod_cidr=pod_cidr,
        api_allowed_cidrs=tuple(api_allowed_cidrs),
    )


def outside(cidrs: Iterable[str], client_address: str) -> bool:
    """True when ``client_address`` is known and in none of ``cidrs`` (unknown: False)."""
    if not client_address:
        return False
    try:
        address = ipaddress.ip_address(client_address)
    except ValueError:
        return False
    return not any(address in ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def lockout_risk(spec: FirewallSpec, client_address: str) -> bool:
    """True when the operator's current SSH source address is outside the allowed CIDRs."""
    return outside(spec.ssh_allowed_cidrs, client_address)
