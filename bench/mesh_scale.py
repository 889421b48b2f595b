"""WireGuard mesh planning at scale: topology + rendered config for every node.

    .venv/bin/python bench/mesh_scale.py [SIZES...]     (default: 100 1000 2000)

For each size, prints wall time of the plan (build_mesh) and of rendering every node's config,
and the peak Python memory of doing both (tracemalloc, measured in a separate run so tracing does
not distort the timings). Rendered texts are discarded node by node, as the plugin does after
pushing each one. Figures for the full mesh and for the location topology (10 locations).
"""

from __future__ import annotations

import base64
import gc
import sys
import time
import tracemalloc

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


def run(count: int, spec: WireGuardMeshSpec) -> tuple[float, float, int, int]:
    fleet = members(count)
    started = time.perf_counter()
    plan = build_mesh(fleet, spec)
    planned = time.perf_counter()
    rendered_bytes = 0
    for node in plan.nodes.values():
        rendered_bytes += len(render_setconf(node))
    finished = time.perf_counter()
    peers = sum(len(node.peers) for node in plan.nodes.values())
    return planned - started, finished - planned, peers, rendered_bytes


def peak_memory(count: int, spec: WireGuardMeshSpec) -> int:
    gc.collect()
    tracemalloc.start()
    run(count, spec)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main(argv: list[str]) -> None:
    sizes = [int(arg) for arg in argv] or [100, 1000, 2000]
    print(
        f"{'topology':<9} {'nodes':>6} {'peers':>10} {'plan s':>8} {'render s':>9} "
        f"{'total s':>8} {'config MiB':>11} {'peak MiB':>9}"
    )
    for topology in ("full", "location"):
        spec = WireGuardMeshSpec(cidr="10.100.0.0/16", topology=topology)
        for count in sizes:
            plan_s, render_s, peers, size = run(count, spec)
            peak = peak_memory(count, spec)
            print(
                f"{topology:<9} {count:>6} {peers:>10} {plan_s:>8.2f} {render_s:>9.2f} "
                f"{plan_s + render_s:>8.2f} {size / 2**20:>11.1f} {peak / 2**20:>9.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main(sys.argv[1:])
