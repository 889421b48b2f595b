"""The on-disk caches that let the CLI start without scanning packages or importing plugins.

Kept apart from :mod:`sloth_kubernetes.plugins` (pluggy, attrs, the registry) so that ``--help``
can consult them cheaply. Each cache maps a signature of ``sys.path`` — which changes whenever a
package is installed or removed — to what was found with it.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

ENTRY_POINT_GROUP = "sloth_kubernetes"


def env_list(name: str) -> list[str] | None:
    value = os.environ.get(name)
    if value is None:
        return None
    return [item.strip() for item in value.split(",") if item.strip()]


def _path_signature() -> str:
    """Changes whenever a package is installed or removed on ``sys.path``."""
    import hashlib

    parts = []
    here = os.getcwd()
    for entry in sys.path:
        if entry in ("", ".", here):  # `python -m` puts the working directory first
            continue
        try:
            parts.append(f"{entry}:{os.stat(entry or '.').st_mtime_ns}")
        except OSError:
            parts.append(f"{entry}:-")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _cache_path(file: str) -> str:
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(cache_home, "sloth-kubernetes", file)


def read_cache(file: str) -> dict[str, Any]:
    try:
        with open(_cache_path(file), encoding="utf-8") as handle:
            cached = json.load(handle)
    except (OSError, ValueError):
        return {}
    return cached if isinstance(cached, dict) else {}


def write_cache(file: str, value: Any) -> None:
    """Store ``value`` under this ``sys.path``'s signature, keeping a few others beside it
    (`python -m`, scripts and tests see different sys.paths)."""
    cached = read_cache(file)
    kept = dict(list(cached.items())[-7:])
    kept[_path_signature()] = value
    path = _cache_path(file)
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        temporary = f"{path}.{os.getpid()}"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(kept, handle)
        os.replace(temporary, path)
    except OSError:
        pass  # a read-only home only costs speed


ENTRY_POINTS_CACHE = "entry-points.json"
COMMANDS_CACHE = "command-plugins.json"


def recorded_command_plugins() -> list[str] | None:
    """The installed plugins that add CLI commands, as recorded the last time every plugin was
    loaded with this ``sys.path`` (None: not known yet). Lets ``--help`` skip loading plugins
    when none adds a command."""
    found = read_cache(COMMANDS_CACHE).get(_path_signature())
    if not isinstance(found, list):
        return None
    only = env_list("SLOTH_LOAD_PLUGINS")
    disabled = set(env_list("SLOTH_DISABLE_PLUGINS") or [])
    return [n for n in found if (only is None or n in only) and n not in disabled]


def discover_entry_points() -> list[tuple[str, str, str, str]]:
    """(name, value, distribution, version) of every plugin entry point.

    Scanning every installed distribution's metadata takes longer than the rest of ``--help``, so
    the result is cached (``$XDG_CACHE_HOME/sloth-kubernetes``) under a signature of ``sys.path``
    that changes whenever a package is installed or removed.
    """
    cached = read_cache(ENTRY_POINTS_CACHE).get(_path_signature())
    if isinstance(cached, list):
        return [tuple(item) for item in cached]
    import importlib.metadata  # slow to import and to scan: only on a cache miss

    found = []
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = entry_point.dist
        found.append((
            entry_point.name,
            entry_point.value,
            dist.name if dist else entry_point.module,
            dist.version if dist else "",
        ))  # fmt: skip
    write_cache(ENTRY_POINTS_CACHE, found)
    return found
