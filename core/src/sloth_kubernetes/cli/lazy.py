"""The top-level group imports a command's module only when that command runs.

``--help`` lists every built-in command from :data:`BUILTIN_COMMANDS` (name → module and the
one-line help) without importing any of them; a test checks the table against the commands the
modules really register, so it cannot drift.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

#: Built-in commands: name → (module under ``sloth_kubernetes.cli`` defining ``register(cli)``,
#: the command's one-line help).
BUILTIN_COMMANDS: dict[str, tuple[str, str]] = {
    "version": ("info", "Show the version of sloth-kubernetes and of its plugins."),
    "plugins": (
        "info",
        "List loaded plugins: name, kind, distribution, version and the hooks they implement.",
    ),
    "doctor": (
        "info",
        "Check the local environment: Python, ssh, plugins, credentials, state store.",
    ),
    "config": ("config_cmd", "Write, check and inspect cluster configs."),
    "plan": (
        "plan_cmd",
        "Show what `up` would do, per phase and per node, without changing anything.",
    ),
    "up": (
        "up_cmd",
        "Create the cluster, or bring it back to its spec; resumes an interrupted run.",
    ),
    "destroy": (
        "up_cmd",
        "Remove every machine of cluster NAME, check nothing tagged remains, forget it.",
    ),
    "status": (
        "up_cmd",
        "Nodes, roles, provider, addresses, per-phase state and the last operation.",
    ),
    "nodes": (
        "nodes_cmd",
        "List the nodes of a cluster, open a shell on one, run a command on several.",
    ),
    "state": (
        "state_cmd",
        "The state store: what sloth-kubernetes knows about your clusters (docs/state.md).",
    ),
    "audit": (
        "audit_cmd",
        "The audit log: who did what to which cluster, hash-chained (docs/state.md).",
    ),
    "mesh": (
        "mesh_cmd",
        "Look at the encrypted mesh between a cluster's nodes, and check it end to end.",
    ),
    "vpn": (
        "vpn_cmd",
        "Give operator devices access to the cluster's mesh (each its own key and address).",
    ),
    "kubeconfig": (
        "kubeconfig_cmd",
        "Write the admin kubeconfig of cluster NAME (kept encrypted in the state store).",
    ),
    "render": (
        "render_cmd",
        "Write each node's distro config, systemd units and drop-ins, and the manifests, to DIR.",
    ),
    "artifacts": (
        "artifacts_cmd",
        "Fetch, import and check the release files the distro phase installs (air-gap support).",
    ),
    "addons": ("addons_cmd", "Look at a cluster's CNI, storage and add-ons."),
}


class LazyGroup(click.Group):
    """A group whose built-in commands are imported on first use."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded_modules: set[str] = set()

    def load_module(self, module: str) -> None:
        if module not in self._loaded_modules:
            self._loaded_modules.add(module)
            importlib.import_module(f"{__package__}.{module}").register(self)

    def load_all(self) -> None:
        for module, _ in BUILTIN_COMMANDS.values():
            self.load_module(module)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(BUILTIN_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in BUILTIN_COMMANDS:
            self.load_module(BUILTIN_COMMANDS[cmd_name][0])
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Like click's, but a built-in command not imported yet shows its help from the table."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            command = self.commands.get(name)
            if command is None:
                stand_in = click.Command(name, help=BUILTIN_COMMANDS[name][1])
                rows.append((name, stand_in.get_short_help_str(limit)))
            elif not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)
