"""Kill `up` (SIGKILL) at random moments, run it again: same end state, nothing created twice,
and a journal that says what happened."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from sloth_kubernetes.state import open_store

RUNNER = Path(__file__).with_name("_up_runner.py")
NODES = [f"kill-servers-{i}" for i in (1, 2, 3)] + [f"kill-agents-{i}" for i in range(1, 10)]


def write_config(path: Path) -> None:
    with path.open("w") as handle:
        YAML().dump(CONFIG, handle)


CONFIG = {
    "apiVersion": "sloth-kubernetes.io/v1beta1",
    "kind": "Cluster",
    "metadata": {"name": "kill"},
    "spec": {
        "providers": {"dummy": {}},
        "nodePools": [
            {"name": "servers", "provider": "dummy", "count": 3, "roles": ["server"]},
            {"name": "agents", "provider": "dummy", "count": 9, "roles": ["agent"]},
        ],
        "mesh": {"type": "dummy"},
        "kubernetes": {"distribution": "dummy"},
    },
}


def up(directory: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "SLOTH_DATA_DIR": str(directory / "data")}
    return subprocess.Popen(
        [sys.executable, str(RUNNER), str(directory / "cloud.json"), "0.01", "--",
         "--state", f"sqlite:///{directory}/state.db", "up", "-f", str(directory / "c.yaml"),
         "--yes", "--no-progress", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def finish(directory: Path) -> subprocess.CompletedProcess[str]:
    process = up(directory, "-o", "json")
    out, err = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@pytest.mark.slow
def test_kill_at_random_points_then_resume(tmp_path):
    rng = random.Random(20261126)
    probe = tmp_path / "probe"
    probe.mkdir()
    write_config(probe / "c.yaml")
    started = time.monotonic()
    assert finish(probe).returncode == 0
    full_run = time.monotonic() - started
    killed_mid_run = 0
    for trial in range(20):
        directory = tmp_path / f"trial-{trial}"
        directory.mkdir()
        write_config(directory / "c.yaml")
        process = up(directory)
        time.sleep(rng.uniform(0.05, full_run))
        if process.poll() is None:
            killed_mid_run += 1
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        cloud_file = directory / "cloud.json"
        made = json.loads(cloud_file.read_text())["machines"] if cloud_file.exists() else {}
        with open_store(f"sqlite:///{directory}/state.db") as store:
            recorded = {n.name for n in store.list_nodes("kill")}

        resumed = finish(directory)
        assert resumed.returncode == 0, resumed.stderr
        result = json.loads(resumed.stdout)
        assert result["converged"] or not result["plan"]["actions"]

        cloud = json.loads((directory / "cloud.json").read_text())
        assert sorted(cloud["machines"]) == sorted(NODES)
        creations = cloud["creations"]
        assert sorted(creations) == sorted(NODES), "a machine was created twice"
        with open_store(f"sqlite:///{directory}/state.db") as store:
            nodes = {n.name: n for n in store.list_nodes("kill")}
            assert sorted(nodes) == sorted(NODES)
            assert all(
                n.phases == {"prepare": "done", "mesh": "done", "distro": "done"}
                for n in nodes.values()
            )
            assert len({n.mesh_address for n in nodes.values()}) == len(NODES)
            journal = store.journal_entries("kill")
            # Every machine shows in the journal: "done", or "started" by the run that was killed
            # after creating and recording it (the resumed run then has nothing to redo).
            provisioned = {e.node for e in journal if e.phase == "provision"}
            assert provisioned >= set(creations)
            if result["plan"]["actions"]:
                assert result["runId"] in {e.run_id for e in journal}
            cluster = store.get_cluster("kill")
            assert cluster is not None
            assert not cluster.spec_hash.startswith("pending")
            assert store.lock_info("kill") is None
            # machines the killed run made but did not record are adopted, and the audit says so
            if result["plan"]["actions"]:  # the resumed run had work (and wrote an audit entry)
                unrecorded = set(made) - recorded
                audit = [a for a in store.audit_entries("kill") if a.command == "up"][-1]
                assert audit.resources["runId"] == result["runId"]
                assert sorted(audit.resources.get("adopted", [])) == sorted(unrecorded)
                assert sorted(audit.resources.get("created", [])) == sorted(set(NODES) - set(made))
            again = finish(directory)
            assert json.loads(again.stdout)["plan"]["actions"] == []
    assert killed_mid_run >= 10, f"only {killed_mid_run} kills landed mid-run"
