"""Day 2 on real local hosts: adding or removing a node touches only what must change, a no-op
`up` still verifies every node, and a node changed by hand is repaired (issue #16).

"Touched" is read two ways: the run's own events (prepare `started` only on the nodes that were
prepared; the nodes whose fingerprint still matches are journaled `verify: done — unchanged since
prepared`), and on the nodes themselves — the mesh's script writes each file through a temporary
``FILE.new`` next to it, so a node whose script ran has a newer ``/etc/wireguard`` directory
(ctime), and one left alone keeps it to the nanosecond.
"""

from __future__ import annotations

import re
import time

import pytest

pytestmark = [pytest.mark.hosts, pytest.mark.timeout(300)]

SYSCTL_FILE = "/etc/sysctl.d/90-sloth.conf"  # written by prepare (remote/prepare/baseline.py)


def layout(agents: int) -> list[dict[str, object]]:
    return [
        {"name": "s", "provider": "local", "count": 1, "roles": ["server"]},
        {"name": "n", "provider": "local", "count": agents, "roles": ["agent"]},
    ]


def _events(result, phase: str, status: str) -> set[str]:
    pattern = re.compile(rf"\[([^\]]+)\] {phase}: {status}\b")
    return {m.group(1) for m in map(pattern.search, result.stderr.splitlines()) if m}


def _dir_stamps(mesh_cluster, names) -> dict[str, str]:
    return {
        name: mesh_cluster.run(name, "stat -c %z /etc/wireguard").stdout.strip() for name in names
    }


def test_add_and_remove_touch_only_what_changes_and_hand_changes_are_repaired(mesh_cluster):
    first = mesh_cluster.up(layout(3))
    names = sorted(mesh_cluster.nodes())
    assert len(names) == 4
    assert _events(first, "prepare", "started") == set(names)
    stamps = _dir_stamps(mesh_cluster, names)
    time.sleep(0.05)  # ctime resolution is fine-grained; a little gap makes it certain

    # A no-op `up`: every node checked (fingerprint and mesh probe), none prepared, none pushed.
    noop = mesh_cluster.up(layout(3))
    assert _events(noop, "prepare", "started") == set()
    assert _events(noop, "prepare", "done") >= set(names)  # journaled as verified
    assert "unchanged since prepared (fingerprint)" in noop.stderr
    assert "mesh       skipped — nothing to do (checked live on 4 nodes)" in noop.stdout
    assert _dir_stamps(mesh_cluster, names) == stamps

    # Add one agent while two old nodes ping each other over the tunnel: only the new node is
    # prepared; the old ones only learn the new peer (live `wg set`), not one packet lost.
    nodes = mesh_cluster.nodes()
    a, b = names[0], names[1]
    pinger = mesh_cluster.start(a, ["ping", "-q", "-i", "0.2", "-w", "6", nodes[b]["mesh_address"]])
    time.sleep(0.5)
    added = mesh_cluster.up(layout(4))
    out, err = pinger.communicate(timeout=30)
    assert pinger.returncode == 0, out + err
    assert " 0% packet loss" in out, out
    grown = sorted(mesh_cluster.nodes())
    (new,) = set(grown) - set(names)
    assert _events(added, "prepare", "started") == {new}
    assert mesh_cluster.check()[0] == 0
    for name in names:  # each old node learned the new peer
        peers = mesh_cluster.run(name, "wg show wg-sloth peers").stdout.split()
        assert len(peers) == 4, (name, peers)

    # Hand changes on two nodes: a deleted sysctl file (prepare's) and an edited peer file (the
    # mesh's). A plain `up` finds both by their fingerprint / probe and repairs only those nodes.
    broken_prepare, broken_mesh = names[2], names[3]
    mesh_cluster.run(broken_prepare, f"rm {SYSCTL_FILE}")
    mesh_cluster.run(broken_mesh, "echo '# edited by hand' >> /etc/wireguard/wg-sloth.conf")
    stamps = _dir_stamps(mesh_cluster, grown)
    time.sleep(0.05)
    repaired = mesh_cluster.up(layout(4))
    assert _events(repaired, "prepare", "started") == {broken_prepare}
    assert mesh_cluster.run(broken_prepare, f"test -s {SYSCTL_FILE}", check=False).returncode == 0
    assert f"{broken_mesh}: /etc/wireguard/wg-sloth.conf differ" in repaired.stdout
    after = _dir_stamps(mesh_cluster, grown)
    assert {n for n in grown if after[n] != stamps[n]} == {broken_mesh}
    assert (
        "edited by hand"
        not in mesh_cluster.run(broken_mesh, "cat /etc/wireguard/wg-sloth.conf").stdout
    )

    # Remove the agent again: no node prepared, the others drop its peer, the mesh verifies.
    removed = mesh_cluster.up(layout(3))
    assert _events(removed, "prepare", "started") == set()
    assert sorted(mesh_cluster.nodes()) == names
    for name in names:
        peers = mesh_cluster.run(name, "wg show wg-sloth peers").stdout.split()
        assert len(peers) == 3, (name, peers)
    assert mesh_cluster.check()[0] == 0


@pytest.mark.parametrize("phase", ["prepare", "mesh"])
def test_add_killed_mid_phase_is_finished_by_the_rerun_nothing_done_twice(mesh_cluster, phase):
    """`kill -9` of the `up` adding a node, in the middle of prepare or the mesh push: the
    re-run creates nothing again (the audit log lists the new node created once), prepares
    only what was not finished, and ends with every node knowing every peer."""
    import json
    import os
    from pathlib import Path

    from sloth_kubernetes.state import open_store
    from sloth_kubernetes.testing.killing import CliRunner, KillPoint, created_and_adopted
    from sloth_provider_local.hosts import list_hosts

    mesh_cluster.up(layout(2))
    names = sorted(mesh_cluster.nodes())
    document = json.loads(mesh_cluster.config.read_text())
    document["spec"]["nodePools"] = layout(3)
    mesh_cluster.config.write_text(json.dumps(document))
    state = f"sqlite:///{mesh_cluster.workdir / 'state.db'}"
    cli = CliRunner(Path(os.environ["SLOTH_DATA_DIR"]), state)
    killed = cli.up(mesh_cluster.config, "--until", "mesh", kill=KillPoint(phase, 0.3))
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert killed.killed_in == phase

    again = cli.up(mesh_cluster.config, "--until", "mesh")
    assert again.returncode == 0, again.stderr[-3000:]
    grown = sorted(mesh_cluster.nodes())
    (new,) = set(grown) - set(names)
    prepared_again = {
        m.group(1)
        for m in map(re.compile(r"\[([^\]]+)\] prepare: started").search, again.stderr.splitlines())
        if m
    }
    assert prepared_again <= {new}  # the old nodes are verified by fingerprint, not redone
    with open_store(state) as store:
        created, _adopted = created_and_adopted(store.audit_entries(mesh_cluster.name))
    assert created.count(new) <= 1, created  # the killed run wrote no audit entry
    state_dir = Path(os.environ["SLOTH_DATA_DIR"]) / "clusters" / mesh_cluster.name / "local"
    hosts = list_hosts(mesh_cluster.network, state_dir=state_dir)
    assert sorted(h.name for h in hosts) == grown  # no machine made twice
    for name in grown:
        peers = mesh_cluster.run(name, "wg show wg-sloth peers").stdout.split()
        assert len(peers) == len(grown) - 1, (name, peers)
    assert mesh_cluster.check()[0] == 0
