"""The inbound rules a cluster's cloud firewall needs.

SSH and the Kubernetes API from ``security.sshAllowedCIDRs``; the WireGuard mesh port (UDP) from
anywhere, since nodes on other clouds reach it over the internet; everything between nodes on the
private network. Everything else inbound is refused by the cloud before it reaches a node (the
host firewall of the prepare phase is the second layer).
"""

from __future__ import annotations

from typing import Any

from ..model.cluster import ClusterConfig, PluginBlock
from .contract import FirewallRule

DEFAULT_MESH_PORT = 51820
KUBERNETES_API_PORT = 6443


def mesh_port(config: ClusterConfig) -> int:
    block = config.spec.mesh
    settings: Any = block.settings if isinstance(block, PluginBlock) else None
    port = getattr(settings, "port", None)
    return port if isinstance(port, int) else DEFAULT_MESH_PORT


def cluster_rules(config: ClusterConfig, private_cidr: str | None) -> list[FirewallRule]:
    operators = tuple(config.spec.security.ssh_allowed_cidrs)
    rules = [
        FirewallRule("tcp", "22", operators, "SSH from the operators"),
        FirewallRule("tcp", str(KUBERNETES_API_PORT), operators, "Kubernetes API"),
        FirewallRule("udp", str(mesh_port(config)), ("0.0.0.0/0",), "WireGuard mesh"),
    ]
    if private_cidr:
        inside = (private_cidr,)
        rules += [
            FirewallRule("tcp", "1-65535", inside, "between nodes (TCP)"),
            FirewallRule("udp", "1-65535", inside, "between nodes (UDP)"),
            FirewallRule("icmp", "0", inside, "between nodes (ICMP)"),
        ]
    return rules
