"""Directories that must exist only while one command runs, and the sweep of dead runs' ones.

The operator's private key has to be a file while a command runs (pyinfra's SSH connector and the
system ``ssh`` client take a key *file*), and so do a session's known_hosts and ssh_config. Each
lives in a directory made by :func:`run_directory`, which records its owner (pid and process
start time, boot and pid namespace) in ``.owner``; the command removes it when it ends. A run
killed with ``kill -9`` (or a power loss) cannot, so :func:`sweep_dead` — called before each new
run directory is made, and by ``destroy`` — removes every directory whose owner is gone.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

OWNER_FILE = ".owner"

log = logging.getLogger("sloth_kubernetes.runfiles")


def run_directory(parent: Path, prefix: str) -> Path:
    """A new 0700 directory under ``parent`` owned by this process; dead runs' ones are swept
    first."""
    from .state.locking import process_key

    parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    sweep_dead(parent)
    directory = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    pid = os.getpid()
    (directory / OWNER_FILE).write_text(f"{pid} {process_key(pid)}\n", encoding="ascii")
    return directory


def sweep_dead(parent: Path, prefix: str = "") -> list[Path]:
    """Remove the run directories under ``parent`` (names starting with ``prefix``) whose owner
    no longer runs; return them. Directories of live or unknown owners are left alone."""
    removed: list[Path] = []
    try:
        children = sorted(parent.iterdir())
    except OSError:
        return removed
    for child in children:
        if child.name.startswith(prefix) and child.is_dir() and _owner_is_gone(child):
            shutil.rmtree(child, ignore_errors=True)
            log.info("removed %s, left by a run that died", child)
            removed.append(child)
    return removed


def _owner_is_gone(directory: Path) -> bool:
    from .state.locking import machine_scope, process_is_gone

    try:
        pid_text, key = (directory / OWNER_FILE).read_text(encoding="ascii").split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return False  # not made by run_directory (or still being made): not ours to judge
    scope, _, start = key.rpartition(":")
    boot, _, namespace = scope.partition(":")
    my_boot, _, my_namespace = machine_scope().partition(":")
    if boot != my_boot:
        return True  # written before a reboot: no process of that boot runs any more
    if namespace != my_namespace:
        return False  # another container's pid: cannot tell
    return pid != os.getpid() and process_is_gone(pid, start)
