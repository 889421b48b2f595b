"""The `audit` commands through the real CLI, against real SQLite and PostgreSQL stores."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sloth_kubernetes.state import StateStore, open_store
from sloth_kubernetes.state.keys import ENV_PASSPHRASE
from sloth_kubernetes.state.location import ENV_STATE

ENTRY_KEYS = {"seq", "ts", "actor", "host", "command", "cluster", "outcome", "resources", "hash"}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv(ENV_PASSPHRASE, raising=False)
    monkeypatch.delenv(ENV_STATE, raising=False)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'state' / 'state.db'}"
    return str(request.getfixturevalue("postgres_database_url"))


@pytest.fixture
def store(state_url: str) -> Iterator[StateStore]:
    with open_store(state_url) as opened:
        for index, cluster in enumerate(["demo", "edge", "demo", "demo"], start=1):
            opened.audit_append(
                command=f"up #{index}", cluster=cluster, outcome="success",
                resources={"created": [f"{cluster}-node-{index}"]},
                actor="alice", host="laptop",
            )  # fmt: skip
        yield opened


def test_audit_log_lists_entries_oldest_first_with_a_stable_json_shape(sloth_cli, state_url, store):
    result = sloth_cli("--state", state_url, "audit", "log", "-o", "json")
    assert result.exit_code == 0, result.stderr
    entries = json.loads(result.stdout)
    assert [e["seq"] for e in entries] == [1, 2, 3, 4]
    assert all(set(e) == ENTRY_KEYS for e in entries)
    assert entries[1] == {
        **entries[1],
        "actor": "alice",
        "host": "laptop",
        "command": "up #2",
        "cluster": "edge",
        "outcome": "success",
        "resources": {"created": ["edge-node-2"]},
    }
    table = sloth_cli("--state", state_url, "audit", "log")
    assert table.exit_code == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if "up #2" in line)
    for cell in ("alice", "laptop", "edge", "success", "edge-node-2"):
        assert cell in row


def test_audit_log_of_one_cluster_and_the_newest_n(sloth_cli, state_url, store):
    demo = sloth_cli("--state", state_url, "audit", "log", "demo", "-o", "json")
    assert [e["command"] for e in json.loads(demo.stdout)] == ["up #1", "up #3", "up #4"]
    newest = sloth_cli("--state", state_url, "audit", "log", "demo", "--limit", "2", "-o", "json")
    assert [e["seq"] for e in json.loads(newest.stdout)] == [3, 4]


def test_audit_entries_outlive_their_cluster_but_an_unknown_name_is_an_error(
    sloth_cli, state_url, store
):
    store.delete_cluster("edge")  # audit entries stay
    kept = sloth_cli("--state", state_url, "audit", "log", "edge", "-o", "json")
    assert kept.exit_code == 0, kept.stderr
    assert [e["seq"] for e in json.loads(kept.stdout)] == [2]
    unknown = sloth_cli("--state", state_url, "audit", "log", "nosuch")
    assert unknown.exit_code == 1
    assert "there is no cluster 'nosuch'" in unknown.stderr


def test_audit_verify_of_an_intact_log(sloth_cli, state_url, store):
    result = sloth_cli("--state", state_url, "audit", "verify")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "audit log intact (4 entries)"
    data = json.loads(sloth_cli("--state", state_url, "audit", "verify", "-o", "json").stdout)
    assert data == {"intact": True, "entries": 4, "head": store.audit_head()[0], "problems": []}


def test_audit_verify_detects_a_modified_entry(sloth_cli, state_url, store):
    with store.write() as tx:
        tx.execute("UPDATE audit SET outcome = ? WHERE seq = ?", ("nothing-happened", 2))
    result = sloth_cli("--state", state_url, "audit", "verify")
    assert result.exit_code == 1
    assert "damaged: 1 problem found:" in result.stderr
    assert "audit entry 2 does not match its hash" in result.stderr
    assert "hint: " in result.stderr
    as_json = sloth_cli("--state", state_url, "audit", "verify", "-o", "json")
    assert as_json.exit_code == 1
    data = json.loads(as_json.stdout)
    assert data["intact"] is False
    assert any("entry 2" in problem for problem in data["problems"])


def test_audit_verify_lists_every_problem(sloth_cli, state_url, store):
    with store.write() as tx:
        tx.execute("DELETE FROM audit WHERE seq = ?", (2,))
        tx.execute("DELETE FROM audit WHERE seq = ?", (4,))
    result = sloth_cli("--state", state_url, "audit", "verify")
    assert result.exit_code == 1
    assert "audit entry 2 missing" in result.stderr
    assert "(up to #4) missing" in result.stderr
    assert "not the recorded head" in result.stderr


@pytest.mark.parametrize(
    ("column", "value"), [("resources", "{not json"), ("resources", "[1, 2]"), ("seq", "x")]
)
def test_a_damaged_row_is_reported_by_verify_and_log_with_exit_1(
    sloth_cli, state_url, store, column, value
):
    if column == "seq" and state_url.startswith("postgres"):
        pytest.skip("PostgreSQL's column types refuse a non-numeric seq")
    with store.write() as tx:
        tx.execute(f"UPDATE audit SET {column} = ? WHERE seq = ?", (value, 3))
    verify = sloth_cli("--state", state_url, "audit", "verify")
    assert verify.exit_code == 1, verify.stderr
    where = "'x'" if column == "seq" else "3"
    assert f"audit entry {where} is damaged" in verify.stderr
    assert "internal error" not in verify.stderr
    log = sloth_cli("--state", state_url, "audit", "log")
    assert log.exit_code == 1, log.stderr
    assert f"error: audit entry {where} is damaged" in log.stderr
    assert "hint: " in log.stderr
    as_json = json.loads(sloth_cli("--state", state_url, "audit", "verify", "-o", "json").stdout)
    assert as_json["entries"] == 4
    assert as_json["intact"] is False
