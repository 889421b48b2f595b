"""Plan time and peak memory for specs of 10, 100, 1000 and 5000 nodes.

Run: .venv/bin/python bench/plan_scale.py. Aim: 1000 nodes planned in under 1 s and under
200 MiB, cost growing linearly. The plan compares the spec with a recorded state holding every
node (the common day-2 case) and with a live inventory of the same size.
"""

from __future__ import annotations

import time
import tracemalloc

from sloth_kubernetes.config.loader import load_config_text
from sloth_kubernetes.engine.plan import build_plan, node_requests
from sloth_kubernetes.model.nodes import NodeRecord
from sloth_kubernetes.plugins import create_plugin_manager
from sloth_kubernetes.testing.dummy import DummyProvider

TEMPLATE = """
apiVersion: sloth-kubernetes.io/v1beta1
kind: Cluster
metadata: {{name: bench}}
spec:
  providers: {{dummy: {{}}}}
  nodePools:
    - {{name: servers, provider: dummy, count: 3, roles: [server]}}
    - {{name: agents, provider: dummy, count: {agents}, roles: [agent]}}
"""


def main() -> None:
    manager = create_plugin_manager()
    manager.register(DummyProvider(), "dummy")
    catalog = manager.hooks.catalog()
    print(f"{'nodes':>6} {'load s':>8} {'plan s':>8} {'peak MiB':>9} {'us/node':>8}")
    for total in (10, 100, 1000, 5000):
        tracemalloc.start()
        started = time.perf_counter()
        config = load_config_text(TEMPLATE.format(agents=total - 3), catalog)
        loaded = time.perf_counter()
        recorded = [
            NodeRecord(cluster="bench", name=r.name, pool=r.pool, provider="dummy",
                       roles=r.roles, cloud_id=f"id-{r.name}",
                       phases={"prepare": "done", "mesh": "done", "distro": "done"})
            for r in node_requests(config)
        ]  # fmt: skip
        begin = time.perf_counter()
        plan = build_plan(config, recorded=recorded, live={"dummy": recorded},
                          recorded_hash="x")
        planned = time.perf_counter()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert len(plan.requests) == total
        print(f"{total:>6} {loaded - started:>8.3f} {planned - begin:>8.3f} "
              f"{peak / 2**20:>9.1f} {(planned - begin) / total * 1e6:>8.1f}")


if __name__ == "__main__":
    main()
