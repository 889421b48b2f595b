"""The kernel's shared neighbour table: raised for a 50-host network, put back after, refused
up front where /proc/sys is read-only. Writes the machine's real limits (root), restores them."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sloth_provider_local import neighbours

ROOT = neighbours.NEIGH_DEFAULT
KEYS = ("gc_thresh1", "gc_thresh2", "gc_thresh3")

needs_root = pytest.mark.skipif(
    sys.platform != "linux" or os.geteuid() != 0, reason="writes /proc/sys (root on Linux)"
)


def limits() -> dict[str, int]:
    return {key: int((ROOT / key).read_text()) for key in KEYS}


@pytest.fixture
def machine_limits() -> Iterator[dict[str, int]]:
    before = limits()
    try:
        yield before
    finally:  # whatever the test did, the machine gets its values back
        for key in sorted(before):
            (ROOT / key).write_text(f"{before[key]}\n")


def test_a_fifty_host_mesh_overflows_the_default_table() -> None:
    entries = neighbours.needed_entries([50])
    assert entries == 50 * 49 + 50
    assert entries > neighbours.KERNEL_DEFAULTS["gc_thresh3"]
    assert neighbours.needed_entries([3, 4]) == 9 + 16  # networks add up: one shared table


@needs_root
def test_limits_are_raised_for_the_hosts_and_put_back_when_the_last_goes(
    machine_limits: dict[str, int], tmp_path: Path
) -> None:
    saved = tmp_path / "neigh.orig.json"
    # 50 hosts, or more if this machine's limit already fits 50
    hosts = max(50, math.isqrt(machine_limits["gc_thresh3"]) + 1)
    entries = neighbours.needed_entries([hosts])

    written = neighbours.ensure_room([hosts], saved=saved)

    assert limits()["gc_thresh3"] == entries + 1024 == written["gc_thresh3"]
    assert limits()["gc_thresh2"] == entries + 512
    assert limits()["gc_thresh1"] == machine_limits["gc_thresh1"]
    assert json.loads(saved.read_text()) == machine_limits
    raised = limits()
    assert neighbours.ensure_room([3], saved=saved) == {}  # never lowered while hosts run
    assert limits() == raised
    assert neighbours.restore_if_idle(saved=saved, busy=lambda: True) == {}
    assert limits() == raised

    assert neighbours.restore_if_idle(saved=saved, busy=lambda: False) == machine_limits

    assert limits() == machine_limits
    assert not saved.exists()


@needs_root
@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare (util-linux)")
def test_a_read_only_proc_sys_refuses_before_any_host_starts(tmp_path: Path) -> None:
    # As in a container: /proc/sys mounted read-only (in a mount namespace of its own).
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from sloth_provider_local import neighbours\n"
        "from sloth_kubernetes.errors import ProviderError\n"
        "try:\n"
        f"    neighbours.ensure_room([60], saved=Path({str(tmp_path / 'saved.json')!r}))\n"
        "except ProviderError as error:\n"
        "    print(error.message); print(error.hint); sys.exit(3)\n"
    )
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         'mount --bind -o ro /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && '
         f'exec {sys.executable} -c "$0"', script],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if limits()["gc_thresh3"] >= neighbours.needed_entries([60]) + 1024:
        pytest.skip("this machine's limit already fits 60 hosts")
    assert result.returncode == 3, result.stdout + result.stderr
    message, hint = result.stdout.splitlines()[:2]
    assert message.startswith("60 local hosts need about 3600 neighbour (ARP) entries")
    assert "net.ipv4.neigh.default.gc_thresh3 = " in message
    assert "Read-only file system" in message
    assert "sysctl -w net.ipv4.neigh.default.gc_thresh2=4112 " in hint
    assert "net.ipv4.neigh.default.gc_thresh3=4624" in hint
