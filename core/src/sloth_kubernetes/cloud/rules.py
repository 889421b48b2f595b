"""The inbound rules a cluster's cloud firewall needs.

SSH from ``security.sshAllowedCIDRs``, the Kubernetes API from ``security.apiAllowedCIDRs`` (no
rule when that list is empty: the API stays on the mesh); the WireGuard mesh port (UDP) from
anywhere, since nodes on other clouds reach it over the internet; everything between nodes on the
private network. Everything else inbound is refused by the cloud before it reaches a node (the
host firewall of the prepare phase is the second layer).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from ..model.cluster import KUBERNETES_API_PORT, ClusterConfig, PluginBlock
from .contract import FirewallRule

DEFAULT_MESH_PORT = 51820


def mesh_port(config: ClusterConfig) -> int:
    block = config.spec.mesh
    settings: Any = block.settings if isinstance(block, PluginBlock) else None
    port = getattr(settings, "port", None)
    return port if isinstance(port, int) else DEFAULT_MESH_PORT


def cluster_rules(config: ClusterConfig, private_cidr: str | None) -> list[FirewallRule]:
    security = config.spec.security
    rules = [FirewallRule("tcp", "22", tuple(security.ssh_allowed_cidrs), "SSH from the operators")]
    if security.api_allowed_cidrs:
        # One firewall covers the cluster's machines, agents too; nothing serves the API on an
        # agent, and its host firewall drops the port outside the mesh anyway.
        api = tuple(security.api_allowed_cidrs)
        rules.append(FirewallRule("tcp", str(KUBERNETES_API_PORT), api, "Kubernetes API"))
    rules.append(FirewallRule("udp", str(mesh_port(config)), ("0.0.0.0/0",), "WireGuard mesh"))
    if private_cidr:
        inside = (private_cidr,)
        rules += [
            FirewallRule("tcp", "1-65535", inside, "between nodes (TCP)"),
            FirewallRule("udp", "1-65535", inside, "between nodes (UDP)"),
            FirewallRule("icmp", "0", inside, "between nodes (ICMP)"),
        ]
    return rules


#: One permission of a firewall: (protocol, ports, source). Rules are compared per source, so a
#: changed CIDR list shows as the sources added and removed.
Permission = tuple[str, str, str]


def permissions(rules: Sequence[FirewallRule]) -> set[Permission]:
    # ICMP has no ports; clouds report them as "0", an empty string or nothing.
    return {
        (rule.protocol, "0" if rule.protocol == "icmp" else rule.ports, source)
        for rule in rules
        for source in rule.sources
    }


@attrs.frozen
class FirewallChanges:
    """What converging a firewall on the desired rules adds and removes."""

    added: tuple[Permission, ...]
    removed: tuple[Permission, ...]

    def __bool__(self) -> bool:
        return bool(self.added or self.removed)

    def describe(self) -> str:
        """``+tcp 6443 from 198.51.100.7/32, -tcp 6443 from 0.0.0.0/0``."""
        return ", ".join(
            [f"+{describe_permission(p)}" for p in self.added]
            + [f"-{describe_permission(p)}" for p in self.removed]
        )


def describe_permission(permission: Permission) -> str:
    """``tcp 6443 from 198.51.100.7/32`` (ICMP: ``icmp from 10.0.0.0/8``)."""
    protocol, ports, source = permission
    where = "" if protocol == "icmp" else f" {ports}"
    return f"{protocol}{where} from {source}"


def firewall_changes(
    current: Sequence[FirewallRule], desired: Sequence[FirewallRule]
) -> FirewallChanges:
    have, want = permissions(current), permissions(desired)
    return FirewallChanges(tuple(sorted(want - have)), tuple(sorted(have - want)))
