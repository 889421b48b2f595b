"""Every phase's final word is true: done, skipped with the reason, failed, or not run.

The dummy provider, mesh and distro (no machine, no SSH) and a recording add-on: a distro that
fails must not be followed by add-ons reported ``done``, and the run must not exit 0.
"""

from __future__ import annotations

import json

import pytest
from sloth_kubernetes.hookspecs import hookimpl
from sloth_kubernetes.registry import Component
from sloth_kubernetes.testing.plugin import DUMMY_CLUSTER

OFFLINE = "cannot download k3s v1.31.4+k3s1: Name or service not known"


class RecordingAddon:
    """An add-on that records every install (it would write manifests on the servers)."""

    def __init__(self) -> None:
        self.installs: list[str] = []

    @hookimpl
    def register_addons(self, register):
        register(Component("addon", "recorded", "records installs"))

    @hookimpl
    def install_addon(self, context, addon, settings):
        if addon != "recorded":
            return None
        self.installs.append(context.name)
        return ["ConfigMap/default/recorded"]


@pytest.fixture
def addon(register_plugin):
    plugin = RecordingAddon()
    register_plugin(plugin, "recording-addon")
    return plugin


@pytest.fixture
def cluster(config_factory, dummy_provider, dummy_cluster, addon, tmp_path):
    spec = {**DUMMY_CLUSTER["spec"], "addons": [{"name": "recorded"}]}
    path = config_factory({**DUMMY_CLUSTER, "spec": spec})
    return str(path), ("--state", f"sqlite:///{tmp_path}/state.db")


def outcomes(stdout: str) -> dict[str, tuple[str, str]]:
    data = json.loads(stdout)
    return {o["phase"]: (o["status"], o["detail"]) for o in data["outcomes"]}


def journal(tmp_path, phase: str) -> list[tuple[str, str, str]]:
    from sloth_kubernetes.state import open_store

    with open_store(f"sqlite:///{tmp_path}/state.db") as store:
        return [
            (e.node, e.step, e.status) for e in store.journal_entries("test") if e.phase == phase
        ]


def test_a_failed_distro_skips_addons_and_verify_with_the_reason_and_exits_1(
    sloth_cli, cluster, dummy_cluster, addon, tmp_path
):
    path, state = cluster
    dummy_cluster.distro_error = OFFLINE
    result = sloth_cli(*state, "up", "-f", path, "--yes", "-o", "json")
    assert result.exit_code == 1
    final = outcomes(result.stdout)
    assert final["provision"] == ("done", "3 created")
    assert final["distro"][0] == "failed"
    assert OFFLINE in final["distro"][1]
    for later in ("addons", "verify"):
        assert final[later] == ("skipped", "distro failed (its error is above)")
    assert addon.installs == []  # nothing was written for a distribution that is not there
    assert ("", "addons", "skipped") in journal(tmp_path, "addons")
    assert not [e for e in journal(tmp_path, "addons") if e[2] == "done"]
    assert json.loads(result.stdout)["converged"] is False

    table = sloth_cli(*state, "up", "-f", path, "--yes")  # the human summary says the same
    assert table.exit_code == 1
    assert "addons     skipped — distro failed (its error is above)" in table.stdout

    status = json.loads(sloth_cli(*state, "status", "test", "-o", "json").stdout)
    assert status["converged"] is False
    assert status["distribution"]["installed"] is False
    assert OFFLINE in status["distribution"]["detail"]
    human = sloth_cli(*state, "status", "test").stdout
    assert "Distribution dummy: not installed" in human

    dummy_cluster.distro_error = None  # the release arrived: the next `up` finishes the job
    again = sloth_cli(*state, "up", "-f", path, "--yes", "-o", "json")
    assert again.exit_code == 0, again.stderr
    assert outcomes(again.stdout)["addons"] == ("done", "1 installed")
    assert addon.installs == ["test"]
    assert json.loads(sloth_cli(*state, "status", "test", "-o", "json").stdout)["distribution"][
        "installed"
    ]


def test_until_reports_the_phases_it_did_not_run_as_not_run(sloth_cli, cluster, addon, tmp_path):
    path, state = cluster
    result = sloth_cli(*state, "up", "-f", path, "--yes", "--until", "mesh", "-o", "json")
    assert result.exit_code == 0, result.stderr
    final = outcomes(result.stdout)
    assert [final[p][0] for p in ("provision", "connect", "prepare", "mesh")] == [
        "done", "skipped", "skipped", "done",
    ]  # fmt: skip
    assert final["connect"][1].startswith("no node is reached over SSH")
    for later in ("distro", "addons", "verify"):
        assert final[later] == ("not run", "--until mesh")
        assert journal(tmp_path, later) == []  # not part of the run: nothing journaled
    assert addon.installs == []
    history = json.loads(sloth_cli(*state, "state", "history", "test", "-o", "json").stdout)
    summary = history["operations"][0]["summary"]
    assert summary["outcomes"] == {
        "provision": "done", "connect": "skipped", "prepare": "skipped", "mesh": "done",
        "distro": "not run", "addons": "not run", "verify": "not run",
    }  # fmt: skip


def test_only_a_phase_whose_groundwork_is_missing_is_skipped_and_fails_the_run(
    sloth_cli, cluster, addon, dummy_cluster
):
    path, state = cluster
    fresh = sloth_cli(*state, "up", "-f", path, "--yes", "--only", "mesh", "-o", "json")
    assert fresh.exit_code == 1
    status, detail = outcomes(fresh.stdout)["mesh"]
    assert status == "skipped"
    assert "no machine yet" in detail
    assert dummy_cluster.calls == []

    assert sloth_cli(*state, "up", "-f", path, "--yes", "--until", "mesh").exit_code == 0
    only = sloth_cli(*state, "up", "-f", path, "--yes", "--only", "addons")
    assert only.exit_code == 1
    assert "phase addons could not run: distro is not done on test-agents-1" in only.stderr
    assert addon.installs == []
    final = outcomes(
        sloth_cli(*state, "up", "-f", path, "--yes", "--only", "addons", "-o", "json").stdout
    )
    assert final["provision"] == ("not run", "--only addons")
    assert final["connect"][0] == "skipped"  # needed by the add-ons; the dummy has no SSH
    assert final["addons"][0] == "skipped"
