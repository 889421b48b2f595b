"""``status``: what the state says about a cluster, for people and for ``-o json``."""

from __future__ import annotations

from typing import Any

from ..errors import SlothError
from .plan import NODE_PHASES


def cluster_status(store: Any, name: str) -> dict[str, Any]:
    record = store.get_cluster(name)
    nodes = store.list_nodes(name)
    if record is None and not nodes:
        known = ", ".join(store.cluster_names()) or "none"
        raise SlothError(f"no cluster named {name!r} in the state", hint=f"known clusters: {known}")
    operations = store.list_operations(name, limit=1)
    last = operations[0] if operations else None
    converged = (
        bool(record)
        and not record.spec_hash.startswith("pending")
        and all(n.phases.get(p) == "done" for n in nodes for p in NODE_PHASES)
    )
    return {
        "name": name,
        "converged": converged,
        "specHash": record.spec_hash if record else "",
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
