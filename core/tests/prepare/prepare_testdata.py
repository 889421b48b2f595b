"""Shared helpers for the prepare-phase tests."""

from __future__ import annotations

from typing import Any

from sloth_kubernetes.remote.prepare.facts_model import FileState, NodeFacts

#: A supported, fully controllable node (a Debian 12 VM with systemd); cases override fields.
VM_FACTS: dict[str, Any] = {
    "os_id": "debian",
    "os_version": "12",
    "os_pretty": "Debian GNU/Linux 12 (bookworm)",
    "arch": "x86_64",
    "kernel": "6.1.0-18-amd64",
    "modules": {"overlay": "loaded", "br_netfilter": "available", "wireguard": "available"},
    "cgroup": "v2",
    "init": "systemd",
    "var_free_kib": 20_000_000,
    "mem_total_kib": 4_000_000,
    "kernel_sysctls_writable": True,
    "net_sysctls_writable": True,
    "modules_supported": True,
    "capabilities": (1 << 41) - 1,
}


def facts_from(
    overrides: dict[str, Any] | None = None, *, base: dict[str, Any] | None = None
) -> NodeFacts:
    """NodeFacts from JSON-style data: ``files`` values are [mode, owner, group, sha256]."""
    data = {**(VM_FACTS if base is None else base), **(overrides or {})}
    if "files" in data:
        data["files"] = {path: FileState(*value) for path, value in data["files"].items()}
    if "packages" in data:
        data["packages"] = frozenset(data["packages"])
    for key in ("swap_active", "fstab_swap", "os_like"):
        if key in data:
            data[key] = tuple(data[key])
    return NodeFacts(**data)
