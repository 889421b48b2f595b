"""Provisioning speed of the aws provider on the EC2 emulator (moto).

Run: .venv/bin/python bench/provision_scale.py [--machines 100] [--large 500] [--no-budget]
Needs `pip install 'moto[server]'`. What each printed line is:

* ``N, serial, rate limit lifted`` — N machines through a proxy adding 100 ms to every request,
  concurrency 1: the tool makes one request at a time (shared resources, creates, polls).
* ``N, concurrency C, rate limit lifted`` — the same with the provider's default concurrency.
  Both lift the request budget (``rateLimit``/``burst`` 10000): a local emulator has no budget,
  so these two lines measure the tool's own parallelism. Aim: the ratio >= 8x.
* ``N, concurrency C, AWS request budget`` — the provider's defaults, i.e. AWS's documented
  token buckets (RunInstances: 5 at once, then 2 per second): what the same run costs against
  real EC2, next to the floor those buckets alone impose. (A serial run under the budget takes
  as long: the budget, not the latency, is the bound.) ``--no-budget`` skips it.
* ``L, no latency, rate limit lifted`` — L machines straight to moto (aim: under 10 s), and the
  floor AWS's budget would impose on L machines (computed, not run).

Columns: ``total s`` is provision_nodes' wall time (shared resources included), ``machines s``
first create → last machine seen running, ``destroy s`` destroy_nodes, ``requests`` the API
requests of the provisioning, ``moto cpu s`` the CPU time moto used for them (its own cost; the
rest is latency, the client and waiting). After the table: moto's time per request by action in
the serial run, where requests do not overlap. Every run starts from an empty emulator (moto keeps
terminated instances, and its per-request cost grows with them, while AWS's does not) whose
region is warmed up first (moto builds it on the first request, ~1 s); each run uses a fresh
cluster name; every machine is destroyed afterwards.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import attrs
from ruamel.yaml import YAML
from sloth_kubernetes.config.loader import load_config_text
from sloth_kubernetes.context import ClusterContext, OperatorKey
from sloth_kubernetes.engine.plan import node_requests
from sloth_kubernetes.plugins import create_plugin_manager
from sloth_kubernetes.testing.emulators import FaultPolicy, FaultyProxy
from sloth_provider_aws.plugin import PROVIDER

# The EC2 fake lives with the aws plugin's tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins/providers/aws/tests"))
from ec2_fake import Ec2Emulator

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMvrWSe0b0pYbLMwS2NBc6B7GOXVmHcpq5iT9MVWmW4h bench"
LATENCY = 0.1


def context(endpoint: str, machines: int, *, parallel: int, unlimited: bool, data: Path) -> Any:
    block: dict[str, Any] = {"endpoint": endpoint, "region": "eu-west-1", "pollInterval": 0.2}
    if unlimited:
        block.update(rateLimit=10000, burst=10000)
    document = {
        "apiVersion": "sloth-kubernetes.io/v1beta1",
        "kind": "Cluster",
        "metadata": {"name": f"b{uuid.uuid4().hex[:8]}"},
        "spec": {
            "providers": {"aws": block},
            "nodePools": [
                {"name": "s", "provider": "aws", "count": 1, "roles": ["server"],
                 "image": "ami-785db401", "size": "t3.medium"},
                {"name": "a", "provider": "aws", "count": machines - 1, "roles": ["agent"],
                 "image": "ami-785db401", "size": "t3.medium"},
            ],
        },
    }  # fmt: skip
    path = data / "bench.yaml"
    with path.open("w", encoding="utf-8") as handle:
        YAML().dump(document, handle)
    config = load_config_text(path.read_text(), create_plugin_manager().hooks.catalog())
    return ClusterContext(
        config=config,
        data_dir=data,
        operator=OperatorKey(KEY, data / "unused"),
        concurrency=parallel,
    )


@attrs.frozen
class Result:
    total: float  # provision_nodes, wall time (includes the one-time key/network/firewall setup)
    machines: float  # first "creating" to last "running"
    destroy: float
    requests: int
    moto_cpu: float  # CPU seconds moto used for the provisioning's requests
    moto_per_action: dict[str, tuple[int, float]]  # action -> (requests, mean seconds in moto)

    def row(self, label: str) -> str:
        return (f"{label:<42} {self.total:>8.2f} {self.machines:>10.2f} {self.destroy:>9.2f}"
                f" {self.requests:>9} {self.moto_cpu:>10.2f}")  # fmt: skip


class Bench:
    def __init__(self) -> None:
        self.emulator = Ec2Emulator()
        self.slow = FaultyProxy(self.emulator.endpoint, FaultPolicy(latency=LATENCY))

    def stop(self) -> None:
        self.slow.stop()
        self.emulator.stop()

    def fresh(self) -> None:
        """An empty emulator and zeroed counters (see the module docstring)."""
        self.emulator.reset()
        self.slow.reset()

    def run(self, machines: int, parallel: int, *, latency: bool, unlimited: bool) -> Result:
        """Provision ``machines`` on a fresh cluster, then destroy them; time both."""
        endpoint = self.slow.endpoint if latency else self.emulator.endpoint
        self.fresh()
        with tempfile.TemporaryDirectory() as temporary:
            ctx = context(
                endpoint, machines, parallel=parallel, unlimited=unlimited, data=Path(temporary)
            )
            # moto builds a region's backend on its first request: pay that outside the clock
            PROVIDER.list_nodes(ctx)
            moto_before = len(self.emulator.timings())
            cpu_before = self.emulator.cpu_seconds()
            marks: list[tuple[float, str]] = []
            ctx.emit = lambda event: marks.append((time.perf_counter(), event["message"]))
            started = time.perf_counter()
            records = PROVIDER.provision(ctx, node_requests(ctx.config))
            elapsed = time.perf_counter() - started
            cpu = self.emulator.cpu_seconds() - cpu_before
            spent = self.emulator.timings()[moto_before:]
            assert len(records) == machines, len(records)
            first = min(t for t, message in marks if message.startswith("creating"))
            last = max(t for t, message in marks if message == "running")
            started = time.perf_counter()
            PROVIDER.destroy(ctx, records)
            destroy = time.perf_counter() - started
            per_action: dict[str, list[float]] = {}
            for action, seconds in spent:
                per_action.setdefault(action or "?", []).append(seconds)
            means = {a: (len(v), sum(v) / len(v)) for a, v in per_action.items()}
            return Result(elapsed, last - first, destroy, len(spent), cpu, means)


def budget_floor(machines: int) -> float:
    """Seconds AWS's RunInstances bucket alone needs for ``machines`` single-instance creates."""
    limit = PROVIDER.spec.action_limits.get("RunInstances", PROVIDER.spec.rate_limit)
    return max(0.0, (machines - limit.burst) / limit.rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machines", type=int, default=100)
    parser.add_argument("--large", type=int, default=500)
    parser.add_argument("--no-budget", action="store_true", help="skip the AWS-budget run")
    arguments = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench-secret")
    bench = Bench()
    try:
        n, big = arguments.machines, arguments.large
        default = PROVIDER.spec.concurrency
        limits = ", ".join(
            f"{action} {limit.describe()}" for action, limit in PROVIDER.spec.action_limits.items()
        )
        print(f"EC2 emulator (moto); default concurrency {default}; AWS request budget: "
              f"{PROVIDER.spec.rate_limit.describe()}, {limits}")  # fmt: skip
        print(f"{'run':<42} {'total s':>8} {'machines s':>10} {'destroy s':>9} "
              f"{'requests':>9} {'moto cpu s':>10}")  # fmt: skip
        serial = bench.run(n, 1, latency=True, unlimited=True)
        print(serial.row(f"{n}, serial, rate limit lifted"), flush=True)
        parallel = bench.run(n, default, latency=True, unlimited=True)
        print(parallel.row(f"{n}, concurrency {default}, rate limit lifted"), flush=True)
        print(f"{'ratio serial / concurrent (total, machines)':<42} "
              f"{serial.total / parallel.total:>7.1f}x "
              f"{serial.machines / parallel.machines:>9.1f}x")  # fmt: skip
        if not arguments.no_budget:
            budget = bench.run(n, default, latency=True, unlimited=False)
            print(budget.row(f"{n}, concurrency {default}, AWS request budget"))
            print(f"{'  floor of the RunInstances bucket alone':<42} {'':>8} "
                  f"{budget_floor(n):>10.2f}", flush=True)  # fmt: skip
        large = bench.run(big, default, latency=False, unlimited=True)
        print(large.row(f"{big}, no latency, rate limit lifted"))
        print(f"{f'{big}, AWS request budget (computed, not run)':<42} {'':>8} "
              f"{budget_floor(big):>10.2f}")  # fmt: skip
        costs = ", ".join(
            f"{action} {mean * 1000:.1f} ms (x{count})"
            for action, (count, mean) in sorted(
                serial.moto_per_action.items(), key=lambda item: -item[1][0] * item[1][1]
            )[:4]
        )
        print(f"moto's time per request, serial run: {costs}")
    finally:
        bench.stop()


if __name__ == "__main__":
    main()
