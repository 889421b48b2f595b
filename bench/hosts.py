"""End-to-end cost of the local provider and the prepare phase, through the real CLI.

Run as root: ``.venv/bin/python bench/hosts.py [--counts 5,20,50]``. For each count it prints
host creation (``up --until provision``), the first prepare (``up --until prepare``: connect +
baseline + hardening + firewall), a no-op re-run of the same command, the CLI's peak RSS, and the
per-host cost. Raw pyinfra over the same kind of hosts is measured by bench/remote_raw.py (the
same deploy through pyinfra's own runner); its figures are printed at the end for comparison.
Everything is destroyed afterwards.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = [sys.executable, "-m", "sloth_kubernetes.cli"]


def config(name: str, count: int, cidr: str) -> str:
    return f"""apiVersion: sloth-kubernetes.io/v1beta1
kind: Cluster
metadata: {{name: {name}}}
spec:
  providers:
    local: {{mode: fast, cidr: {cidr}}}
  nodePools:
    - {{name: server, provider: local, count: 1, roles: [server]}}
    - {{name: agent, provider: local, count: {count - 1}, roles: [agent]}}
"""


def timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([*CLI, *args], check=True, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--counts", default="5,20,50")
    counts = [int(c) for c in parser.parse_args().counts.split(",")]
    print(f"{'hosts':>5} {'create s':>9} {'prepare s':>10} {'re-run s':>9} {'re-run %':>9} "
          f"{'per host ms':>12} {'peak RSS MiB':>13}")
    for index, count in enumerate(counts):
        with tempfile.TemporaryDirectory(prefix="sloth-bench-") as work:
            env = {**os.environ, "SLOTH_DATA_DIR": work, "SLOTH_STATE": f"sqlite:///{work}/s.db"}
            path = Path(work) / "c.yaml"
            name = f"bench{count}"
            path.write_text(config(name, count, f"10.252.{index}.0/24"))
            base = ["up", "-f", str(path), "--yes", "--no-progress"]
            try:
                create = timed([*base, "--until", "provision"], env)
                prepare = timed([*base, "--until", "prepare"], env)
                rerun = timed([*base, "--until", "prepare"], env)
            finally:
                subprocess.run([*CLI, "destroy", name, "--yes"], env=env, check=False,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            print(f"{count:>5} {create:>9.2f} {prepare:>10.2f} {rerun:>9.2f} "
                  f"{rerun / prepare * 100:>8.0f}% {prepare / count * 1000:>12.0f} {peak:>13.0f}")
    print("\nraw pyinfra over the same kind of hosts (bench/remote_raw.py):")
    subprocess.run([sys.executable, str(Path(__file__).with_name("remote_raw.py")),
                    "--counts", ",".join(map(str, counts))], check=False)


if __name__ == "__main__":
    main()
