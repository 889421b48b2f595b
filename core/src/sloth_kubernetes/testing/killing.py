"""Kill tests' harness: the real CLI ``up`` as a subprocess, SIGKILLed at chosen points.

Used by the kill matrix (``tests/reliability/test_kill_matrix.py``) and by provider plugins'
kill tests (a cloud plugin's, against its emulator).

A kill point is a phase and a delay: the harness reads ``up``'s progress lines (stderr, one per
event: ``  1.2s [node] mesh: started — …``) and, once the phase's first ``started`` line shows,
waits the delay (drawn from a seeded random generator: a failure names its seed and point, so it
can be run again) and sends SIGKILL to the ``up`` process alone — what ``kill -9 PID`` does. What
the process was doing is taken from the last progress line it printed.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
from ruamel.yaml import YAML

LINE = re.compile(r"^\s*[\d.]+s \[(?P<who>[^\]]+)\] (?P<phase>\w+): (?P<status>\w+)")


@attrs.frozen
class KillPoint:
    """SIGKILL ``delay`` seconds after ``phase`` first shows ``started``."""

    phase: str
    delay: float

    def __str__(self) -> str:
        return f"{self.phase}+{self.delay:.2f}s"


@attrs.define
class Outcome:
    """One ``up`` process: its exit, output, and where a kill landed (``killed_in``: the phase of
    its last progress line, or ``None`` when it ended by itself before the kill)."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    killed_in: str | None = None

    @property
    def data(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.stdout)
        return parsed


@attrs.define
class CliRunner:
    """Runs ``sloth-kubernetes`` in a subprocess with its own data directory and state URL."""

    data_dir: Path
    state: str
    env: dict[str, str] = attrs.field(factory=dict)

    def environment(self) -> dict[str, str]:
        # the state URL may hold a password: the environment, never a process's arguments
        return {
            **os.environ, "SLOTH_DATA_DIR": str(self.data_dir), "SLOTH_STATE": self.state,
            **self.env,
        }  # fmt: skip

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "sloth_kubernetes.cli", *args]

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args), capture_output=True, text=True, env=self.environment(),
            timeout=timeout, check=False,
        )  # fmt: skip

    def up(
        self,
        config: Path,
        *extra: str,
        kill: KillPoint | None = None,
        on_phase: tuple[str, Any] | None = None,
        on_start: Any = None,
        timeout: float = 600,
    ) -> Outcome:
        """``up -f CONFIG --yes --no-progress -o json``; killed at ``kill`` if given.
        ``on_phase`` = (phase, callback): the callback runs once when the phase starts (e.g. to
        stop the state's server under the run); ``on_start`` gets the process id."""
        started = time.monotonic()
        process = subprocess.Popen(
            self.argv("-o", "json", "up", "-f", str(config), "--yes", "--no-progress", *extra),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.environment(),
        )  # fmt: skip
        if on_start is not None:
            on_start(process.pid)
        lines: list[str] = []
        last_phase: list[str] = []
        armed = threading.Event()
        out: list[str] = []
        reader = threading.Thread(target=lambda: out.append(process.stdout.read()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            match = LINE.match(line)
            if not match:
                continue
            last_phase[:] = [match["phase"]]
            first = match["status"] == "started" and not armed.is_set()
            if kill is not None and first and match["phase"] == kill.phase:
                armed.set()
                threading.Timer(kill.delay, _kill, (process,)).start()
            if on_phase is not None and first and match["phase"] == on_phase[0]:
                armed.set()
                on_phase[1]()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        reader.join(timeout=10)
        process.stdout.close()  # type: ignore[union-attr]
        process.stderr.close()
        code = process.returncode
        killed_in = (last_phase[0] if last_phase else "plan") if code == -signal.SIGKILL else None
        return Outcome(code, "".join(out), "".join(lines), time.monotonic() - started, killed_in)


def _kill(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)


def write_yaml(path: Path, document: dict[str, Any]) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        YAML().dump(document, handle)
    return path


def created_and_adopted(audit: Sequence[Any]) -> tuple[list[str], list[str]]:
    """Every node name the audit log says ``up`` created, and adopted (repeats kept)."""
    created: list[str] = []
    adopted: list[str] = []
    for entry in audit:
        if entry.command == "up":
            created += entry.resources.get("created", [])
            adopted += entry.resources.get("adopted", [])
    return created, adopted
