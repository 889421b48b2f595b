"""Who does what in the distro phase: the first server, the join order, the agent batches.

Pure functions over the config and the node records, so the order is the same in ``render``,
``plan`` and ``up``, and can be tested without machines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import attrs

from ..errors import SlothError
from ..model import ClusterConfig, NodeRecord

#: ``NodeRecord.extra`` key under which the distro phase records a node's distro facts.
EXTRA_KEY = "distro"
DEFAULT_AGENT_BATCH = 50

_INDEX = re.compile(r"-(\d+)$")


@attrs.frozen
class Topology:
    """Servers in join order (``servers[0]`` initialises the cluster) and the agents."""

    servers: tuple[NodeRecord, ...]
    agents: tuple[NodeRecord, ...]
    #: whether ``servers[0]`` initialises the cluster: False when the cluster exists and the
    #: server that initialised it is not among the nodes (lost): every server then joins
    initialises: bool = True

    @property
    def first(self) -> NodeRecord:
        return self.servers[0]

    def agent_batches(self, size: int) -> list[tuple[NodeRecord, ...]]:
        """Agents in consecutive batches of at most ``size``."""
        size = max(1, size)
        return [self.agents[i : i + size] for i in range(0, len(self.agents), size)]


def _order_key(config: ClusterConfig, node: NodeRecord) -> tuple[int, int, str]:
    pools = [p.name for p in config.spec.node_pools]
    pool = pools.index(node.pool) if node.pool in pools else len(pools)
    match = _INDEX.search(node.name)
    return (pool, int(match.group(1)) if match else 0, node.name)


def spec_order(config: ClusterConfig, nodes: Sequence[NodeRecord]) -> list[NodeRecord]:
    """``nodes`` in the spec's order (pool, then index): the same whichever were reached."""
    return sorted(nodes, key=lambda n: _order_key(config, n))


def recorded_first(nodes: Sequence[NodeRecord]) -> NodeRecord | None:
    """The node the state says initialised the cluster, if it is still among ``nodes``."""
    for node in nodes:
        if node.extra.get(EXTRA_KEY, {}).get("init"):
            return node
    return None


def plan_topology(config: ClusterConfig, nodes: Sequence[NodeRecord]) -> Topology:
    """Servers and agents in a deterministic order.

    The first server is the one recorded in state (``extra.distro.init``) when there is one;
    otherwise the server of the first server pool with the lowest index. It initialises the
    cluster unless servers are recorded as installed and the recorded initialiser is not among
    ``nodes`` (its machine is lost): initialising again would start a second, empty cluster, so
    every server joins then. A node with both roles is a server (it also runs workloads).
    """
    ordered = sorted(nodes, key=lambda n: _order_key(config, n))
    servers = [n for n in ordered if n.is_server]
    agents = tuple(n for n in ordered if not n.is_server)
    if not servers:
        raise SlothError(
            "no server node to install the control plane on",
            hint="give one pool `roles: [server]`; if servers failed earlier phases, "
            "fix them and re-run `up`",
        )
    first = recorded_first(servers)
    if first is not None:
        servers.remove(first)
        servers.insert(0, first)
    existing = any(n.extra.get(EXTRA_KEY, {}).get("role") == "server" for n in servers)
    return Topology(tuple(servers), agents, initialises=first is not None or not existing)
