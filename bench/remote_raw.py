"""Wall time of a trivial deploy through RemoteSession vs raw pyinfra, over local hosts.

Run as root: ``.venv/bin/python bench/remote_raw.py [--counts 20] [--ops 10]``.
For each count: connect, first apply, no-op re-apply (same session), and a fresh session's
connect + no-op apply (what a second ``up`` does); then the same deploy with pyinfra's own
runner (``connect_all``/``add_op``/``run_ops``) in a monkey-patched child process, as its CLI
runs. Leaves nothing behind (sweeps its prefix before and after).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sloth_kubernetes.model import NodeRecord
from sloth_kubernetes.remote import RemoteSession
from sloth_provider_local import LocalNetwork, create_hosts, destroy_hosts, sweep

PREFIX = "slbenchr"

RAW = r"""
from gevent import monkey
monkey.patch_all()
import json, sys, time
from pyinfra.api import Config, Inventory, State
from pyinfra.api.connect import connect_all
from pyinfra.api.operation import add_op
from pyinfra.api.operations import run_ops
from pyinfra.operations import files
spec = json.loads(sys.argv[1])
timings = []
for attempt in range(2):
    started = time.perf_counter()
    names = [(h["name"], {"ssh_hostname": h["address"], "ssh_port": h["port"], "ssh_user": "root",
              "ssh_key": spec["key"], "ssh_known_hosts_file": spec["known_hosts"],
              "ssh_strict_host_key_checking": "yes", "ssh_config_file": spec["ssh_config"]})
             for h in spec["hosts"]]
    state = State(Inventory((names, {})), Config(PARALLEL=spec["parallel"]))
    connect_all(state)
    for i in range(spec["ops"]):
        add_op(state, files.line, path=f"/etc/raw-bench-{i}.conf", line=f"value={i}", present=True)
    run_ops(state)
    timings.append(time.perf_counter() - started)
    for host in state.inventory:
        host.connector.client.close()
print(json.dumps(timings))
"""


def _deploy(ops: int):  # type: ignore[no-untyped-def]
    from pyinfra.operations import files

    def deploy(_node: NodeRecord) -> None:
        for i in range(ops):
            files.line(path=f"/etc/sloth-bench-{i}.conf", line=f"value={i}", present=True)

    return deploy


def _timed(action):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def run_count(count: int, args: argparse.Namespace, work: Path, key: Path) -> None:
    state_dir = work / "state"
    network = LocalNetwork(f"{PREFIX}-{count}", args.cidr)
    names = [f"r{i}" for i in range(1, count + 1)]
    hosts = create_hosts(
        network, names, authorized_key=key.with_suffix(".pub").read_text(), state_dir=state_dir
    )
    try:
        records = [
            NodeRecord(cluster="bench", name=h.name, private_address=h.address, ssh_port=h.port,
                       host_key=h.host_public_key)
            for h in hosts
        ]  # fmt: skip
        deploy = _deploy(args.ops)
        with RemoteSession(
            records, private_key_path=key, work_dir=work / "s1", parallel=args.parallel
        ) as session:
            connect, failures = _timed(session.connect)
            assert not failures, failures
            first, result = _timed(lambda: session.apply("bench", deploy))
            assert result.ok
            assert len(result.changed_nodes) == count
            again, result = _timed(lambda: session.apply("bench", deploy))
            assert result.ok
            assert not result.changed
        started = time.perf_counter()
        with RemoteSession(
            records, private_key_path=key, work_dir=work / "s2", parallel=args.parallel
        ) as session:
            session.connect()
            result = session.apply("bench", deploy)
            assert result.ok
            assert not result.changed
        fresh = time.perf_counter() - started
        known_hosts = work / "known_hosts"
        known_hosts.write_text(
            "".join(
                f"{r.address if r.ssh_port == 22 else f'[{r.address}]:{r.ssh_port}'} {r.host_key}\n"
                for r in records
            )
        )
        ssh_config = work / "ssh_config"
        ssh_config.write_text("Host *\n    StrictHostKeyChecking yes\n")
        spec = {
            "hosts": [{"name": h.name, "address": h.address, "port": h.port} for h in hosts],
            "key": str(key), "known_hosts": str(known_hosts), "ssh_config": str(ssh_config),
            "ops": args.ops, "parallel": args.parallel,
        }  # fmt: skip
        raw = subprocess.run(
            [sys.executable, "-c", RAW, json.dumps(spec)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        raw_first, raw_again = json.loads(raw.stdout.strip().splitlines()[-1])
        print(
            f"{count:5d} {connect:8.2f} {first:8.2f} {again:8.2f} {fresh:10.2f}"
            f" {raw_first:10.2f} {raw_again:10.2f}",
            flush=True,
        )
    finally:
        destroy_hosts(network, hosts, state_dir=state_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--counts", default="20")
    parser.add_argument("--ops", type=int, default=10, help="files.line operations per host")
    parser.add_argument("--parallel", type=int, default=20)
    parser.add_argument("--cidr", default="10.252.1.0/24")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sloth-bench-remote-") as tmp:
        work = Path(tmp)
        key = work / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        sweep(PREFIX, state_dir=work / "state")
        print(f"{args.ops} files.line ops per host, parallel {args.parallel}; seconds")
        print(f"{'hosts':>5} {'connect':>8} {'first':>8} {'no-op':>8} {'fresh no-op':>10}"
              f" {'raw first':>10} {'raw no-op':>10}")  # fmt: skip
        try:
            for count in (int(c) for c in args.counts.split(",")):
                run_count(count, args, work, key)
        finally:
            sweep(PREFIX, state_dir=work / "state")


if __name__ == "__main__":
    main()
