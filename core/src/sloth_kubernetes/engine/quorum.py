"""Removing servers keeps etcd safe: ``up`` refuses, before anything is touched, a plan that
would leave the control plane below its etcd quorum or with an even number of members, unless
``--force`` says the operator accepts it.

Every server runs an etcd member (K3s/RKE2 embedded etcd, kubeadm's stacked etcd). etcd commits
a write once a majority of its members agree: with M members the quorum is ``M // 2 + 1`` and
the cluster survives ``(M - 1) // 2`` failures (etcd FAQ, "Why an odd number of cluster
members?", etcd.io/docs/v3.5/faq). Hence the two rules, checked against the recorded servers:

* **quorum** — the servers left must be at least the quorum of the servers there are now: a
  majority of today's members survives the change, so the data they agreed on is kept even if a
  removal goes wrong half-way (removing 2 of 3 leaves 1, below the quorum of 2);
* **odd count** — an even number of members tolerates no more failures than one fewer (4
  tolerate 1, like 3) while one more machine can fail: 4 → the spec should say 3 or 5.

Going from 2 servers to 1 is allowed (neither tolerates a failure; every committed write is on
both). Removing every server is refused too (that is ``destroy``). The refusal is a located config
error: it points at the server pool's ``count`` (or at ``spec.nodePools`` when the pool was
removed) in the file that says it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import ConfigError, ConfigIssue

if TYPE_CHECKING:
    from ..model.cluster import ClusterConfig
    from ..model.nodes import NodeRecord
    from .plan import Plan

FORCE_HINT = "re-run with --force to remove them anyway (`up --force`)"


def quorum(members: int) -> int:
    """etcd's quorum: a majority of ``members``."""
    return members // 2 + 1


def server_removal_problem(before: int, removed: int) -> str | None:
    """Why removing ``removed`` of ``before`` servers is unsafe, or None."""
    after = before - removed
    if removed <= 0 or before <= 1 or (before, after) == (2, 1):
        return None  # 2 → 1: both tolerate no failure, and the one left holds every write
    if after <= 0:
        return (
            f"removes all {before} servers: nothing would be left to run the control plane "
            "and its etcd"
        )
    if after < quorum(before):
        return (
            f"removes {removed} of {before} servers at once, leaving {after}: below the etcd "
            f"quorum of {quorum(before)} (a majority of the {before} members must stay to keep "
            "what they agreed on)"
        )
    if after % 2 == 0:
        return (
            f"removes {removed} of {before} servers, leaving {after}: an even number of etcd "
            f"members survives no more failures than {after - 1} ({(after - 2) // 2}), and one "
            "more machine can fail"
        )
    return None


def check_server_removal(
    config: ClusterConfig, recorded: Sequence[NodeRecord], plan: Plan, *, force: bool
) -> str | None:
    """Raise a located :class:`ConfigError` when ``plan`` deletes servers unsafely (see the
    module docstring); with ``force``, return the problem as a warning instead (None if safe)."""
    servers = {node.name: node for node in recorded if node.is_server}
    leaving = [
        servers[action.target]
        for action in plan.actions
        if action.phase == "provision" and action.kind == "delete" and action.target in servers
    ]
    problem = server_removal_problem(len(servers), len(leaving))
    if problem is None:
        return None
    names = ", ".join(sorted(node.name for node in leaving))
    message = f"this change {problem} ({names})"
    if force:
        return message
    safe = _safe_counts(len(servers))
    raise ConfigError(
        [_issue(config, leaving[0].pool, message)],
        hint=f"keep {safe} servers, or {FORCE_HINT}",
    )


def _safe_counts(before: int) -> str:
    counts = [n for n in range(quorum(before), before + 1) if n % 2 == 1]
    return " or ".join(map(str, counts)) or str(before)


def _issue(config: ClusterConfig, pool: str, message: str) -> ConfigIssue:
    """The issue at the pool's ``count`` (``spec.nodePools`` if the pool is gone)."""
    from ..config.located import locate, parse_yaml, render_path

    index = next((i for i, p in enumerate(config.spec.node_pools) if p.name == pool), None)
    path: list[str | int] = ["spec", "nodePools"]
    if index is not None:
        path += [index, "count"]
    for source in reversed(config.sources):  # the last overlay that says it wins
        try:
            with open(source, encoding="utf-8") as handle:
                root, _issues = parse_yaml(handle.read(), source)
        except OSError:
            continue
        position = locate(root, path) if root is not None else None
        if position is not None and position.line:
            return ConfigIssue(
                position.file, position.line, position.column, render_path(path), message
            )
    return ConfigIssue(config.sources[-1] if config.sources else "<config>", 0, 0,
                       render_path(path), message)  # fmt: skip
