"""The system ``ssh`` client, configured exactly like the session: pinned keys, operator key.

Used by ``nodes ssh`` for interactive shells (a terminal needs the real client). Everything goes
through a generated ``ssh_config`` (``-F``) rather than ``-o`` flags, because the jump-host
connection that ``ProxyJump`` starts reads the same file and must be pinned too.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from pathlib import Path

from ..model import NodeRecord
from .known_hosts import write_known_hosts
from .session import Bastion


def write_client_files(
    directory: Path,
    record: NodeRecord,
    *,
    private_key_path: Path,
    bastion: Bastion | None = None,
) -> Path:
    """Write ``known_hosts`` and ``ssh_config`` (0600) for reaching ``record``; return the config.

    The caller has checked that the node has an address and a recorded host key.
    """
    entries = [(record.address or "", record.ssh_port, record.host_key or "")]
    if bastion is not None:
        entries.append((bastion.address, bastion.port, bastion.host_key))
    known_hosts = write_known_hosts(directory / "known_hosts", entries)
    lines = [
        "Host *",
        "    StrictHostKeyChecking yes",
        f"    UserKnownHostsFile {known_hosts}",
        f"    GlobalKnownHostsFile {known_hosts}",  # the machine's own list does not count
        "    UpdateHostKeys no",
        f"    IdentityFile {private_key_path}",
        "    IdentitiesOnly yes",
        "    PasswordAuthentication no",
        "    KbdInteractiveAuthentication no",
        "    LogLevel ERROR",
        # Bounded waits: no connection attempt over 10 s, and a node that stops answering
        # ends the session after a minute instead of hanging the terminal.
        "    ConnectTimeout 10",
        "    ServerAliveInterval 15",
        "    ServerAliveCountMax 4",
    ]
    if bastion is not None:
        jump = f"{bastion.user}@{bastion.address}:{bastion.port}"
        lines[0:0] = [f"Host {record.address}", f"    ProxyJump {jump}", ""]
    config = directory / "ssh_config"
    fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return config


def command_line(command: str | Sequence[str]) -> str:
    """The remote shell's command line for ``command``.

    One string (or a one-word list) is a command line, run as written (``"ls | wc -l"``), as
    ``ssh host 'CMD'`` does. Several words are arguments passed exactly, each quoted for the
    remote shell, as ``kubectl exec`` does: ``["sh", "-c", 'echo "a b"']`` prints ``a b``
    (joined unquoted, ``sh -c`` would get only ``echo``).
    """
    if isinstance(command, str):
        return command
    words = list(command)
    return words[0] if len(words) == 1 else shlex.join(words)


def ssh_argv(
    record: NodeRecord, config: Path, command: Sequence[str] = (), *, interactive: bool = True
) -> list[str]:
    """argv for ``ssh`` to ``record`` with the given config; ``command`` empty = login shell."""
    argv = ["ssh", "-F", str(config), "-p", str(record.ssh_port)]
    argv += ["-o", "BatchMode=no" if interactive else "BatchMode=yes"]
    if interactive and not command:
        argv.append("-t")
    argv.append(f"{record.ssh_user}@{record.address}")
    if command:
        argv += ["--", command_line(command)]  # ssh would join the words unquoted
    return argv
