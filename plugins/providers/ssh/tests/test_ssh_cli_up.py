"""`up` and `destroy` through the real CLI on machines you already have (the engine's contract)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.hosts


def test_up_is_idempotent_and_destroy_leaves_the_machines(
    local_hosts, ssh_config, ssh_manager, sloth_cli, tmp_path
):
    hosts = local_hosts(3)
    ssh = {
        "hosts": [{"name": h.name, "address": h.address, "key": str(h.private_key)} for h in hosts],
        "knownHosts": str(hosts[0].known_hosts),
    }
    pools = [
        {"name": "servers", "provider": "ssh", "count": 1, "roles": ["server"]},
        {"name": "agents", "provider": "ssh", "count": 2},
    ]
    path, _ = ssh_config(ssh, pools)
    state = ("--state", f"sqlite:///{tmp_path / 'state.db'}", "--yes")
    up = (*state, "up", "-f", str(path), "--until", "prepare", "--no-progress")

    first = sloth_cli(*up)
    assert first.exit_code == 0, first.stderr
    assert "3 created" in first.stdout
    for host in hosts:  # prepared over the user's own login key (no operator key installed)
        assert "table inet sloth" in host.run("nft list tables").stdout
    again = sloth_cli(*up)
    assert again.exit_code == 0, again.stderr
    assert "no machines changed" in again.stdout

    status = json.loads(sloth_cli(*state, "-o", "json", "status", "bare").stdout)
    assert {n["name"]: n["cloudId"] for n in status["nodes"]} == {
        "bare-servers-1": f"ssh://root@{hosts[0].address}:22",
        "bare-agents-1": f"ssh://root@{hosts[1].address}:22",
        "bare-agents-2": f"ssh://root@{hosts[2].address}:22",
    }

    gone = sloth_cli(*state, "destroy", "bare")
    assert gone.exit_code == 0, gone.stderr
    for host in hosts:
        assert host.run("test -e /etc/sloth-kubernetes", check=False).returncode == 1
        assert host.run("hostname").stdout.strip() == host.name  # still running
