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


def test_offline_distro_leaves_addons_skipped_and_nothing_in_sync(mesh_cluster):
    """The offline run of the issue, on real systemd hosts: no K3s release can be had (the
    mirror is a closed local port), so the distro phase fails; the add-ons must be reported
    `skipped`, write nothing on the server, and no read command may call anything in sync."""
    document = {
        "apiVersion": "sloth-kubernetes.io/v1beta1",
        "kind": "Cluster",
        "metadata": {"name": mesh_cluster.name},
        "spec": {
            "providers": {"local": {"mode": "systemd", "cidr": mesh_cluster.network.cidr}},
            "nodePools": [{"name": "s", "provider": "local", "count": 1, "roles": ["server"]}],
            "mesh": {"type": "wireguard"},
            "kubernetes": {"distribution": "k3s", "k3s": {"mirror": "http://127.0.0.1:9"}},
            "storage": [{"type": "local-path", "classes": [{"name": "lp", "default": True}]}],
        },
    }
    mesh_cluster.config.write_text(json.dumps(document))
    up = mesh_cluster.sloth("up", "-f", str(mesh_cluster.config), "--yes", "--no-progress",
                            "-o", "json")  # fmt: skip
    assert up.exit_code == 1
    outcomes = _outcomes(up.stdout)
    assert [outcomes[p][0] for p in ("prepare", "mesh", "distro", "addons", "verify")] == [
        "done", "done", "failed", "skipped", "skipped",
    ]  # fmt: skip
    assert "cannot download" in outcomes["distro"][1]
    assert outcomes["addons"][1] == "distro failed (its error is above)"
    (server,) = mesh_cluster.nodes()
    written = mesh_cluster.run(
        server, "ls /var/lib/rancher/k3s/server/manifests 2>/dev/null | wc -l"
    )
    assert written.stdout.strip() == "0"  # nothing delivered for a K3s that is not there

    status = json.loads(mesh_cluster.sloth("-o", "json", "status", mesh_cluster.name).stdout)
    assert status["converged"] is False
    assert status["distribution"]["installed"] is False
    listing = mesh_cluster.sloth("-o", "json", "addons", "list", mesh_cluster.name)
    assert listing.exit_code == 0, listing.stderr
    addons = json.loads(listing.stdout)
    assert addons["inSync"] is False
    assert {c["status"] for c in addons["components"]} == {"missing"}
    assert "in sync" not in mesh_cluster.sloth("addons", "list", mesh_cluster.name).stdout
    assert mesh_cluster.check()[0] == 0  # the mesh did come up: its check passes
