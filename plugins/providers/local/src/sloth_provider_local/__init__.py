"""sloth-kubernetes provider ``local``: lightweight Linux hosts in network namespaces.

The host machinery is imported on first use so that loading the plugin (for ``--help``) is cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "LocalHost",
    "LocalNetwork",
    "create_hosts",
    "destroy_hosts",
    "known_hosts_lines",
    "list_hosts",
    "sweep",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import hosts

        return getattr(hosts, name)
    raise AttributeError(name)
