"""Provisioning speed on the EC2 emulator (moto) with 100 ms injected latency per request.

Run: .venv/bin/python bench/provision_scale.py [--machines 100] [--large 500]
Needs `pip install 'moto[server]'`. Prints, for N machines: serial wall time (concurrency 1),
wall time with the aws provider's default concurrency, the ratio (aim: >= 8x), the number of API
requests, and the same with the provider's default rate limit (AWS's documented 20 requests/s,
burst 100) lifted, since a local emulator has no such limit. Then the large run (default 500
machines) without injected latency: "emulator time" is the wall time of the run.
Each run uses a fresh cluster name; every machine is destroyed afterwards.
"""

from __future__ import annotations

import argparse
import os
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
from sloth_kubernetes.testing.emulators import Ec2Emulator, FaultPolicy, FaultyProxy
from sloth_provider_aws.plugin import PROVIDER

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMvrWSe0b0pYbLMwS2NBc6B7GOXVmHcpq5iT9MVWmW4h bench"


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


def run(endpoint: str, counter: Any, machines: int, parallel: int, unlimited: bool) -> Result:
    """Provision ``machines`` on a fresh cluster, then destroy them; time both."""
    with tempfile.TemporaryDirectory() as temporary:
        ctx = context(
            endpoint, machines, parallel=parallel, unlimited=unlimited, data=Path(temporary)
        )
        marks: list[tuple[float, str]] = []
        ctx.emit = lambda event: marks.append((time.perf_counter(), event["message"]))
        before = counter()
        started = time.perf_counter()
        records = PROVIDER.provision(ctx, node_requests(ctx.config))
        elapsed = time.perf_counter() - started
        requests = counter() - before
        assert len(records) == machines, len(records)
        first = min(t for t, message in marks if message.startswith("creating"))
        last = max(t for t, message in marks if message == "running")
        started = time.perf_counter()
        PROVIDER.destroy(ctx, records)
        return Result(elapsed, last - first, time.perf_counter() - started, requests)


@attrs.frozen
class Result:
    total: float  # provision_nodes, wall time (includes the one-time key/network/firewall setup)
    machines: float  # first "creating" to last "running"
    destroy: float
    requests: int

    def row(self, label: str) -> str:
        return (f"{label:<44} {self.total:>8.2f} {self.machines:>10.2f} {self.destroy:>9.2f}"
                f" {self.requests:>9}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machines", type=int, default=100)
    parser.add_argument("--large", type=int, default=500)
    arguments = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench-secret")
    emulator = Ec2Emulator()
    slow = FaultyProxy(emulator.endpoint, FaultPolicy(latency=0.1))
    try:
        count = lambda: slow.counters.requests  # noqa: E731
        n = arguments.machines
        default = PROVIDER.spec.concurrency
        print(f"EC2 emulator (moto) + 100 ms per request, {n} machines; default concurrency "
              f"{default}, default rate limit {PROVIDER.spec.rate_limit.describe()}")  # fmt: skip
        print(f"{'mode':<44} {'total s':>8} {'machines s':>10} {'destroy s':>9} {'requests':>9}")
        for unlimited in (False, True):
            label = "rate limit lifted" if unlimited else "default rate limit"
            serial = run(slow.endpoint, count, n, 1, unlimited)
            parallel = run(slow.endpoint, count, n, default, unlimited)
            print(serial.row(f"{n}, serial, {label}"))
            print(parallel.row(f"{n}, concurrency {default}, {label}"), flush=True)
            print(f"{'ratio (total / machines)':<44} {serial.total / parallel.total:>7.1f}x "
                  f"{serial.machines / parallel.machines:>9.1f}x")  # fmt: skip
        direct = lambda: emulator.requests.total  # noqa: E731
        big = arguments.large
        for unlimited in (False, True):
            label = "rate limit lifted" if unlimited else "default rate limit"
            result = run(emulator.endpoint, direct, big, default, unlimited)
            print(result.row(f"{big}, no latency, {label}"), flush=True)
    finally:
        slow.stop()
        emulator.stop()


if __name__ == "__main__":
    main()
