"""Day 2 at scale: what adding or removing one agent costs at N nodes, through the real CLI.

Run as root: ``.venv/bin/python bench/day2_scale.py [--counts 5,50] [--mode fast|systemd]``.

For each count N it brings up N local hosts through the mesh (``up --until mesh``), then times:

* ``add 1``   — ``up --until mesh`` with N+1 nodes (one agent created, prepared, meshed);
* ``remove 1`` — ``up --until mesh`` with N nodes again (the agent deleted, its peers dropped);
* ``no-op``   — ``up --until mesh`` once more (nothing changed; every node still checked live).

Next to each wall time it prints the time of the prepare and mesh phases (their first and last
progress events) and, per operation, how many nodes prepare actually worked on
(prepare's per-node ``started`` events). The last line compares the largest count with
the smallest (the issue's goal: ratio ≤ 1.3 for add and remove). Then, for the no-op, the time
of a raw pyinfra no-op over the same number of hosts (bench/remote_raw.py).
Everything is destroyed afterwards.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = [sys.executable, "-m", "sloth_kubernetes.cli"]
EVENT = re.compile(r"^\s*([0-9.]+)s \[([^\]]+)\] (\w+): (.*)$")


def _config(name: str, cidr: str, mode: str, nodes: int) -> str:
    config = {
        "apiVersion": "sloth-kubernetes.io/v1beta1", "kind": "Cluster",
        "metadata": {"name": name},
        "spec": {
            "providers": {"local": {"cidr": cidr, "mode": mode}},
            "nodePools": [
                {"name": "s", "provider": "local", "count": 1, "roles": ["server"]},
                {"name": "a", "provider": "local", "count": nodes - 1},
            ],
            "mesh": {"type": "wireguard"},
        },
    }  # fmt: skip
    return json.dumps(config)


def _phase_seconds(output: str, phase: str) -> float:
    times = [float(m.group(1)) for m in map(EVENT.match, output.splitlines()) if m]
    marks = [
        float(m.group(1))
        for m in map(EVENT.match, output.splitlines())
        if m and m.group(3) == phase
    ]
    return (max(marks) - min(marks)) if marks and times else 0.0


def _prepared(output: str) -> int:
    """Nodes prepare worked on (its per-node ``started`` events); the others were verified by
    their fingerprint."""
    lines = [m for m in map(EVENT.match, output.splitlines()) if m and m.group(3) == "prepare"]
    return sum(1 for m in lines if m.group(2) != "cluster" and m.group(4).startswith("started"))


def _up(work: Path, env: dict[str, str], text: str) -> tuple[float, str]:
    (work / "c.json").write_text(text)
    started = time.perf_counter()
    done = subprocess.run(
        [*CLI, "up", "-f", str(work / "c.json"), "--yes", "--no-progress", "--until", "mesh"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(done.stdout + done.stderr)
    return elapsed, done.stdout + done.stderr


def _free_cidr(name: str) -> str:
    from sloth_provider_local.network import LocalNetwork, check_no_overlap

    for net in ipaddress.ip_network("10.252.0.0/16").subnets(new_prefix=24):
        try:
            check_no_overlap(LocalNetwork(name, str(net)))
        except Exception:  # taken (or not checkable): try the next range
            continue
        return str(net)
    raise SystemExit("no free /24 in 10.252.0.0/16")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--counts", default="5,50")
    parser.add_argument("--mode", default="fast", choices=["fast", "systemd"])
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    from sloth_provider_local.hosts import sweep

    print(
        f"{'nodes':>5} {'op':<9} {'wall s':>7} {'prepare s':>10} {'mesh s':>7} {'prepared':>9}",
        flush=True,
    )
    figures: dict[int, dict[str, float]] = {}
    for count in counts:
        work = Path(tempfile.mkdtemp(prefix="sloth-bench-day2-"))
        name = f"sld2{os.getpid() % 10000}n{count}"
        cidr = _free_cidr(name)
        env = {
            **os.environ,
            "SLOTH_DATA_DIR": str(work / "data"),
            "SLOTH_STATE": f"sqlite:///{work}/s.db",
        }
        try:
            _up(work, env, _config(name, cidr, args.mode, count))
            row = figures.setdefault(count, {})
            for op, nodes in (("add 1", count + 1), ("remove 1", count), ("no-op", count)):
                wall, out = _up(work, env, _config(name, cidr, args.mode, nodes))
                row[op] = wall
                print(
                    f"{count:>5} {op:<9} {wall:>7.2f} {_phase_seconds(out, 'prepare'):>10.2f} "
                    f"{_phase_seconds(out, 'mesh'):>7.2f} {_prepared(out):>9}",
                    flush=True,
                )
        finally:
            subprocess.run([*CLI, "destroy", name, "--yes"], env=env, capture_output=True,
                           check=False)  # fmt: skip
            sweep(name, state_dir=work / "data" / "clusters" / name / "local")
            shutil.rmtree(work, ignore_errors=True)
    low, high = min(figures), max(figures)
    if low != high:
        for op in ("add 1", "remove 1", "no-op"):
            ratio = figures[high][op] / figures[low][op]
            print(f"{op}: {high} nodes / {low} nodes = {ratio:.2f}x")
    print(f"\nraw pyinfra no-op over the same kind of hosts (bench/remote_raw.py --counts {high}):")
    subprocess.run([sys.executable, str(Path(__file__).with_name("remote_raw.py")),
                    "--counts", str(high)], check=False)  # fmt: skip


if __name__ == "__main__":
    main()
