"""sloth-kubernetes provider ``local``: lightweight Linux hosts in network namespaces."""

from __future__ import annotations

from .hosts import (
    LocalHost,
    LocalNetwork,
    create_hosts,
    destroy_hosts,
    known_hosts_lines,
    list_hosts,
    sweep,
)

__all__ = [
    "LocalHost",
    "LocalNetwork",
    "create_hosts",
    "destroy_hosts",
    "known_hosts_lines",
    "list_hosts",
    "sweep",
]
