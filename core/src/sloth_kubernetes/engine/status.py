"""``status``: what the state says about a cluster, for people and for ``-o json``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import SlothError
from .plan import NODE_PHASES

if TYPE_CHECKING:
    from ..state import ClusterRecord, StateStore


def _distribution_name(record: ClusterRecord | None) -> str:
    spec = record.spec if record is not None and isinstance(record.spec, dict) else {}
    kubernetes = spec.get("spec", {}).get("kubernetes", {})
    return str(kubernetes.get("distribution") or "") if isinstance(kubernetes, dict) else ""


def distribution_state(store: StateStore, name: str) -> dict[str, Any]:
    """Whether the cluster's distribution is installed: the distro phase is done on every
    server (every node when there is no server). ``detail`` says why not, with the last word
    the distro phase had in the journal ("failed — cannot download …")."""
    record = store.get_cluster(name)
    nodes = store.list_nodes(name)
    servers = [n for n in nodes if "server" in n.roles] or nodes
    missing = [n.name for n in servers if n.phases.get("distro") != "done"]
    installed = bool(servers) and not missing
    detail = ""
    if not installed:
        detail = f"the distro phase is not done on {', '.join(missing)}" if servers else "no nodes"
        last = [
            e for e in store.journal_entries(name)
            if e.phase == "distro" and e.node == "" and e.step == "distro"
        ]  # fmt: skip
        if last and last[-1].status in ("failed", "skipped"):
            detail += f"; last distro phase: {last[-1].status} — {last[-1].detail}"
    return {"name": _distribution_name(record), "installed": installed, "detail": detail}


def cluster_status(store: StateStore, name: str) -> dict[str, Any]:
    record = store.get_cluster(name)
    nodes = store.list_nodes(name)
    if record is None and not nodes:
        known = ", ".join(store.cluster_names()) or "none"
        raise SlothError(f"no cluster named {name!r} in the state", hint=f"known clusters: {known}")
    operations = store.list_operations(name, limit=1)
    last = operations[0] if operations else None
    converged = (
        record is not None
        and not record.spec_hash.startswith("pending")
        and all(n.phases.get(p) == "done" for n in nodes for p in NODE_PHASES)
    )
    return {
        "name": name,
        "converged": converged,
        "specHash": record.spec_hash if record else "",
        "distribution": distribution_state(store, name),
        "updated": record.updated_at if record else "",
        "nodes": [
            {
                "name": n.name,
                "pool": n.pool,
                "provider": n.provider,
                "roles": list(n.roles),
                "cloudId": n.cloud_id,
                "publicAddress": n.public_address,
                "privateAddress": n.private_address,
                "meshAddress": n.mesh_address,
                "phases": dict(n.phases),
            }
            for n in nodes
        ],
        "lastOperation": (
            {
                "command": last.command,
                "outcome": last.outcome,
                "started": last.started_at,
                "finished": last.ended_at,
                "user": last.user,
            }
            if last
            else None
        ),
    }
