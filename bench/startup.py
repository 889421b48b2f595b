"""Median wall time of `sloth-kubernetes --help` (every plugin installed) vs a bare interpreter.

Run: .venv/bin/python bench/startup.py [RUNS]. Aim: under 8x the bare interpreter.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def median_seconds(argv: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    bare = median_seconds([sys.executable, "-c", "pass"], runs)
    cli = median_seconds([sys.executable, "-m", "sloth_kubernetes.cli", "--help"], runs)
    print(f"runs: {runs}")
    print(f"python -c pass          median {bare * 1000:7.1f} ms")
    print(f"sloth-kubernetes --help median {cli * 1000:7.1f} ms")
    print(f"ratio                   {cli / bare:7.1f}x (aim: < 8x)")


if __name__ == "__main__":
    main()
