"""The kill matrix (issue #13): SIGKILL the real CLI ``up`` at points spread over every phase —
provision, prepare, mesh, distro (the distribution twin), add-ons — on SQLite and on PostgreSQL,
run ``up`` again, and check what an operator would: it converges (exit 0, every phase done), the
same machines (no local host started twice, the audit says ``created`` at most once per node and
``adopted`` for what a killed run made), the state intact (nodes recorded, every secret opens),
no lock held and no run key file left. PostgreSQL stopped under a run: a clear error naming the
store, no traceback; the next run, with the server back, converges. A cloud leg (DigitalOcean on
its emulator) kills ``up`` during provision: the droplets a killed run made are adopted.

The clusters are real: systemd-mode local hosts (network namespaces, sshd), a wireguard-go mesh,
K3s run by the distribution twin (real etcd), local-path through the add-on phase. Kill points
are shared by one cluster per backend: a killed run is resumed by the next one, which is itself
killed at the next point (fresh cluster: 5 points; then the cluster grows by one agent: 5 more).
Delays come from a fixed seed; a failure names the seed and the point. docs/reliability.md
has the figures.
"""

from __future__ import annotations

import json
import random
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from sloth_kubernetes.testing.killing import (
    CliRunner,
    KillPoint,
    Outcome,
    created_and_adopted,
    write_yaml,
)

pytestmark = [pytest.mark.hosts, pytest.mark.slow, pytest.mark.timeout(1500)]

SEED = 20261207
#: How long after its first ``started`` line each phase is killed, at most (seconds). Chosen so
#: kills land inside the phase most of the time on a loaded 2-core machine.
SPREAD = {"provision": 2.0, "prepare": 4.0, "mesh": 2.5, "distro": 8.0, "addons": 1.5}
ORDER = ("provision", "prepare", "mesh", "distro", "addons")
#: Every kill point and how it ended, printed at the end of the module (docs/reliability.md).
FIGURES: list[str] = []


def _points(rng: random.Random) -> list[KillPoint]:
    return [KillPoint(phase, round(rng.uniform(0.0, SPREAD[phase]), 2)) for phase in ORDER]


@pytest.fixture(scope="module")
def twin_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sloth_distro_k3s.plugin import installer
    from sloth_kubernetes.testing import distro_twin

    return distro_twin.twin_bundle(installer(), tmp_path_factory.mktemp("twin") / "bundle")


@pytest.fixture(scope="module")
def networks(_local_hosts_session: str | None, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Claims a free /24 per cluster (the cluster is named after it); sweeps all at the end."""
    if _local_hosts_session is not None:
        pytest.skip(_local_hosts_session)
    from sloth_provider_local.testing import LocalHostsFactory

    factory = LocalHostsFactory(tmp_path_factory.mktemp("kill-matrix-hosts"))
    try:
        yield factory
    finally:
        factory.teardown()


@attrs.define
class Cluster:
    """One cluster of the matrix, driven through the CLI."""

    name: str
    cidr: str
    cli: CliRunner
    directory: Path
    agents: int = 1
    #: node → (pid, start time) of its host's PID 1 when first seen running: never changes
    first_init: dict[str, tuple[int, int]] = attrs.field(factory=dict)

    @property
    def config(self) -> Path:
        return self.directory / f"{self.name}.yaml"

    @property
    def nodes(self) -> list[str]:
        return [f"{self.name}-servers-1"] + [
            f"{self.name}-agents-{i}" for i in range(1, self.agents + 1)
        ]

    def write_config(self) -> None:
        write_yaml(self.config, {
            "apiVersion": "sloth-kubernetes.io/v1beta1",
            "kind": "Cluster",
            "metadata": {"name": self.name},
            "spec": {
                "providers": {"local": {
                    "mode": "systemd", "image": "debian-12-preloaded", "cidr": self.cidr,
                }},
                "nodePools": [
                    {"name": "servers", "provider": "local", "count": 1, "roles": ["server"]},
                    {"name": "agents", "provider": "local", "count": self.agents,
                     "roles": ["agent"]},
                ],
                "mesh": {"type": "wireguard"},
                # readiness over SSH: the prepare phase's firewall keeps 6443 to the mesh
                "kubernetes": {"distribution": "k3s",
                               "k3s": {"readiness": "ssh", "readyTimeout": 180}},
                "storage": [{"type": "local-path",
                             "classes": [{"name": "local-path", "default": True}]}],
            },
        })  # fmt: skip

    def host_records(self) -> dict[str, dict[str, Any]]:
        hosts = self.directory / "data" / "clusters" / self.name / "local" / self.name / "hosts"
        records = {}
        for record in hosts.glob("*/record.json"):
            data = json.loads(record.read_text())
            records[data["name"]] = data
        return records

    def namespaces(self) -> list[str]:
        out = subprocess.run(
            ["ip", "netns", "list"], capture_output=True, text=True, check=False
        ).stdout
        return [n.split()[0] for n in out.splitlines() if n.startswith(f"sloth-{self.name}-")]

    def check_machines(self, where: str) -> None:
        """No host twice, no host started again: every PID 1 is the one first seen."""
        from sloth_provider_local._system import is_alive

        namespaces = self.namespaces()
        assert len(namespaces) <= len(self.nodes), f"{where}: extra hosts {namespaces}"
        assert set(namespaces) <= {f"sloth-{self.name}-{n}" for n in self.nodes}, where
        for name, record in self.host_records().items():
            init = (record["init_pid"], record["init_start"])
            if not is_alive(*init):
                continue
            first = self.first_init.setdefault(name, init)
            assert init == first, f"{where}: host {name} was started again ({first} → {init})"


def _resume_chain(cluster: Cluster, points: list[KillPoint], label: str) -> Outcome:
    """Kill ``up`` at each point in turn (each run resumes the one before), then finish."""
    for point in points:
        outcome = cluster.cli.up(cluster.config, kill=point)
        where = f"{label} seed {SEED} kill at {point}"
        if outcome.killed_in is None:  # it ended before the kill: must have succeeded
            assert outcome.returncode == 0, f"{where}: {outcome.stderr[-3000:]}"
        assert "Traceback" not in outcome.stderr, f"{where}: {outcome.stderr[-3000:]}"
        FIGURES.append(
            f"{label}: kill at {point} → landed in {outcome.killed_in or '(ended)'}"
            f" after {outcome.seconds:.0f} s"
        )
        cluster.check_machines(where)
    final = cluster.cli.up(cluster.config)
    assert final.returncode == 0, f"{label}: resume failed:\n{final.stderr[-4000:]}"
    cluster.check_machines(f"{label} final")
    return final


def _converged(cluster: Cluster, final: Outcome) -> None:
    """What a user checks after the last run: every phase done, the same machines, the state
    intact, nothing left behind."""
    from sloth_kubernetes.state import open_store

    data = final.data
    assert data["converged"], data
    statuses = {o["phase"]: o["status"] for o in data["outcomes"]}
    assert all(s in ("done", "skipped") for s in statuses.values()), statuses
    assert not data["failures"], data["failures"]
    assert sorted(cluster.host_records()) == sorted(cluster.nodes)
    assert sorted(cluster.namespaces()) == sorted(
        f"sloth-{cluster.name}-{n}" for n in cluster.nodes
    )
    with pytest.MonkeyPatch.context() as patch:
        for key, value in cluster.cli.environment().items():
            patch.setenv(key, value)
        with open_store(cluster.cli.state) as store:
            nodes = {n.name: n for n in store.list_nodes(cluster.name)}
            assert sorted(nodes) == sorted(cluster.nodes)
            for node in nodes.values():
                assert {p: node.phases.get(p) for p in ("prepare", "mesh", "distro")} == {
                    "prepare": "done", "mesh": "done", "distro": "done"
                }, node  # fmt: skip
            assert len({n.mesh_address for n in nodes.values()}) == len(nodes)
            names = store.list_secret_names(cluster.name)
            assert names, "no secrets recorded"
            for name in names:  # every secret still opens with the store's key
                secret = store.get_secret(cluster.name, name)
                assert secret is not None, name
                assert secret.reveal(), name
            assert store.lock_info(cluster.name) is None
            created, adopted = created_and_adopted(store.audit_entries(cluster.name))
    twice = [n for n, c in Counter(created).items() if c > 1]
    assert not twice, f"created twice: {twice}"
    assert not set(created) & set(adopted), (created, adopted)
    # no run key file or SSH session directory left by the killed runs
    data_dir = cluster.directory / "data"
    assert [p for p in (data_dir / "run").glob("*") if p.is_dir()] == []
    assert list((data_dir / "clusters" / cluster.name / "remote").glob("remote-*")) == []
    again = cluster.cli.up(cluster.config)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.data["plan"]["actions"] == []


def _cluster(networks: Any, twin_bundle: Path, directory: Path, state: str) -> Cluster:
    network = networks.extra_network()
    directory.mkdir(parents=True, exist_ok=True)
    cli = CliRunner(directory / "data", state, {"SLOTH_STATE_PASSPHRASE": "kill-matrix-pass"})
    imported = cli.run("artifacts", "import", str(twin_bundle))
    assert imported.returncode == 0, imported.stderr
    cluster = Cluster(network.name, network.cidr, cli, directory)
    cluster.write_config()
    return cluster


def _matrix(cluster: Cluster, label: str, rng: random.Random) -> None:
    started = time.monotonic()
    final = _resume_chain(cluster, _points(rng), f"{label} new cluster")
    _converged(cluster, final)
    cluster.agents += 1  # grow by one agent: provision, prepare, mesh, distro and add-ons again
    cluster.write_config()
    final = _resume_chain(cluster, _points(rng), f"{label} one more agent")
    _converged(cluster, final)
    FIGURES.append(f"{label}: 10 kill points converged in {time.monotonic() - started:.0f} s")


def test_kill_matrix_sqlite(networks: Any, twin_bundle: Path, tmp_path: Path) -> None:
    cluster = _cluster(networks, twin_bundle, tmp_path, f"sqlite:///{tmp_path / 'state.db'}")
    _matrix(cluster, "sqlite", random.Random(SEED))
    print("\n".join(FIGURES))


@pytest.fixture
def private_postgres() -> Iterator[Any]:
    """A PostgreSQL server of this test's own, so it can be stopped under a run."""
    from sloth_kubernetes.testing.postgres import server_bin_dir, start_server

    bin_dir = server_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL server not installed (make test installs it)")
    server = start_server(bin_dir)
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.postgres
def test_kill_matrix_postgres_and_server_stopped_mid_run(
    networks: Any, twin_bundle: Path, tmp_path: Path, private_postgres: Any
) -> None:
    cluster = _cluster(networks, twin_bundle, tmp_path, private_postgres.url)
    _matrix(cluster, "postgresql", random.Random(SEED + 1))

    # the server goes away under a run (here: as the mesh phase starts)
    cluster.agents += 1
    cluster.write_config()
    stopped = cluster.cli.up(cluster.config, on_phase=("mesh", private_postgres.pause))
    assert stopped.returncode == 1, stopped.stderr[-3000:]
    assert "Traceback" not in stopped.stderr, stopped.stderr[-3000:]
    assert "PostgreSQL" in stopped.stderr, stopped.stderr[-3000:]
    assert "127.0.0.1" in stopped.stderr
    assert str(private_postgres.port) in stopped.stderr
    assert private_postgres.url.split("@")[0].split(":")[-1] not in stopped.stderr  # password
    private_postgres.resume()
    final = cluster.cli.up(cluster.config)
    assert final.returncode == 0, final.stderr[-4000:]
    _converged(cluster, final)
    message = next(line for line in stopped.stderr.splitlines() if "PostgreSQL" in line)
    FIGURES.append(f"postgresql: server stopped during mesh → exit 1: {message.strip()}")
    print("\n".join(FIGURES))
