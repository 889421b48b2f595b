"""Emulator processes never outlive their owner: a crashed run's are swept (each provider
plugin's tests check that its own emulator's stop() reaps it)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from sloth_kubernetes.testing.emulators._http import (
    OWNER_VARIABLE,
    emulator_processes,
    sweep_stale_processes,
)

pytestmark = pytest.mark.emulator


def test_processes_of_a_crashed_run_are_swept() -> None:
    dead_owner = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    orphan = subprocess.Popen(
        ["sleep", "60"],
        env={**os.environ, OWNER_VARIABLE: dead_owner},
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 5  # /proc/PID/environ is empty until exec completes
        while orphan.pid not in emulator_processes() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert emulator_processes().get(orphan.pid) == int(dead_owner)
        assert orphan.pid in sweep_stale_processes()
        assert orphan.wait(timeout=5) != 0
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()
