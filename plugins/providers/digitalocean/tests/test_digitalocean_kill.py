"""The kill matrix's cloud leg (issue #13): ``up`` on DigitalOcean (its API emulator: Prism
checking the official OpenAPI description in front of a stateful fake) is SIGKILLed the moment
the cloud has accepted its k-th droplet and before it could answer — the machine exists, the
state does not know it. The next ``up`` must find it by its tags and name and adopt it: every
node made exactly once at the cloud, the audit saying ``adopted`` for it, never ``created``."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sloth_kubernetes.testing.killing import CliRunner, created_and_adopted, write_yaml
from sloth_kubernetes.testing.provider_contract import capture_posts

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

NODES = 4


def _config(path: Path, endpoint: str) -> Path:
    return write_yaml(path, {
        "apiVersion": "sloth-kubernetes.io/v1beta1",
        "kind": "Cluster",
        "metadata": {"name": "kill-do"},
        "spec": {
            "providers": {"digitalocean": {
                "endpoint": endpoint, "region": "fra1", "pollInterval": 0.05, "createTimeout": 20,
            }},
            "nodePools": [
                {"name": "server", "provider": "digitalocean", "count": 1, "roles": ["server"]},
                {"name": "agent", "provider": "digitalocean", "count": NODES - 1,
                 "roles": ["agent"]},
            ],
            "security": {"sshAllowedCIDRs": ["198.51.100.0/24"]},
        },
    })  # fmt: skip


@pytest.mark.parametrize("kill_after", [1, 3])
def test_droplets_of_a_killed_run_are_adopted(
    digitalocean_emulator: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kill_after: int
) -> None:
    fake = digitalocean_emulator.fake
    bodies = capture_posts(fake, monkeypatch, "/v2/droplets")
    victim: list[int] = []
    original = fake._dispatch

    def dispatch(method: str, path: str, params: Any, raw: bytes, headers: Any) -> Any:
        reply = original(method, path, params, raw, headers)
        if method == "POST" and path.rstrip("/") == "/v2/droplets" and len(bodies) == kill_after:
            os.kill(victim[0], signal.SIGKILL)  # made at the cloud; the client never hears back
        return reply

    monkeypatch.setattr(fake, "_dispatch", dispatch)
    cli = CliRunner(
        tmp_path / "data",
        f"sqlite:///{tmp_path / 'state.db'}",
        {"DIGITALOCEAN_TOKEN": "dop_v1_" + "0" * 64, "SLOTH_STATE_PASSPHRASE": "kill-do"},
    )
    config = _config(tmp_path / "c.yaml", digitalocean_emulator.endpoint)

    killed = cli.up(config, "--until", "provision", on_start=victim.append)
    assert killed.killed_in == "provision", killed.stderr[-2000:]
    # requests the dead client had already sent still reach the cloud (through Prism): wait
    # until the cloud has seen the last of them
    seen, quiet_since = -1, time.monotonic()
    while time.monotonic() - quiet_since < 2:
        if len(bodies) != seen:
            seen, quiet_since = len(bodies), time.monotonic()
        time.sleep(0.1)
    made = [n for b in bodies for n in (b.get("names") or [b.get("name")])]
    assert made, "the kill came before any droplet was made"

    resumed = cli.up(config, "--until", "provision")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    names = ["kill-do-server-1"] + [f"kill-do-agent-{i}" for i in range(1, NODES)]
    sent = Counter(n for b in bodies for n in (b.get("names") or [b.get("name")]))
    assert sorted(sent) == sorted(names), sent
    assert set(sent.values()) == {1}, sent  # each made once
    droplets = Counter(d["name"] for d in fake.droplets.values())
    assert sorted(droplets) == sorted(names), droplets
    assert set(droplets.values()) == {1}, droplets
    assert sorted(resumed.data["changed"].get("adopted", [])) == sorted(made)

    status = json.loads(cli.run("-o", "json", "status", "kill-do").stdout)
    assert sorted(n["name"] for n in status["nodes"]) == sorted(names)
    with monkeypatch.context() as patch:
        for key, value in cli.environment().items():
            patch.setenv(key, value)
        from sloth_kubernetes.state import open_store

        with open_store(cli.state) as store:
            created, adopted = created_and_adopted(store.audit_entries("kill-do"))
            recorded = {n.name: n for n in store.list_nodes("kill-do")}
    assert sorted(adopted) == sorted(made)
    assert sorted(created) == sorted(set(names) - set(made))
    ids = {d["name"]: str(d["id"]) for d in fake.droplets.values()}
    assert {n: r.cloud_id for n, r in recorded.items()} == ids
    again = cli.up(config, "--until", "provision")
    assert again.returncode == 0
    assert len(fake.droplets) == NODES
