"""The kernel's neighbour-table limits, raised while local hosts need them and put back after.

Every network namespace shares one IPv4 neighbour (ARP) table, whose size is bounded by the
initial namespace's ``net.ipv4.neigh.default.gc_thresh1/2/3`` — 128 / 512 / 1024 entries by
default; above ``gc_thresh3`` the kernel refuses new entries ("neighbour table overflow") and
hosts stop reaching each other (Linux ``Documentation/networking/ip-sysctl.rst``, section
"neigh/default/gc_thresh1..3"; ``net/core/neighbour.c``, ``neigh_alloc``). On one bridge, every
local host talks to every other one (a full mesh's WireGuard endpoints), so ``n`` hosts fill
``n·(n-1)`` entries plus ``n`` on the machine's side of the bridge: 50 hosts need 2,500, and a
50-node mesh used to fail after 141 s at the default limit.

Before hosts start, :func:`ensure_room` raises the limits to what every recorded network needs
plus the default room the machine had (never lowering one), keeping the original values in a
file; when the last local host of the machine is gone, :func:`restore_if_idle` writes them back
(``destroy`` and ``sweep`` call it). Where ``/proc/sys`` cannot be written (not root, or a
read-only ``/proc/sys`` in a container) and the limit is too low, the hosts are refused up front
with the numbers and the ``sysctl`` command to run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from sloth_kubernetes.plugin import ProviderError

from ._system import PROVIDER

NEIGH_DEFAULT = Path("/proc/sys/net/ipv4/neigh/default")
#: The kernel's defaults: the room the machine's own networks had before any local host.
KERNEL_DEFAULTS = {"gc_thresh1": 128, "gc_thresh2": 512, "gc_thresh3": 1024}


def needed_entries(network_sizes: Iterable[int]) -> int:
    """Neighbour entries the hosts of networks of these sizes fill when each reaches every
    other one on its bridge: ``n·(n-1)`` inside the hosts plus ``n`` on the machine's side."""
    return sum(n * n for n in network_sizes)


def wanted_limits(entries: int) -> dict[str, int]:
    """``gc_thresh2``/``gc_thresh3`` that fit ``entries`` on top of the machine's default room
    (``gc_thresh1``, below which nothing is collected, stays as it is)."""
    return {
        "gc_thresh2": entries + KERNEL_DEFAULTS["gc_thresh2"],
        "gc_thresh3": entries + KERNEL_DEFAULTS["gc_thresh3"],
    }


def _sysctl_name(key: str) -> str:
    return f"net.ipv4.neigh.default.{key}"


def ensure_room(
    network_sizes: Iterable[int], *, saved: Path, root: Path = NEIGH_DEFAULT
) -> dict[str, int]:
    """Raise the limits to fit hosts on networks of ``network_sizes``; return what was
    written (empty if they already fit). The first raise records the original values in
    ``saved``; later ones keep that record."""
    sizes = list(network_sizes)
    entries = needed_entries(sizes)
    changes = {
        key: value
        for key, value in wanted_limits(entries).items()
        if int((root / key).read_text()) < value
    }
    if not changes:
        return {}
    if not saved.exists():
        original = {key: int((root / key).read_text()) for key in KERNEL_DEFAULTS}
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps(original) + "\n", encoding="utf-8")
    # gc_thresh2 must not pass gc_thresh3: raise the hard limit first
    for key in sorted(changes, reverse=True):
        try:
            (root / key).write_text(f"{changes[key]}\n")
        except OSError as error:
            current = int((root / "gc_thresh3").read_text())
            commands = " ".join(f"{_sysctl_name(k)}={v}" for k, v in sorted(changes.items()))
            raise ProviderError(
                f"{sum(sizes)} local hosts need about {entries} neighbour (ARP) entries, more "
                f"than the kernel's {_sysctl_name('gc_thresh3')} = {current} allows (one table "
                f"shared by every namespace), and it cannot be raised here: {error.strerror}",
                hint=f"raise it as root on the machine (`sysctl -w {commands}`), or use "
                "fewer local hosts",
                provider=PROVIDER,
            ) from error
    return changes


def restore_if_idle(
    *, saved: Path, busy: Callable[[], bool], root: Path = NEIGH_DEFAULT
) -> dict[str, int]:
    """Put the recorded original limits back once ``busy()`` says no local host runs on the
    machine any more; return what was written."""
    if not saved.exists() or busy():
        return {}
    original: dict[str, int] = json.loads(saved.read_text(encoding="utf-8"))
    # lower gc_thresh2 before gc_thresh3, so thresh2 never exceeds thresh3 on the way
    for key in sorted(original):
        (root / key).write_text(f"{original[key]}\n")
    saved.unlink()
    return original


def any_local_host_netns(prefix: str) -> bool:
    """Whether the machine has a network namespace named like a local host's (any run)."""
    try:
        return any(name.startswith(prefix) for name in os.listdir("/run/netns"))
    except OSError:
        return False
