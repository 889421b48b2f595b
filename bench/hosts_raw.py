"""Create/destroy wall time of raw local hosts (fast mode), 5, 20 and 50 at a time.

Run as root: ``.venv/bin/python bench/hosts_raw.py [--mode fast|systemd] [--counts 5,20,50]``.
Prints one line per count; leaves nothing behind (sweeps its prefix before and after).
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from sloth_provider_local import LocalNetwork, create_hosts, destroy_hosts, sweep

PREFIX = "slbench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", default="fast", choices=["fast", "systemd"])
    parser.add_argument("--counts", default="5,20,50")
    parser.add_argument("--cidr", default="10.252.0.0/24")
    parser.add_argument("--parallel", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sloth-bench-") as tmp:
        work = Path(tmp)
        key = work / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        state = work / "state"
        sweep(PREFIX, state_dir=state)
        print(f"{'mode':8} {'hosts':>5} {'create s':>9} {'destroy s':>9}")
        try:
            for count in (int(c) for c in args.counts.split(",")):
                network = LocalNetwork(f"{PREFIX}-{count}", args.cidr)
                names = [f"b{i}" for i in range(1, count + 1)]
                started = time.perf_counter()
                hosts = create_hosts(
                    network,
                    names,
                    authorized_key=key.with_suffix(".pub").read_text(),
                    state_dir=state,
                    mode=args.mode,
                    parallel=args.parallel,
                )
                created = time.perf_counter() - started
                started = time.perf_counter()
                destroy_hosts(network, hosts, state_dir=state)
                destroyed = time.perf_counter() - started
                print(f"{args.mode:8} {count:5d} {created:9.2f} {destroyed:9.2f}", flush=True)
        finally:
            sweep(PREFIX, state_dir=state)


if __name__ == "__main__":
    main()
