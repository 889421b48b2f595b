"""Admin kubeconfigs: pointed at the API endpoint, named after the cluster, written 0600, merged.

Merging adds (or replaces) only the cluster's own ``clusters``/``users``/``contexts`` entries,
named after the cluster; every other entry of the file is kept as it was.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

from ..errors import SlothError


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe")
    yaml.default_flow_style = False
    return yaml


def load(text: str) -> dict[str, Any]:
    data = _yaml().load(text) or {}
    if not isinstance(data, dict):
        raise SlothError("the kubeconfig is not a mapping")
    return data


def dump(data: dict[str, Any]) -> str:
    out = io.StringIO()
    _yaml().dump(data, out)
    return out.getvalue()


def for_cluster(kubeconfig: str, cluster: str, server_url: str) -> str:
    """The distribution's admin kubeconfig renamed to ``cluster`` and pointed at ``server_url``."""
    data = load(kubeconfig)
    try:
        cluster_entry = dict(data["clusters"][0]["cluster"])
        user_entry = dict(data["users"][0]["user"])
    except (KeyError, IndexError, TypeError):
        raise SlothError(
            "the kubeconfig fetched from the first server has no cluster or user",
            hint="check the server's log; re-run `up` to fetch it again",
        ) from None
    cluster_entry["server"] = server_url
    return dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": cluster, "cluster": cluster_entry}],
            "users": [{"name": cluster, "user": user_entry}],
            "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": cluster}}],
            "current-context": cluster,
        }
    )


def merge(existing: str, ours: str, cluster: str) -> str:
    """``existing`` with the cluster's entries added or replaced; other entries untouched."""
    base: dict[str, Any] = (
        load(existing) if existing.strip() else {"apiVersion": "v1", "kind": "Config"}
    )
    new = load(ours)
    for section in ("clusters", "users", "contexts"):
        entries: list[Any] = [e for e in base.get(section) or [] if e.get("name") != cluster]
        entries += [e for e in new.get(section) or [] if e.get("name") == cluster]
        base[section] = entries
    if not base.get("current-context"):
        base["current-context"] = cluster
    return dump(base)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 (atomically; an existing file is replaced)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
