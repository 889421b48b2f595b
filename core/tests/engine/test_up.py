"""The engine end to end with the fake provider, mesh and distro: plan, up, resume, destroy."""

from __future__ import annotations

import json

import pytest
from sloth_kubernetes.testing.plugin import DUMMY_CLUSTER


@pytest.fixture
def cluster(config_factory, dummy_provider, dummy_cluster, tmp_path):
    """A config with 1 server + 2 agents on the dummy provider, and the --state option."""
    path = config_factory(DUMMY_CLUSTER)
    return path, ["--state", f"sqlite:///{tmp_path}/state.db"]


def test_up_creates_every_node_runs_every_phase_and_converges(
    sloth_cli, cluster, dummy_provider, dummy_cluster
):
    path, state = cluster
    result = sloth_cli(*state, "up", "-f", str(path), "--yes", "-o", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["converged"] is True
    assert sorted(data["changed"]["created"]) == [
        "test-agents-1",
        "test-agents-2",
        "test-servers-1",
    ]
    assert [c[0] for c in dummy_cluster.calls] == ["mesh", "distro"]
    status = json.loads(sloth_cli(*state, "status", "test", "-o", "json").stdout)
    assert status["converged"] is True
    assert {n["name"]: n["phases"] for n in status["nodes"]}["test-servers-1"] == {
        "prepare": "done",
        "mesh": "done",
        "distro": "done",
    }
    assert all(n["meshAddress"].startswith("10.100.") for n in status["nodes"])


def test_a_converged_cluster_reruns_as_a_no_op(sloth_cli, cluster, dummy_provider, dummy_cluster):
    path, state = cluster
    assert sloth_cli(*state, "up", "-f", str(path), "--yes").exit_code == 0
    calls = list(dummy_cluster.calls)
    again = sloth_cli(*state, "up", "-f", str(path), "--yes")
    assert again.exit_code == 0
    assert "up to date: no changes" in again.stdout
    assert dummy_cluster.calls == calls
    assert len(dummy_provider.creations()) == 3
    plan = sloth_cli(*state, "plan", "-f", str(path), "--detailed-exitcode")
    assert plan.exit_code == 0, plan.stdout


def test_dry_run_changes_nothing(sloth_cli, cluster, dummy_provider):
    path, state = cluster
    result = sloth_cli(*state, "up", "-f", str(path), "--dry-run")
    assert result.exit_code == 0
    assert "create test-servers-1" in result.stdout
    assert dummy_provider.machines == {}
    assert "No clusters" in sloth_cli(*state, "status").stdout


def test_scaling_down_deletes_only_after_confirmation(
    sloth_cli, cluster, config_factory, dummy_provider
):
    path, state = cluster
    assert sloth_cli(*state, "up", "-f", str(path), "--yes").exit_code == 0
    smaller = config_factory(
        {
            **DUMMY_CLUSTER,
            "spec": {
                **DUMMY_CLUSTER["spec"],
                "nodePools": [
                    {"name": "servers", "provider": "dummy", "count": 1, "roles": ["server"]},
                    {"name": "agents", "provider": "dummy", "count": 1, "roles": ["agent"]},
                ],
            },
        }
    )
    refused = sloth_cli(*state, "up", "-f", str(smaller))
    assert refused.exit_code == 1
    assert "delete test-agents-2" in refused.stderr
    assert "--yes" in refused.stderr
    assert "test-agents-2" in dummy_provider.machines
    assert sloth_cli(*state, "up", "-f", str(smaller), "--yes").exit_code == 0
    assert sorted(dummy_provider.machines) == ["test-agents-1", "test-servers-1"]
    status = json.loads(sloth_cli(*state, "status", "test", "-o", "json").stdout)
    assert sorted(n["name"] for n in status["nodes"]) == ["test-agents-1", "test-servers-1"]


def test_a_machine_deleted_by_hand_is_planned_as_missing_and_replaced(
    sloth_cli, cluster, dummy_provider
):
    path, state = cluster
    assert sloth_cli(*state, "up", "-f", str(path), "--yes").exit_code == 0
    dummy_provider.delete_by_hand("test-agents-1")
    plan = sloth_cli(*state, "plan", "-f", str(path))
    assert "create test-agents-1" in plan.stdout
    assert "missing at the provider" in plan.stdout
    assert sloth_cli(*state, "up", "-f", str(path), "--yes").exit_code == 0
    assert "test-agents-1" in dummy_provider.machines
    assert dummy_provider.creations().count("test-agents-1") == 2


def test_one_failing_node_does_not_stop_the_others(
    sloth_cli, config_factory, dummy_provider, dummy_cluster, tmp_path
):
    state = ["--state", f"sqlite:///{tmp_path}/state.db"]
    path = config_factory(
        {
            **DUMMY_CLUSTER,
            "spec": {
                **DUMMY_CLUSTER["spec"],
                "providers": {"dummy": {"failNodes": ["test-agents-2"]}},
            },
        }
    )
    result = sloth_cli(*state, "up", "-f", str(path), "--yes")
    assert result.exit_code == 1
    assert "test-agents-2" in result.stderr
    assert sorted(dummy_provider.machines) == ["test-agents-1", "test-servers-1"]


def test_saved_plan_is_applied_and_refused_once_state_changed(
    sloth_cli, cluster, tmp_path, dummy_provider
):
    path, state = cluster
    saved = tmp_path / "plan.json"
    assert sloth_cli(*state, "plan", "-f", str(path), "--out", str(saved)).exit_code == 0
    assert sloth_cli(*state, "up", "--plan", str(saved), "--yes").exit_code == 0
    assert len(dummy_provider.machines) == 3
    stale = sloth_cli(*state, "up", "--plan", str(saved), "--yes")
    assert stale.exit_code == 1
    assert "state changed since this plan was made" in stale.stderr


def test_a_second_writer_is_refused_naming_the_holder(sloth_cli, cluster, tmp_path):
    from sloth_kubernetes.state import open_store

    path, state = cluster
    with open_store(f"sqlite:///{tmp_path}/state.db") as store, store.lock("test", "up"):
        result = sloth_cli(*state, "up", "-f", str(path), "--yes")
    assert result.exit_code == 1
    assert "is locked by" in result.stderr
    assert "state unlock" in result.stderr


def test_destroy_removes_everything_and_protect_refuses(
    sloth_cli, config_factory, cluster, dummy_provider
):
    path, state = cluster
    assert sloth_cli(*state, "up", "-f", str(path), "--yes").exit_code == 0
    dry = sloth_cli(*state, "destroy", "test", "--dry-run")
    assert "would remove 3" in dry.stdout
    assert len(dummy_provider.machines) == 3
    assert sloth_cli(*state, "destroy", "test", "--yes").exit_code == 0
    assert dummy_provider.machines == {}
    assert "No clusters" in sloth_cli(*state, "status").stdout
    protected = config_factory({**DUMMY_CLUSTER, "metadata": {"name": "test", "protect": True}})
    assert sloth_cli(*state, "up", "-f", str(protected), "--yes").exit_code == 0
    refused = sloth_cli(*state, "destroy", "test", "--yes")
    assert refused.exit_code == 1
    assert "protected" in refused.stderr
    assert sloth_cli(*state, "destroy", "test", "--yes", "--force").exit_code == 0


def test_until_stops_after_the_phase_and_the_next_up_continues(sloth_cli, cluster, dummy_cluster):
    path, state = cluster
    assert sloth_cli(*state, "up", "-f", str(path), "--yes", "--until", "provision").exit_code == 0
    assert dummy_cluster.calls == []
    status = json.loads(sloth_cli(*state, "status", "test", "-o", "json").stdout)
    assert status["converged"] is False
    assert sloth_cli(*state, "up", "-f", str(path), "--yes").exit_code == 0
    assert [c[0] for c in dummy_cluster.calls] == ["mesh", "distro"]


def test_concurrency_is_bounded_per_provider_and_in_all(
    sloth_cli, config_factory, dummy_provider, dummy_cluster, register_plugin, tmp_path
):
    from sloth_kubernetes.testing.dummy import DummyProvider

    second = DummyProvider(name="dummy2")
    register_plugin(second, "dummy2")
    state = ["--state", f"sqlite:///{tmp_path}/state.db"]
    path = config_factory({**DUMMY_CLUSTER, "spec": {**DUMMY_CLUSTER["spec"],
        "providers": {"dummy": {}, "dummy2": {}},
        "nodePools": [{"name": "a", "provider": "dummy", "count": 1, "roles": ["server"]},
                      {"name": "b", "provider": "dummy2", "count": 2}]}})  # fmt: skip
    result = sloth_cli(
        *state, "up", "-f", str(path), "--yes", "--parallel", "8", "--max-parallel", "6"
    )
    assert result.exit_code == 0, result.stderr
    assert dummy_provider.seen_concurrency == [3]
    assert second.seen_concurrency == [3]
    assert sorted(second.machines) == ["test-b-1", "test-b-2"]
    smaller = config_factory({**DUMMY_CLUSTER, "metadata": {"name": "other"}})
    assert sloth_cli(*state, "up", "-f", str(smaller), "--yes", "--parallel", "2").exit_code == 0
    assert dummy_provider.seen_concurrency[-1] == 2


def test_a_run_stopped_before_recording_the_spec_converges_on_the_next_up(
    sloth_cli, cluster, tmp_path
):
    from sloth_kubernetes.state import ClusterRecord, open_store

    path, state = cluster
    assert sloth_cli(*state, "up", "-f", str(path), "--yes").exit_code == 0
    with open_store(f"sqlite:///{tmp_path}/state.db") as store:  # as if killed before the end
        record = store.get_cluster("test")
        store.put_cluster(ClusterRecord(name="test", spec=record.spec, spec_hash="pending"))
    assert json.loads(sloth_cli(*state, "status", "test", "-o", "json").stdout)[
        "converged"] is False  # fmt: skip
    plan = sloth_cli(*state, "plan", "-f", str(path))
    assert "record the applied spec" in plan.stdout
    assert sloth_cli(*state, "up", "-f", str(path), "--yes").exit_code == 0
    assert json.loads(sloth_cli(*state, "status", "test", "-o", "json").stdout)["converged"]
    again = sloth_cli(*state, "up", "-f", str(path), "--yes")
    assert "up to date: no changes" in again.stdout


@pytest.mark.parametrize("passphrase", [None, "wrong horse"])
def test_destroy_refuses_a_wrong_or_unset_passphrase_and_lost_key_is_audited(
    sloth_cli, cluster, dummy_provider, monkeypatch, passphrase
):
    from sloth_kubernetes.state import open_store
    from sloth_kubernetes.state.keys import ENV_PASSPHRASE

    path, state = cluster
    monkeypatch.setenv(ENV_PASSPHRASE, "correct horse")
    assert sloth_cli(*state, "up", "-f", str(path), "--yes").exit_code == 0
    with open_store(state[1]) as store:
        secrets = store.list_secret_names("test")
    assert secrets, "up stores the operator key"
    if passphrase is None:
        monkeypatch.delenv(ENV_PASSPHRASE)
    else:
        monkeypatch.setenv(ENV_PASSPHRASE, passphrase)
    for extra in ((), ("--dry-run",)):
        refused = sloth_cli(*state, "destroy", "test", "--yes", *extra)
        assert refused.exit_code == 1, refused.stderr
        assert "refusing to destroy cluster 'test'" in refused.stderr
        assert "--lost-key" in refused.stderr
    assert len(dummy_provider.machines) == 3
    with open_store(state[1]) as store:
        assert store.list_secret_names("test") == secrets
    done = sloth_cli(*state, "destroy", "test", "--yes", "--lost-key")
    assert done.exit_code == 0, done.stderr
    assert dummy_provider.machines == {}
    with open_store(state[1]) as store:
        entry = store.audit_entries("test")[-1]
        assert store.cluster_names() == []
    assert (entry.command, entry.outcome) == ("destroy --lost-key", "succeeded")
    assert entry.resources["key_lost_secrets_discarded"] == len(secrets)


def test_only_and_until_together_are_a_usage_error(sloth_cli, cluster, dummy_provider):
    path, state = cluster
    result = sloth_cli(*state, "up", "-f", str(path), "--yes", "--only", "mesh", "--until",
                       "prepare")  # fmt: skip
    assert result.exit_code == 2
    assert "--only mesh and --until prepare contradict each other" in result.stderr
    assert dummy_provider.machines == {}


def test_a_machine_the_state_lost_is_adopted_and_audited_as_adopted(
    sloth_cli, cluster, dummy_provider, dummy_cluster, tmp_path
):
    """issue #13: a machine a killed run made but never recorded is adopted on the next `up`;
    the summary, the JSON and the audit log say `adopted`, not `created`."""
    from sloth_kubernetes.state import open_store

    path, state = cluster
    assert sloth_cli(*state, "up", "-f", str(path), "--yes").exit_code == 0
    with open_store(f"sqlite:///{tmp_path}/state.db") as store:
        store.delete_node("test", "test-agents-2")  # what a kill before the record leaves
    plan = json.loads(sloth_cli(*state, "plan", "-f", str(path), "-o", "json").stdout)
    assert {"kind": "adopt", "target": "test-agents-2"}.items() <= plan["actions"][0].items()
    again = sloth_cli(*state, "up", "-f", str(path), "--yes", "-o", "json")
    assert again.exit_code == 0, again.stderr
    data = json.loads(again.stdout)
    assert data["changed"]["adopted"] == ["test-agents-2"]
    assert "created" not in data["changed"]
    assert dummy_provider.creations().count("test-agents-2") == 1
    assert "1 adopted" in again.stderr
    with open_store(f"sqlite:///{tmp_path}/state.db") as store:
        audit = [a for a in store.audit_entries("test") if a.command == "up"]
        assert audit[-1].resources["adopted"] == ["test-agents-2"]
        assert "created" not in audit[-1].resources
        steps = {(e.node, e.step, e.status) for e in store.journal_entries("test", data["runId"])}
    assert ("test-agents-2", "adopt", "done") in steps
