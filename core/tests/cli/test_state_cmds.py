"""The `state` commands through the real CLI, against real SQLite and PostgreSQL stores."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import pytest
from sloth_kubernetes.errors import StateError
from sloth_kubernetes.secrets import forget_all
from sloth_kubernetes.state import ClusterRecord, NodeRecord, StateStore, open_store
from sloth_kubernetes.state.keys import ENV_PASSPHRASE
from sloth_kubernetes.state.location import ENV_STATE

PG_PASSPHRASE = "state-cmd test passphrase"
TOKEN = "tok-4f9a2c7e1b-cluster-join-token"
KUBECONFIG = "apiVersion: v1\nclient-key-data: S0VZLWZvci10ZXN0aW5nLW9ubHk="
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBvY6lQ0sFqf2i0ZlmV0x0b7pW2z8p2vYk4mZB1r2D1F"

#: A separate process that takes a cluster's lock and holds it until a line arrives on stdin.
LOCK_HOLDER = """
import sys
from sloth_kubernetes.state import open_store
store = open_store(sys.argv[1])
handle = store.lock(sys.argv[2], "up")
print(handle.holder.pid, flush=True)
sys.stdin.readline()
handle.release()
store.close()
"""


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # a wide terminal: table rows stay on one line
    monkeypatch.delenv(ENV_PASSPHRASE, raising=False)
    monkeypatch.delenv(ENV_STATE, raising=False)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def state_url(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """An empty store of each backend (PostgreSQL stores get a passphrase from the env)."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'state' / 'state.db'}"
    monkeypatch.setenv(ENV_PASSPHRASE, PG_PASSPHRASE)
    return str(request.getfixturevalue("postgres_database_url"))


@pytest.fixture
def open_state() -> Iterator[Callable[[str], StateStore]]:
    opened: list[StateStore] = []

    def opener(url: str) -> StateStore:
        store = open_store(url)
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


@pytest.fixture
def store(state_url: str, open_state: Callable[[str], StateStore]) -> StateStore:
    return open_state(state_url)


def populate(store: StateStore, name: str = "demo", *, nodes: int = 2) -> None:
    """A cluster as `up` leaves it: record, nodes, secrets, allocations, history, audit."""
    store.put_cluster(ClusterRecord(name, {"metadata": {"name": name}, "spec": {"nodes": nodes}}))
    for index in range(1, nodes + 1):
        node = f"{name}-servers-{index}"
        store.put_node(
            NodeRecord(
                name, node, pool="servers", provider="dummy", cloud_id=f"i-{index}",
                roles=("server",), public_address=f"203.0.113.{index}", host_key=HOST_KEY,
                phases={"mesh": "done"},
            )
        )  # fmt: skip
        store.allocate_address(name, "mesh", node, "10.8.0.0/24")
    store.put_secret(name, "token", TOKEN)
    store.put_secret(name, "kubeconfig", KUBECONFIG)
    for run, outcome, status in (("run-1", "failed", "failed"), ("run-2", "success", "done")):
        op = store.begin_operation(name, f"up -f {name}.yaml", "alice", "laptop")
        store.journal_record(name, run, "provision", f"{name}-servers-1", "create", "done")
        store.journal_record(name, run, "mesh", f"{name}-servers-1", "peers", "started")
        store.journal_record(name, run, "mesh", f"{name}-servers-1", "peers", status)
        store.end_operation(op, outcome, {"run": run})
    store.audit_append(command="up", cluster=name, outcome="success", resources={"nodes": nodes})
    forget_all()  # nothing in this process may mask a leaked value in the output


@pytest.fixture
def lock_holder(tmp_path: Path) -> Iterator[Callable[[str, str], int]]:
    """``lock_holder(url, cluster)`` → pid of a live process holding the cluster's lock."""
    processes: list[subprocess.Popen[str]] = []

    def hold(url: str, cluster: str) -> int:
        process = subprocess.Popen(
            [sys.executable, "-c", LOCK_HOLDER, url, cluster],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        processes.append(process)
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.strip().isdigit(), process.stderr.read() if process.stderr else line
        return int(line)

    yield hold
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def test_list_shows_each_cluster_with_nodes_last_operation_and_lock_holder(
    sloth_cli, state_url, store, lock_holder
):
    populate(store, "demo", nodes=2)
    populate(store, "other", nodes=1)
    pid = lock_holder(state_url, "other")

    result = sloth_cli("--state", state_url, "state", "list", "-o", "json")
    assert result.exit_code == 0, result.stderr
    clusters = {c["name"]: c for c in json.loads(result.stdout)}
    assert sorted(clusters) == ["demo", "other"]
    assert set(clusters["demo"]) == {"name", "nodes", "last_operation", "updated_at", "lock"}
    assert clusters["demo"]["nodes"] == 2
    assert clusters["demo"]["last_operation"]["outcome"] == "success"
    assert clusters["demo"]["last_operation"]["command"] == "up -f demo.yaml"
    assert clusters["demo"]["lock"] is None
    assert clusters["other"]["lock"]["pid"] == pid
    assert clusters["other"]["lock"]["command"] == "up"

    table = sloth_cli("--state", state_url, "state", "list")
    assert table.exit_code == 0, table.stderr
    demo_row = next(line for line in table.stdout.splitlines() if " demo " in line)
    assert "up -f demo.yaml" in demo_row
    assert "success" in demo_row
    other_row = next(line for line in table.stdout.splitlines() if " other " in line)
    assert f"pid {pid} (up)" in other_row


def test_list_of_an_empty_store_says_so(sloth_cli, state_url, store):
    result = sloth_cli("--state", state_url, "state", "list")
    assert result.exit_code == 0, result.stderr
    assert "No clusters in " in result.stdout


@pytest.mark.parametrize(
    "command",
    [
        ("state", "list"),
        ("state", "show", "demo"),
        ("state", "history", "demo"),
        ("audit", "log"),
        ("audit", "verify"),
        ("status",),
        ("kubeconfig", "demo"),
    ],
)
def test_read_commands_never_create_a_store(sloth_cli, tmp_path, command):
    missing = tmp_path / "no" / "such" / "state.db"
    result = sloth_cli("--state", str(missing), *command)
    assert result.exit_code == 1, result.stderr
    assert f"error: there is no state at {missing}" in result.stderr
    assert "hint: " in result.stderr
    assert not (tmp_path / "no").exists()


def test_read_commands_never_write_a_key_over_existing_secrets(sloth_cli, tmp_path, monkeypatch):
    """With the key record lost, reads must not seal a new salt and key check: that would
    make every stored secret undecryptable for good."""
    url = f"sqlite://{tmp_path / 'state.db'}"
    monkeypatch.setenv(ENV_PASSPHRASE, "correct horse")
    with open_store(url) as opened:
        opened.put_secret("demo", "token", "s3cret")
        with opened.write() as tx:
            tx.execute("DELETE FROM meta WHERE key IN ('key_check', 'kdf', 'key_source')")
    before = (tmp_path / "state.db").read_bytes()
    for command in (("state", "list"), ("state", "show", "demo"), ("audit", "verify"),
                    ("kubeconfig", "demo")):  # fmt: skip
        sloth_cli("--state", url, *command)
    assert (tmp_path / "state.db").read_bytes() == before
    with open_store(url) as opened, pytest.raises(StateError) as caught:
        opened.put_secret("demo", "other", "x")
    assert "key record (salt and key check)" in str(caught.value)
    assert "holds 1 encrypted secret" in str(caught.value)


def test_show_gives_the_record_nodes_and_secret_names_but_never_secret_values(
    sloth_cli, state_url, store
):
    populate(store)
    result = sloth_cli("--state", state_url, "state", "show", "demo", "-o", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {
        "name", "store", "cluster", "nodes", "secrets", "allocations", "manifests", "lock",
    }  # fmt: skip
    assert data["cluster"]["spec"] == {"metadata": {"name": "demo"}, "spec": {"nodes": 2}}
    assert len(data["cluster"]["spec_hash"]) == 64
    assert [n["name"] for n in data["nodes"]] == ["demo-servers-1", "demo-servers-2"]
    assert data["nodes"][0]["roles"] == ["server"]
    assert data["nodes"][0]["host_key_fingerprint"].startswith("SHA256:")
    assert data["secrets"] == ["kubeconfig", "token"]
    assert {(a["owner"], a["address"]) for a in data["allocations"]} == {
        ("demo-servers-1", "10.8.0.1"),
        ("demo-servers-2", "10.8.0.2"),
    }
    assert data["lock"] is None

    for fmt in ("table", "json", "yaml"):
        shown = sloth_cli("--state", state_url, "state", "show", "demo", "-o", fmt)
        assert shown.exit_code == 0, shown.stderr
        for value in (TOKEN, "S0VZLWZvci10ZXN0aW5nLW9ubHk="):
            assert value not in shown.stdout + shown.stderr
    table = sloth_cli("--state", state_url, "state", "show", "demo").stdout
    assert "kubeconfig, token" in table
    assert "203.0.113.2" in table
    assert data["nodes"][0]["host_key_fingerprint"] in table


def test_an_unknown_cluster_is_an_error_naming_the_known_ones(sloth_cli, state_url, store):
    populate(store, "alpha", nodes=1)
    populate(store, "beta", nodes=1)
    for command in (["show", "gamma"], ["history", "gamma"], ["unlock", "gamma", "--force"]):
        result = sloth_cli("--state", state_url, "state", *command)
        assert result.exit_code == 1
        assert "there is no cluster 'gamma'" in result.stderr
        assert "known clusters: alpha, beta" in result.stderr
        assert "hint: " in result.stderr
        assert "Traceback" not in result.stderr


def test_history_lists_operations_newest_first_and_the_journal_of_the_last_run(
    sloth_cli, state_url, store
):
    populate(store)
    result = sloth_cli("--state", state_url, "state", "history", "demo", "-o", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert [op["outcome"] for op in data["operations"]] == ["success", "failed"]
    assert data["operations"][0]["summary"] == {"run": "run-2"}
    assert data["last_run"]["run_id"] == "run-2"
    assert [(e["phase"], e["step"], e["status"]) for e in data["last_run"]["journal"]] == [
        ("provision", "create", "done"),
        ("mesh", "peers", "started"),
        ("mesh", "peers", "done"),
    ]
    limited = sloth_cli("--state", state_url, "state", "history", "demo", "--limit", "1", "-o",
                        "json")  # fmt: skip
    assert [op["outcome"] for op in json.loads(limited.stdout)["operations"]] == ["success"]
    table = sloth_cli("--state", state_url, "state", "history", "demo")
    assert table.exit_code == 0, table.stderr
    assert "journal of the last run (run-2)" in table.stdout


def test_export_then_import_round_trips_with_secrets_still_encrypted(
    sloth_cli, state_url, store, tmp_path
):
    populate(store)
    export = tmp_path / "demo.json"
    result = sloth_cli("--state", state_url, "state", "export", "demo", "-o", str(export))
    assert result.exit_code == 0, result.stderr
    assert "2 nodes, 2 secrets" in result.stdout
    assert export.stat().st_mode & 0o777 == 0o600
    text = export.read_text()
    assert TOKEN not in text
    assert "S0VZLWZvci10ZXN0aW5nLW9ubHk=" not in text
    assert json.loads(text)["name"] == "demo"

    again = sloth_cli("--state", state_url, "state", "export", "demo", "-o", str(export))
    assert again.exit_code == 1
    assert "already exists" in again.stderr
    assert "--force" in again.stderr
    export.chmod(0o644)
    forced = sloth_cli("--state", state_url, "state", "export", "demo", "-o", str(export),
                       "--force")  # fmt: skip
    assert forced.exit_code == 0, forced.stderr
    assert export.stat().st_mode & 0o777 == 0o600

    exists = sloth_cli("--state", state_url, "state", "import", str(export))
    assert exists.exit_code == 1
    assert "already exists" in exists.stderr

    store.delete_cluster("demo")
    imported = sloth_cli("--state", state_url, "state", "import", str(export))
    assert imported.exit_code == 0, imported.stderr
    assert "imported cluster 'demo'" in imported.stdout
    secret = store.get_secret("demo", "token")
    assert secret is not None
    assert secret.reveal() == TOKEN
    assert [n.name for n in store.list_nodes("demo")] == ["demo-servers-1", "demo-servers-2"]
    assert store.list_allocations("demo", "mesh")["demo-servers-2"] == "10.8.0.2"
    assert store.lock_info("demo") is None

    replaced = sloth_cli("--state", state_url, "state", "import", str(export), "--replace")
    assert replaced.exit_code == 0, replaced.stderr
    assert "replaced cluster 'demo'" in replaced.stdout
    commands = [(e.command, e.outcome) for e in store.audit_entries("demo")]
    assert ("state export", "exported") in commands
    assert ("state import", "imported") in commands
    assert ("state import", "replaced") in commands


def test_import_into_another_store_needs_the_same_passphrase(
    sloth_cli, tmp_path, monkeypatch, open_state
):
    monkeypatch.setenv(ENV_PASSPHRASE, "the team passphrase")
    source_url = f"sqlite://{tmp_path / 'a' / 'state.db'}"
    populate(open_state(source_url))
    export = tmp_path / "demo.json"
    assert (
        sloth_cli("--state", source_url, "state", "export", "demo", "-o", str(export)).exit_code
        == 0
    )

    same = f"sqlite://{tmp_path / 'b' / 'state.db'}"
    assert sloth_cli("--state", same, "state", "import", str(export)).exit_code == 0
    secret = open_state(same).get_secret("demo", "kubeconfig")
    assert secret is not None
    assert secret.reveal() == KUBECONFIG

    monkeypatch.setenv(ENV_PASSPHRASE, "another passphrase")
    other = f"sqlite://{tmp_path / 'c' / 'state.db'}"
    refused = sloth_cli("--state", other, "state", "import", str(export))
    assert refused.exit_code == 1
    assert "encrypted with key" in refused.stderr
    assert "hint: " in refused.stderr
    assert open_state(other).cluster_names() == []


def test_import_of_a_file_that_is_not_an_export_is_refused(sloth_cli, state_url, tmp_path):
    bogus = tmp_path / "bogus.json"
    for content in ("not json at all", json.dumps({"hello": "world"})):
        bogus.write_text(content)
        result = sloth_cli("--state", state_url, "state", "import", str(bogus))
        assert result.exit_code == 1
        assert "is not a sloth-kubernetes cluster export" in result.stderr
        assert "state export" in result.stderr
    missing = sloth_cli("--state", state_url, "state", "import", str(tmp_path / "nope.json"))
    assert missing.exit_code == 1
    assert "cannot read" in missing.stderr


@pytest.mark.postgres
def test_migrate_sqlite_to_postgresql_moves_clusters_secrets_and_the_audit_log(
    sloth_cli, tmp_path, monkeypatch, open_state, postgres_database_url
):
    sqlite_url = f"sqlite://{tmp_path / 'state' / 'state.db'}"
    source = open_state(sqlite_url)  # keyed by its key file: no passphrase yet
    populate(source, "demo")
    populate(source, "edge", nodes=1)
    monkeypatch.setenv(ENV_PASSPHRASE, PG_PASSPHRASE)  # the team store's passphrase

    # The password comes from libpq's PGPASSWORD, so it is not on the command line.
    parts = urlsplit(postgres_database_url)
    monkeypatch.setenv("PGPASSWORD", unquote(parts.password or ""))
    netloc = f"{parts.username}@{parts.hostname}:{parts.port}"
    without_password = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    result = sloth_cli("--state", sqlite_url, "state", "migrate", "--to", without_password)
    assert result.exit_code == 0, result.stderr
    assert "migrated 2 cluster(s)" in result.stdout
    assert "demo: 2 nodes, 2 secrets" in result.stdout
    assert "edge: 1 nodes, 2 secrets" in result.stdout
    assert "(chain verified)" in result.stdout

    listed = sloth_cli("--state", postgres_database_url, "state", "list", "-o", "json")
    assert listed.exit_code == 0, listed.stderr
    assert [c["name"] for c in json.loads(listed.stdout)] == ["demo", "edge"]
    team = open_state(postgres_database_url)
    secret = team.get_secret("demo", "token")
    assert secret is not None
    assert secret.reveal() == TOKEN
    verified = sloth_cli("--state", postgres_database_url, "audit", "verify")
    assert verified.exit_code == 0, verified.stderr
    assert [e.outcome for e in team.audit_entries()][-1] == "migrated-in"
    assert source.audit_entries()[-1].outcome == "migrated-out"

    again = sloth_cli("--state", sqlite_url, "state", "migrate", "--to", postgres_database_url)
    assert again.exit_code == 1
    assert "is not empty" in again.stderr


def test_unlock_without_force_names_the_holder_and_with_force_breaks_the_lock(
    sloth_cli, state_url, store, lock_holder
):
    populate(store)
    pid = lock_holder(state_url, "demo")

    refused = sloth_cli("--state", state_url, "state", "unlock", "demo")
    assert refused.exit_code == 1
    assert "cluster 'demo' is locked by " in refused.stderr
    assert f"(pid {pid}, `up`, since " in refused.stderr
    assert "state unlock demo --force" in refused.stderr
    held = store.lock_info("demo")
    assert held is not None
    assert held.pid == pid

    forced = sloth_cli("--state", state_url, "state", "unlock", "demo", "--force")
    assert forced.exit_code == 0, forced.stderr
    assert f"removed the lock of cluster 'demo' held by {held.describe()}" in forced.stdout
    assert store.lock_info("demo") is None
    entry = store.audit_entries("demo")[-1]
    assert (entry.command, entry.outcome) == ("state unlock --force", "unlocked")
    assert entry.resources == {"holder": held.describe()}

    free = sloth_cli("--state", state_url, "state", "unlock", "demo")
    assert free.exit_code == 0
    assert "is not locked" in free.stdout


def test_a_cluster_known_only_by_its_lock_can_be_inspected_and_unlocked(
    sloth_cli, state_url, store, lock_holder
):
    # An `up` that died right after taking its lock leaves nothing else behind.
    pid = lock_holder(state_url, "fresh")
    listed = json.loads(sloth_cli("--state", state_url, "state", "list", "-o", "json").stdout)
    assert [(c["name"], c["nodes"], c["lock"]["pid"]) for c in listed] == [("fresh", 0, pid)]
    shown = sloth_cli("--state", state_url, "state", "show", "fresh", "-o", "json")
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout)["cluster"] is None
    refused = sloth_cli("--state", state_url, "state", "unlock", "fresh")
    assert refused.exit_code == 1
    assert f"pid {pid}" in refused.stderr
    assert "its holder may still be running" in refused.stderr
    assert sloth_cli("--state", state_url, "state", "unlock", "fresh", "--force").exit_code == 0
    assert store.lock_info("fresh") is None


def test_unlock_of_a_stale_lock_explains_that_the_next_command_takes_it_over(
    sloth_cli, state_url, store, tmp_path
):
    populate(store)
    script = (
        "import os, sys\n"
        "from sloth_kubernetes.state import open_store\n"
        "open_store(sys.argv[1]).lock('demo', 'up')\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", script, state_url], check=True, timeout=60)
    refused = sloth_cli("--state", state_url, "state", "unlock", "demo")
    assert refused.exit_code == 1
    assert "its holder is no longer running, so the next command takes it over" in refused.stderr


def test_a_mutating_command_is_refused_while_a_live_process_holds_the_lock(
    sloth_cli, state_url, store, lock_holder, tmp_path, monkeypatch
):
    populate(store)
    export = tmp_path / "demo.json"
    assert (
        sloth_cli("--state", state_url, "state", "export", "demo", "-o", str(export)).exit_code == 0
    )
    pid = lock_holder(state_url, "demo")
    before = store.export_cluster("demo")

    imported = sloth_cli("--state", state_url, "state", "import", str(export), "--replace")
    assert imported.exit_code == 1
    assert "cluster 'demo' is locked by " in imported.stderr
    assert f"pid {pid}" in imported.stderr

    monkeypatch.setenv("NEW_STATE_PASSPHRASE", "a brand new passphrase")
    rekeyed = sloth_cli("--state", state_url, "state", "rekey", "--passphrase-env",
                        "NEW_STATE_PASSPHRASE", "--yes")  # fmt: skip
    assert rekeyed.exit_code == 1
    assert f"pid {pid}" in rekeyed.stderr
    after = store.export_cluster("demo")
    for key in ("cluster", "nodes", "allocations", "journal", "operations", "secrets"):
        assert after[key] == before[key], key
    holder = store.lock_info("demo")
    assert holder is not None
    assert holder.pid == pid


def test_rekey_with_a_passphrase_from_the_environment(
    sloth_cli, state_url, store, monkeypatch, open_state
):
    populate(store)
    old = store.key_fingerprint()
    new_passphrase = "rekeyed passphrase 9f3b"
    monkeypatch.setenv("NEW_STATE_PASSPHRASE", new_passphrase)
    args = ("--state", state_url, "state", "rekey", "--passphrase-env", "NEW_STATE_PASSPHRASE")

    declined = sloth_cli(*args, input="n\n")
    assert declined.exit_code == 1
    assert "Re-encrypt 2 secret(s)" in declined.stderr
    assert store.key_fingerprint() == old

    result = sloth_cli(*args, input="y\n")
    assert result.exit_code == 0, result.stderr
    assert "re-encrypted 2 secret(s)" in result.stdout
    assert new_passphrase not in result.stdout + result.stderr
    assert store.key_fingerprint() != old
    assert store.audit_entries("")[-1].command == "state rekey"

    if state_url.startswith("postgresql"):
        monkeypatch.setenv(ENV_PASSPHRASE, PG_PASSPHRASE)  # the old passphrase fails
    else:
        monkeypatch.delenv(ENV_PASSPHRASE, raising=False)  # the old key file is gone
    with pytest.raises(StateError):
        open_state(state_url).get_secret("demo", "token")
    monkeypatch.setenv(ENV_PASSPHRASE, new_passphrase)
    secret = open_state(state_url).get_secret("demo", "token")
    assert secret is not None
    assert secret.reveal() == TOKEN


def test_rekey_needs_a_named_variable_that_is_set(sloth_cli, state_url, store):
    populate(store)
    neither = sloth_cli("--state", state_url, "state", "rekey", "--yes")
    assert neither.exit_code == 2
    assert "--passphrase-env VAR or --key-file" in neither.stderr
    unset = sloth_cli("--state", state_url, "state", "rekey", "--passphrase-env",
                      "SLOTH_TEST_UNSET_VARIABLE", "--yes")  # fmt: skip
    assert unset.exit_code == 2
    assert "SLOTH_TEST_UNSET_VARIABLE is not set" in unset.stderr


def test_rekey_back_to_a_key_file(sloth_cli, tmp_path, monkeypatch, open_state):
    url = f"sqlite://{tmp_path / 'state' / 'state.db'}"
    monkeypatch.setenv(ENV_PASSPHRASE, "passphrase to leave behind")
    populate(open_state(url))
    result = sloth_cli("--yes", "--state", url, "state", "rekey", "--key-file")
    assert result.exit_code == 0, result.stderr
    key_file = tmp_path / "state" / "state.key"
    assert f"New key file: {key_file}" in result.stdout
    assert key_file.stat().st_mode & 0o777 == 0o600
    monkeypatch.delenv(ENV_PASSPHRASE)
    secret = open_state(url).get_secret("demo", "token")
    assert secret is not None
    assert secret.reveal() == TOKEN


@pytest.mark.postgres
def test_rekey_of_postgresql_to_a_key_file_is_refused(sloth_cli, monkeypatch, postgres_database_url,
                                                      open_state):  # fmt: skip
    monkeypatch.setenv(ENV_PASSPHRASE, PG_PASSPHRASE)
    populate(open_state(postgres_database_url))
    result = sloth_cli("--state", postgres_database_url, "state", "rekey", "--key-file", "--yes")
    assert result.exit_code == 1
    assert "can only be keyed by a passphrase" in result.stderr


def test_an_unreachable_store_is_a_state_error_with_a_hint_and_no_password(sloth_cli):
    url = "postgresql://sloth:pw-never-shown@127.0.0.1:1/nowhere"
    result = sloth_cli("--state", url, "state", "list")
    assert result.exit_code == 1
    assert "cannot connect to the PostgreSQL state at 127.0.0.1:1" in result.stderr
    assert "hint: " in result.stderr
    assert "pw-never-shown" not in result.stdout + result.stderr
