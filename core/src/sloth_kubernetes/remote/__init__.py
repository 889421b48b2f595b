"""Node access: pyinfra over SSH with pinned host keys (see docs/node-access.md).

Importing this package is cheap; pyinfra and paramiko load when a session connects.
"""

from __future__ import annotations

from .known_hosts import (
    HostKeyMismatchError,
    check_host_key,
    fingerprint,
    scan_host_key,
    write_known_hosts,
)
from .results import ApplyResult, CommandResult, NodeResult
from .session import DEFAULT_PARALLEL, Bastion, RemoteSession

__all__ = [
    "DEFAULT_PARALLEL",
    "ApplyResult",
    "Bastion",
    "CommandResult",
    "HostKeyMismatchError",
    "NodeResult",
    "RemoteSession",
    "check_host_key",
    "fingerprint",
    "scan_host_key",
    "write_known_hosts",
]
