"""Library functions behind ``mesh status|check`` and ``vpn join|leave|list`` (the result types
mesh plugins return live in :mod:`sloth_kubernetes.model.mesh`).

The core stays generic: it loads the cluster as last applied (the spec recorded by ``up``), opens
one pinned SSH session to its nodes with the operator key, and dispatches to the mesh plugin the
spec selects. See docs/mesh.md.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from ..errors import SlothError, StateError, UsageError
from ..model.mesh import MeshCheckResult, MeshNodeStatus, VpnJoin, VpnPeer
from ..secrets import Secret

if TYPE_CHECKING:
    from ..context import ClusterContext
    from ..model import ClusterConfig, NodeRecord
    from ..plugins import PluginManager
    from ..state import StateStore


def _manager(manager: PluginManager | None) -> PluginManager:
    from . import plugin_manager

    return manager or plugin_manager()


def _applied_config(store: StateStore, manager: PluginManager, cluster: str) -> ClusterConfig:
    """The cluster's config as last applied by ``up`` (recorded in the state store)."""
    from ..config.loader import load_config_text

    record = store.get_cluster(cluster)
    if record is None or not record.spec:
        known = ", ".join(store.cluster_names()) or "none"
        raise StateError(
            f"no cluster named {cluster!r} in {store.describe()}",
            hint=f"known clusters: {known}",
        )
    return load_config_text(json.dumps(record.spec), manager.hooks.catalog(), f"state:{cluster}")


def mesh_name(config: ClusterConfig) -> str:
    from ..model.cluster import PluginBlock

    block = config.spec.mesh
    return block.name if isinstance(block, PluginBlock) else "wireguard"


@contextmanager
def mesh_context(
    store: StateStore,
    cluster: str,
    *,
    manager: PluginManager | None = None,
    lock: str | None = None,
    parallel: int = 20,
) -> Iterator[tuple[PluginManager, ClusterContext, str, list[NodeRecord]]]:
    """The cluster's applied config, nodes and a connected SSH session in ``context.remote``.

    Nodes that cannot be reached are in ``context.remote.failures``; hooks report them. With
    ``lock`` the cluster's lock is held (mutating commands)."""
    from ..context import ClusterContext
    from ..paths import data_dir
    from .nodes import connected, node_access

    manager = _manager(manager)
    config = _applied_config(store, manager, cluster)
    with node_access(store, cluster) as (nodes, key):
        holder = store.lock(cluster, lock) if lock else None
        try:
            reachable = [n for n in nodes if n.address and n.host_key]
            with connected(reachable, key, parallel) as session:
                context = ClusterContext(
                    config=config, state=store, data_dir=data_dir(), operator=key,
                    remote=session, concurrency=parallel,
                )  # fmt: skip
                yield manager, context, mesh_name(config), nodes
        finally:
            if holder is not None:
                holder.release()


def mesh_status(
    store: StateStore, cluster: str, *, manager: PluginManager | None = None
) -> list[MeshNodeStatus]:
    """Per node: peers, endpoints, last handshakes and bytes, read live from the nodes."""
    with mesh_context(store, cluster, manager=manager) as (
        plugins, context, mesh, nodes,
    ):  # fmt: skip
        return plugins.hooks.mesh_status(context, mesh, nodes)


def mesh_check(
    store: StateStore,
    cluster: str,
    *,
    repair: bool = False,
    manager: PluginManager | None = None,
) -> MeshCheckResult:
    """The NxN reachability matrix over mesh addresses; ``repair`` re-applies the mesh first
    (restarts, nudges, gateway failover) and is recorded in the audit log."""
    lock = "mesh check --repair" if repair else None
    with mesh_context(store, cluster, lock=lock, manager=manager) as (
        plugins, context, mesh, nodes,
    ):  # fmt: skip
        result: MeshCheckResult = plugins.hooks.mesh_check(context, mesh, nodes, repair)
        result = _with_nodes_never_meshed(result, nodes, cluster)
        if repair:
            context.store.audit_append(
                command="mesh check --repair",
                cluster=cluster,
                outcome="succeeded" if result.ok else "failed",
                resources={"down": sorted(result.down), "repaired": list(result.repaired)},
            )
        return result


def _with_nodes_never_meshed(
    result: MeshCheckResult, nodes: Sequence[NodeRecord], cluster: str
) -> MeshCheckResult:
    """Nodes the mesh plugin left out because the mesh never came up on them are down too: a
    cluster whose mesh phase failed or never ran is not "all 0 pairs answer"."""
    down = dict(result.down)
    for node in nodes:
        state = node.phases.get("mesh") or "not run"
        if node.name not in result.nodes and node.name not in down and state != "done":
            down[node.name] = f"the mesh was never configured on it (mesh phase: {state})"
    if not nodes:
        raise StateError(
            f"cluster {cluster!r} has no nodes in the state",
            hint="create them with `up` (the mesh phase comes after provision and prepare)",
        )
    if down == result.down:
        return result
    return attrs.evolve(result, down=down)


def write_private_file(path: Path, content: Secret, *, overwrite: bool = False) -> None:
    """Create ``path`` with mode 0600 from the start (never briefly readable by others)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        descriptor = os.open(path, flags, 0o600)
    except FileExistsError:
        raise UsageError(
            f"{path} exists; not overwriting it", hint="choose another --out or remove the file"
        ) from None
    except OSError as error:
        raise SlothError(f"cannot write {path}: {error.strerror}") from None
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(content.reveal())


def vpn_join(
    store: StateStore,
    cluster: str,
    peer: str,
    *,
    out: Path | None = None,
    manager: PluginManager | None = None,
) -> tuple[VpnJoin, Path]:
    """Add operator device ``peer``; its config (with its private key) goes only to ``out``
    (default ``./<cluster>-<peer>.conf``), created 0600."""
    target = out or Path(f"{cluster}-{peer}.conf")
    if target.exists():
        raise UsageError(
            f"{target} exists; not overwriting it", hint="choose another --out or remove the file"
        )
    with mesh_context(store, cluster, lock="vpn join", manager=manager) as (
        plugins, context, mesh, nodes,
    ):  # fmt: skip
        joined = plugins.hooks.vpn_join(context, mesh, nodes, peer)
        write_private_file(target, joined.config)
        context.store.audit_append(
            command="vpn join",
            cluster=cluster,
            outcome="succeeded",
            resources={"peer": peer, "address": joined.peer.address},
        )
        return joined, target


def vpn_leave(
    store: StateStore, cluster: str, peer: str, *, manager: PluginManager | None = None
) -> VpnPeer:
    """Remove operator device ``peer`` from every node and release its address."""
    with mesh_context(store, cluster, lock="vpn leave", manager=manager) as (
        plugins, context, mesh, nodes,
    ):  # fmt: skip
        gone: VpnPeer = plugins.hooks.vpn_leave(context, mesh, nodes, peer)
        context.store.audit_append(
            command="vpn leave", cluster=cluster, outcome="succeeded", resources={"peer": peer}
        )
        return gone


def vpn_list(
    store: StateStore, cluster: str, *, manager: PluginManager | None = None
) -> list[VpnPeer]:
    """The operator devices that joined the cluster's mesh (from the state store)."""
    from ..context import ClusterContext

    manager = _manager(manager)
    config = _applied_config(store, manager, cluster)
    context = ClusterContext(config=config, state=store)
    return manager.hooks.vpn_list(context, mesh_name(config))
