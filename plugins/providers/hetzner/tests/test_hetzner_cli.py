"""`plan`, `up` and `destroy` through the real CLI against the Hetzner emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML


@pytest.fixture
def hetzner_config(hetzner_emulator: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("HCLOUD_TOKEN", "h" * 64)
    document = {
        "apiVersion": "sloth-kubernetes.io/v1beta1",
        "kind": "Cluster",
        "metadata": {"name": "hz"},
        "spec": {
            "providers": {
                "hetzner": {
                    "endpoint": hetzner_emulator.endpoint,
                    "region": "fsn1",
                    "pollInterval": 0.05,
                }
            },
            "nodePools": [
                {"name": "servers", "provider": "hetzner", "count": 1, "roles": ["server"],
                 "size": {"cpu": 2, "memoryGiB": 4}},
                {"name": "agents", "provider": "hetzner", "count": 2, "size": "cx22"},
            ],
        },
    }  # fmt: skip
    path = tmp_path / "hz.yaml"
    with path.open("w", encoding="utf-8") as handle:
        YAML().dump(document, handle)
    return path


def test_machine_deleted_by_hand_shows_missing_in_plan_and_up_replaces_it(
    sloth_cli: Any, hetzner_config: Path, hetzner_emulator: Any, tmp_path: Path
) -> None:
    state = ("--state", f"sqlite:///{tmp_path / 'state.db'}", "--yes")
    up = (*state, "up", "-f", str(hetzner_config), "--until", "provision", "--no-progress")
    first = sloth_cli(*up)
    assert first.exit_code == 0, first.stderr
    fake = hetzner_emulator.fake
    assert sorted(s["name"] for s in fake.servers.values()) == [
        "hz-agents-1", "hz-agents-2", "hz-servers-1"
    ]  # fmt: skip
    status = json.loads(sloth_cli(*state, "-o", "json", "status", "hz").stdout)
    ids = {n["name"]: n["cloudId"] for n in status["nodes"]}

    victim = next(i for i, s in fake.servers.items() if s["name"] == "hz-agents-2")
    del fake.servers[victim]  # deleted by hand in the console

    plan = sloth_cli(*state, "-o", "json", "plan", "-f", str(hetzner_config))
    actions = json.loads(plan.stdout)["actions"]
    (missing,) = [a for a in actions if a["phase"] == "provision"]
    assert missing["target"] == "hz-agents-2"
    assert missing["kind"] == "create"
    assert "missing at the provider" in missing["detail"]

    again = sloth_cli(*up)
    assert again.exit_code == 0, again.stderr
    status = json.loads(sloth_cli(*state, "-o", "json", "status", "hz").stdout)
    now = {n["name"]: n["cloudId"] for n in status["nodes"]}
    assert now["hz-servers-1"] == ids["hz-servers-1"]
    assert now["hz-agents-2"] != ids["hz-agents-2"]
    assert len(fake.servers) == 3

    gone = sloth_cli(*state, "destroy", "hz")
    assert gone.exit_code == 0, gone.stderr
    assert fake.servers == {}
    assert fake.firewalls == {}
    assert fake.networks == {}
    assert fake.keys == {}
