"""A real cluster for mesh tests: `sloth up --until mesh` with the local provider.

Each test claims a free /24 and a unique name through the local provider's test fixture (so a
crashed run is swept by the next one), and the cluster's network *is* that network: the
fixture's teardown removes every host even when `destroy` is never reached.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TOOLS = ("wg", "wireguard-go", "ping", "nsenter", "nft", "tini", "sshd")


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return "needs " + ", ".join(missing)
    return None


class MeshCluster:
    """One cluster of local hosts; ``up`` applies a spec, the rest looks at or breaks nodes."""

    def __init__(self, sloth_cli: Any, network: Any, workdir: Path) -> None:
        self.cli = sloth_cli
        self.network = network
        self.name = network.name
        self.workdir = workdir
        self.state = ("--state", f"sqlite:///{workdir / 'state.db'}")
        self.config = workdir / "cluster.yaml"

    def up(
        self,
        pools: list[dict[str, Any]],
        mesh: dict[str, Any] | None = None,
        *,
        expect: int = 0,
        only: str | None = None,
        mode: str = "fast",
    ) -> Any:
        document = {
            "apiVersion": "sloth-kubernetes.io/v1beta1",
            "kind": "Cluster",
            "metadata": {"name": self.name},
            "spec": {
                "providers": {"local": {"mode": mode, "cidr": self.network.cidr}},
                "nodePools": pools,
                "mesh": {"type": "wireguard", **(mesh or {})},
            },
        }
        self.config.write_text(json.dumps(document))
        phase = ("--only", only) if only else ("--until", "mesh")
        result = self.sloth("up", "-f", str(self.config), "--yes", "--no-progress", *phase)
        assert result.exit_code == expect, result.stdout + result.stderr
        return result

    def sloth(self, *args: str) -> Any:
        return self.cli(*self.state, *args)

    def check(self, *extra: str) -> tuple[int, dict[str, Any]]:
        result = self.sloth("-o", "json", "mesh", "check", self.name, *extra)
        return result.exit_code, json.loads(result.stdout)

    def export(self) -> dict[str, Any]:
        """The cluster as `state export` writes it (secrets stay encrypted)."""
        target = self.workdir / f"export-{time.monotonic_ns()}.json"
        result = self.sloth("state", "export", self.name, "-o", str(target))
        assert result.exit_code == 0, result.stderr
        return dict(json.loads(target.read_text()))

    def nodes(self) -> dict[str, dict[str, Any]]:
        listing = self.sloth("-o", "json", "nodes", "list", self.name)
        assert listing.exit_code == 0, listing.stderr
        return {node["name"]: node for node in json.loads(listing.stdout)}

    def host(self, node: str) -> Any:
        from sloth_provider_local.hosts import list_hosts

        state_dir = Path(os.environ["SLOTH_DATA_DIR"]) / "clusters" / self.name / "local"
        hosts = {h.name: h for h in list_hosts(self.network, state_dir=state_dir)}
        return hosts[node]

    def run(
        self, node: str, script: str, *, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``script`` inside the node (all its namespaces), as its own root would."""
        pid = self.host(node).init_pid
        done = subprocess.run(
            ["nsenter", "-t", str(pid), "-a", "--", "sh", "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"{node}: `{script}` exited {done.returncode}: {done.stderr}")
        return done

    def start(self, node: str, argv: list[str]) -> subprocess.Popen[str]:
        pid = self.host(node).init_pid
        return subprocess.Popen(
            ["nsenter", "-t", str(pid), "-a", "--", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_until(self, predicate: Any, timeout: float, what: str) -> float:
        """Poll ``predicate`` until true; return the seconds it took."""
        start = time.monotonic()
        while not predicate():
            if time.monotonic() - start > timeout:
                raise AssertionError(f"not within {timeout}s: {what}")
            time.sleep(0.25)
        return time.monotonic() - start


@pytest.fixture
def mesh_cluster(local_hosts: Any, sloth_cli: Any, tmp_path: Path) -> Iterator[MeshCluster]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    network = local_hosts.extra_network()  # unique name + free /24, swept at teardown
    cluster = MeshCluster(sloth_cli, network, tmp_path)
    try:
        yield cluster
    finally:
        if cluster.config.exists():
            cluster.sloth("--yes", "destroy", cluster.name)
