"""WireGuard mesh planning at scale: topology + rendered config for every node.

    .venv/bin/python bench/mesh_scale.py [SIZES...]     (default: 100 1000 2000)
    .venv/bin/python bench/mesh_scale.py --hosts 10 30  (live part only; root)

For each size, prints wall time of the plan (build_mesh), of rendering every node's config and
of computing and rendering the gateway watchers' failover tables (location topology only),
and the peak Python memory of doing both (tracemalloc, measured in a separate run so tracing does
not distort the timings). Rendered texts are discarded node by node, as the plugin does after
pushing each one. Figures for the full mesh and for the location topology (10 locations).

Then, as root, on real local hosts (the ``local`` provider, wireguard-go): for 10 and 30 hosts,
the wall time of the mesh phase of a fresh ``up``, and of the mesh phase that adds one node to
that mesh (the node is provisioned and prepared first, so only the mesh work is timed). The
times are the phase's own start/done events; the full CLI run is shown next to them.
"""

from __future__ import annotations

import base64
import gc
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from sloth_mesh_wireguard.failover import failover_tables, render_failover
from sloth_mesh_wireguard.model import WireGuardMeshSpec
from sloth_mesh_wireguard.render import render_setconf
from sloth_mesh_wireguard.topology import MeshMember, build_mesh

LOCATIONS = 10


def members(count: int) -> list[MeshMember]:
    """A mixed fleet: 10 locations, one provider network each, every 7th node behind NAT."""
    out = []
    for index in range(count):
        host = index + 1
        location = f"region-{index % LOCATIONS}"
        out.append(
            MeshMember(
                name=f"node-{index:05d}",
                mesh_address=f"10.100.{host // 256}.{host % 256}",
                public_key=base64.b64encode(host.to_bytes(32, "big")).decode(),
                index=index,
                public_address=f"198.18.{host // 256}.{host % 256}",
                private_address=f"172.16.{host // 256}.{host % 256}",
                network_id=f"net-{location}",
                location=location,
                behind_nat=index % 7 == 6,
                extra_allowed_ips=(f"10.{64 + host // 256}.{host % 256}.0/24",),
            )
        )
    return out


def run(count: int, spec: WireGuardMeshSpec) -> tuple[float, float, float, int, int]:
    """(plan s, render s, failover tables s, peers, rendered bytes)."""
    fleet = members(count)
    started = time.perf_counter()
    plan = build_mesh(fleet, spec)
    planned = time.perf_counter()
    rendered_bytes = 0
    for node in plan.nodes.values():
        rendered_bytes += len(render_setconf(node))
    finished = time.perf_counter()
    for table in failover_tables(plan, fleet).values():  # the gateway watchers' tables
        rendered_bytes += len(render_failover(table, spec.interface))
    tabled = time.perf_counter()
    peers = sum(len(node.peers) for node in plan.nodes.values())
    return planned - started, finished - planned, tabled - finished, peers, rendered_bytes


def peak_memory(count: int, spec: WireGuardMeshSpec) -> int:
    gc.collect()
    tracemalloc.start()
    run(count, spec)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def _mesh_phase_seconds(output: str) -> float:
    started = re.search(r"^\s*([0-9.]+)s \[cluster\] mesh: started", output, re.M)
    done = re.search(r"^\s*([0-9.]+)s \[cluster\] mesh: done", output, re.M)
    if not (started and done):
        raise SystemExit(f"the mesh phase did not finish:\n{output}")
    return float(done.group(1)) - float(started.group(1))


def live(counts: list[int]) -> None:
    """Mesh phase and add-one-node times on real local hosts (see the module docstring)."""
    from sloth_provider_local.hosts import sweep
    from sloth_provider_local.network import LocalNetwork, check_no_overlap

    print(
        f"\n{'hosts':>6} {'mesh phase s':>13} {'up total s':>11} {'add 1: mesh s':>14} "
        f"{'add 1: up s':>12}"
    )
    for count in counts:
        work = Path(tempfile.mkdtemp(prefix="sloth-bench-mesh-"))
        name = f"slbench{os.getpid() % 10000}-{count}"
        cidr = next(
            str(net)
            for net in __import__("ipaddress").ip_network("10.252.0.0/16").subnets(new_prefix=24)
            if _free(LocalNetwork(name, str(net)), check_no_overlap)
        )
        env = {**os.environ, "SLOTH_DATA_DIR": str(work / "data")}
        base = [sys.executable, "-m", "sloth_kubernetes.cli", "--state", f"sqlite:///{work}/s.db"]

        try:
            out, total = _up(work, name, cidr, env, count, "--until", "mesh")
            mesh_s = _mesh_phase_seconds(out)
            _up(work, name, cidr, env, count + 1, "--until", "prepare")
            out, add_total = _up(work, name, cidr, env, count + 1, "--only", "mesh")
            add_s = _mesh_phase_seconds(out)
            print(
                f"{count:>6} {mesh_s:>13.2f} {total:>11.2f} {add_s:>14.2f} {add_total:>12.2f}",
                flush=True,
            )
        finally:
            subprocess.run(
                [*base, "--yes", "destroy", name], env=env, capture_output=True, check=False
            )
            sweep(name, state_dir=work / "data" / "clusters" / name / "local")


def _up(
    work: Path, name: str, cidr: str, env: dict[str, str], nodes: int, *phase: str
) -> tuple[str, float]:
    base = [sys.executable, "-m", "sloth_kubernetes.cli", "--state", f"sqlite:///{work}/s.db"]
    config = {
        "apiVersion": "sloth-kubernetes.io/v1beta1", "kind": "Cluster",
        "metadata": {"name": name},
        "spec": {
            "providers": {"local": {"cidr": cidr}},
            "nodePools": [
                {"name": "s", "provider": "local", "count": 1, "roles": ["server"]},
                {"name": "a", "provider": "local", "count": nodes - 1},
            ],
            "mesh": {"type": "wireguard"},
        },
    }  # fmt: skip
    (work / "c.json").write_text(json.dumps(config))
    started = time.perf_counter()
    done = subprocess.run(
        [*base, "up", "-f", str(work / "c.json"), "--yes", "--no-progress", *phase],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(done.stdout + done.stderr)
    return done.stdout + done.stderr, time.perf_counter() - started


def _free(network: object, check: object) -> bool:
    try:
        check(network)  # type: ignore[operator]
    except Exception:
        return False
    return True


def main(argv: list[str]) -> None:
    if argv[:1] == ["--hosts"]:
        live([int(arg) for arg in argv[1:]] or [10, 30])
        return
    sizes = [int(arg) for arg in argv] or [100, 1000, 2000]
    print(
        f"{'topology':<9} {'nodes':>6} {'peers':>10} {'plan s':>8} {'render s':>9} "
        f"{'failover s':>10} {'total s':>8} {'config MiB':>11} {'peak MiB':>9}"
    )
    for topology in ("full", "location"):
        spec = WireGuardMeshSpec(cidr="10.100.0.0/16", topology=topology)
        for count in sizes:
            plan_s, render_s, failover_s, peers, size = run(count, spec)
            peak = peak_memory(count, spec)
            total = plan_s + render_s + failover_s
            print(
                f"{topology:<9} {count:>6} {peers:>10} {plan_s:>8.2f} {render_s:>9.2f} "
                f"{failover_s:>10.2f} {total:>8.2f} {size / 2**20:>11.1f} {peak / 2**20:>9.1f}",
                flush=True,
            )
    if os.geteuid() == 0:
        live([10, 30])
    else:
        print("\n(live figures need root: bench/mesh_scale.py --hosts 10 30)")


if __name__ == "__main__":
    main(sys.argv[1:])
