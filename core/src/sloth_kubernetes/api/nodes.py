"""Library functions behind ``nodes list|ssh|exec``: the cluster's nodes from the state store,
reached with the cluster's operator key and pinned host keys (see docs/node-access.md)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..errors import RemoteError, StateError, UsageError
from ..model import NodeRecord

if TYPE_CHECKING:
    from ..context import OperatorKey
    from ..remote.results import CommandResult
    from ..remote.session import RemoteSession
    from ..state import StateStore

ALL_NODES = "--all"


def cluster_nodes(store: StateStore, cluster: str) -> list[NodeRecord]:
    """The cluster's nodes by name; StateError naming the known clusters if there is none."""
    nodes: list[NodeRecord] = store.list_nodes(cluster)
    if not nodes and store.get_cluster(cluster) is None:
        known = store.cluster_names()
        raise StateError(
            f"no cluster named {cluster!r} in {store.describe()}",
            hint=f"known clusters: {', '.join(known)}"
            if known
            else "no clusters yet; create one with `sloth-kubernetes up -f cluster.yaml`",
        )
    return sorted(nodes, key=lambda n: n.name)


def list_nodes(store: StateStore, cluster: str) -> list[NodeRecord]:
    """The cluster's nodes as recorded in the state store, by name."""
    return cluster_nodes(store, cluster)


def node_summary(node: NodeRecord) -> dict[str, Any]:
    """One node as ``nodes list`` shows it (JSON-able)."""
    return {
        "name": node.name,
        "pool": node.pool,
        "provider": node.provider,
        "roles": list(node.roles),
        "public_address": node.public_address,
        "private_address": node.private_address,
        "mesh_address": node.mesh_address,
        "ssh": f"{node.ssh_user}@{node.address}:{node.ssh_port}" if node.address else None,
        "host_key_pinned": bool(node.host_key),
        "phases": dict(node.phases),
    }


def select_nodes(nodes: Sequence[NodeRecord], names: Sequence[str]) -> list[NodeRecord]:
    """``names`` from ``nodes`` (all of them for ``--all``); unknown names are a usage error."""
    if not names:
        raise UsageError(
            "name the nodes to run on, or pass --all",
            hint=f"nodes: {', '.join(n.name for n in nodes) or '(none)'}",
        )
    if ALL_NODES in names:
        return list(nodes)
    by_name = {n.name: n for n in nodes}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise UsageError(
            f"unknown node(s): {', '.join(unknown)}",
            hint=f"nodes of this cluster: {', '.join(by_name) or '(none)'}",
        )
    return [by_name[n] for n in dict.fromkeys(names)]


@contextmanager
def node_access(
    store: StateStore, cluster: str, *, as_file: bool = False
) -> Iterator[tuple[list[NodeRecord], OperatorKey]]:
    """The cluster's nodes and its operator key (in memory; ``as_file``: also a 0600 file for
    the system ``ssh`` client, removed on exit)."""
    from ..engine.operator import PRIVATE_KEY_SECRET, operator_key

    nodes = cluster_nodes(store, cluster)
    if store.get_secret(cluster, PRIVATE_KEY_SECRET) is None:
        raise StateError(
            f"cluster {cluster!r} has no operator SSH key in the state store",
            hint="the key is created by `up`; nodes of this cluster cannot be reached with it",
        )
    with operator_key(store, cluster, as_file=as_file) as key:
        yield nodes, key


@contextmanager
def connected(
    nodes: Sequence[NodeRecord], key: OperatorKey, parallel: int
) -> Iterator[RemoteSession]:
    """One SSH session to ``nodes`` with the operator ``key`` (pinned host keys), connected;
    nodes that cannot be reached are in its ``failures``."""
    from ..remote import RemoteSession

    with RemoteSession.for_operator(nodes, key, parallel=parallel) as session:
        session.connect()
        yield session


def ssh(
    store: StateStore,
    cluster: str,
    node: str,
    command: Sequence[str] = (),
    *,
    run: Callable[[list[str]], int] | None = None,
) -> int:
    """Open ``ssh`` to one node (interactive when ``command`` is empty); return its exit status.

    The client runs as a child, not via exec, so the temporary key file is removed afterwards.
    """
    from ..remote.ssh_client import ssh_argv, write_client_files

    with node_access(store, cluster, as_file=True) as (nodes, key):
        (record,) = select_nodes(nodes, [node])
        _check_reachable(record)
        config = write_client_files(key.run_dir, record, private_key_path=key.private_key_path)
        argv = ssh_argv(record, config, command, interactive=True)
        if run is not None:
            return run(argv)
        return subprocess.run(argv, check=False).returncode


def _check_reachable(record: NodeRecord) -> None:
    if not record.address:
        raise RemoteError(f"node {record.name} has no address recorded", host=record.name)
    if not record.host_key:
        raise RemoteError(
            f"node {record.name} has no recorded host key; host keys are always verified",
            host=record.name,
            hint="the provider records the key when it creates the machine; for the ssh "
            "provider pin it from a known_hosts file or pass --trust-new-host-keys to `up`",
        )


def exec_command(
    store: StateStore,
    cluster: str,
    command: str | Sequence[str],
    nodes: Sequence[str],
    *,
    parallel: int = 20,
) -> dict[str, CommandResult]:
    """Run ``command`` on the named nodes (or ``--all``) in parallel: ``{node: CommandResult}``.

    ``command``: a command line, or arguments passed exactly (see
    :func:`sloth_kubernetes.remote.ssh_client.command_line`).

    A node that could not be reached has exit status 255 and the reason in ``stderr``.
    """
    from ..remote.ssh_client import command_line

    with node_access(store, cluster) as (records, key):
        chosen = select_nodes(records, nodes)
        with connected(chosen, key, parallel) as session:
            return dict(session.shell(command_line(command)))
