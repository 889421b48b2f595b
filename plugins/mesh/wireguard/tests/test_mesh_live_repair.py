"""A plain `up` repairs the mesh it owns, decided from live state (not the journal), and a mesh
that never came up is never reported as answering. Real local hosts, real wireguard-go."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.hosts, pytest.mark.timeout(240)]


def _layout() -> list[dict[str, object]]:
    return [
        {"name": "s", "provider": "local", "count": 1, "roles": ["server"]},
        {"name": "n", "provider": "local", "count": 2, "roles": ["agent"]},
    ]


def _outcomes(stdout: str) -> dict[str, tuple[str, str]]:
    return {o["phase"]: (o["status"], o["detail"]) for o in json.loads(stdout)["outcomes"]}


def test_plain_up_until_mesh_repairs_a_stopped_or_downed_interface(mesh_cluster):
    mesh_cluster.up(_layout())
    names = sorted(mesh_cluster.nodes())
    downed, stopped = names[0], names[1]

    # Nothing differs: the mesh is checked live and skipped, saying so.
    again = mesh_cluster.sloth("up", "-f", str(mesh_cluster.config), "--yes", "--no-progress",
                               "--until", "mesh", "-o", "json")  # fmt: skip
    assert again.exit_code == 0, again.stderr
    assert _outcomes(again.stdout)["mesh"] == ("skipped", "nothing to do (checked live on 3 nodes)")

    # One node's interface taken down, another's WireGuard stopped with its supervisor.
    mesh_cluster.run(downed, "ip link set dev wg-sloth down")
    mesh_cluster.run(stopped, "/usr/local/sbin/sloth-wg-wg-sloth down")
    assert mesh_cluster.check()[0] == 1

    result = mesh_cluster.up(_layout())  # the same plain `up --until mesh`, exit 0
    assert f"repaired: mesh: {downed}: interface wg-sloth is down" in result.stdout
    assert f"{stopped}: interface wg-sloth does not exist" in result.stdout
    assert "mesh       done — repaired:" in result.stdout
    code, check = mesh_cluster.check()
    assert code == 0, check
    assert mesh_cluster.run(downed, "ip -o link show dev wg-sloth").stdout.count(",UP") == 1


def test_mesh_check_on_a_cluster_whose_mesh_never_came_up_fails(mesh_cluster):
    """Fast-mode hosts have no cgroups: with the distro phase requested, prepare refuses every
    node, so the mesh is never configured — and `mesh check` must say so, exit 1."""
    mesh_cluster.up(_layout(), only="provision")
    up = mesh_cluster.sloth("up", "-f", str(mesh_cluster.config), "--yes", "--no-progress",
                            "--until", "distro", "-o", "json")  # fmt: skip
    assert up.exit_code == 1
    outcomes = _outcomes(up.stdout)
    assert outcomes["prepare"][0] == "failed"
    assert outcomes["mesh"] == (
        "skipped", "no node left: every node failed in an earlier phase",
    )  # fmt: skip
    assert outcomes["distro"][0] == "skipped"

    code, check = mesh_cluster.check()
    assert code == 1
    assert not check["ok"]
    assert sorted(check["down"]) == sorted(mesh_cluster.nodes())
    assert all("never configured" in reason for reason in check["down"].values())
    text = mesh_cluster.sloth("mesh", "check", mesh_cluster.name)
    assert text.exit_code == 1
    assert "directed pairs answer" not in text.stdout
