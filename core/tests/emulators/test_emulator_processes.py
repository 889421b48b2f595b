"""Emulator processes never outlive their owner: stop() reaps them, a crashed run is swept."""

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
from sloth_kubernetes.testing.emulators.ec2 import Ec2Emulator
from sloth_kubernetes.testing.emulators.fakes.hetzner import HetznerFake
from sloth_kubernetes.testing.emulators.prism import PrismEmulator, PrismUnavailable

pytestmark = pytest.mark.emulator


def process_group_members(pgid: int) -> list[str]:
    listing = subprocess.run(
        ["ps", "-o", "pid=,stat=", "-g", str(pgid)], capture_output=True, text=True, check=False
    ).stdout.split("\n")
    return [line for line in listing if line.strip() and "Z" not in line.split()[-1]]


def test_stop_leaves_no_process_behind() -> None:
    ec2 = Ec2Emulator()
    try:
        prism = PrismEmulator("hetzner", HetznerFake())
    except PrismUnavailable as missing:
        ec2.stop()
        pytest.skip(missing.reason)
    groups = [ec2.process.pid, prism.process.pid]
    assert all(process_group_members(g) for g in groups)
    ec2.stop()
    prism.stop()
    assert [process_group_members(g) for g in groups] == [[], []]
    assert not set(groups) & set(emulator_processes())


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


def test_running_emulators_of_this_process_are_not_swept(ec2_emulator: object) -> None:
    sweep_stale_processes()
    time.sleep(0.1)
    assert ec2_emulator.requests.total == 0  # type: ignore[attr-defined]
