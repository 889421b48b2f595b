"""`nodes list|ssh|exec` through the real CLI boundary, against a prepared state store.

The local test hosts authorize the fixture's own key pair (``local_hosts`` takes no key), so the
test stores that pair as the cluster's operator key, exactly where `up` would have put the one it
generated (``engine.operator``'s secret names).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import record_for
from sloth_kubernetes.engine.operator import PRIVATE_KEY_SECRET, PUBLIC_NAME
from sloth_kubernetes.state import open_store
from sloth_kubernetes.state.records import ClusterRecord

Cli = Callable[..., Any]


@pytest.fixture(autouse=True)
def _nodes_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SLOTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SLOTH_STATE", raising=False)
    monkeypatch.delenv("SLOTH_STATE_PASSPHRASE", raising=False)


@pytest.fixture
def state_url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    with open_store(url) as store:
        store.put_cluster(ClusterRecord(name="other"))
    return url


def _put_cluster(url: str, handles: list[Any], private_key: Path | None) -> None:
    with open_store(url) as store:
        store.put_cluster(ClusterRecord(name="t"))
        for index, handle in enumerate(handles):
            roles = ("server",) if index == 0 else ("agent",)
            store.put_node(record_for(handle, roles=roles, phases={"prepare": "done"}))
        if private_key is not None:
            store.put_secret("t", PRIVATE_KEY_SECRET, private_key.read_text())
            store.put_secret("t", PUBLIC_NAME, private_key.with_suffix(".pub").read_text())


def test_unknown_cluster_lists_known_ones(sloth_cli: Cli, state_url: str) -> None:
    result = sloth_cli("--state", state_url, "nodes", "list", "nope")
    assert result.exit_code == 1
    assert "no cluster named 'nope'" in result.stderr
    assert "known clusters: other" in result.stderr


@pytest.mark.hosts
def test_list_shows_addresses_roles_and_phases(
    sloth_cli: Cli, state_url: str, local_hosts: Any
) -> None:
    handles = local_hosts(2)
    _put_cluster(state_url, handles, None)
    result = sloth_cli("--state", state_url, "nodes", "list", "t", "-o", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert [(d["name"], d["roles"], d["private_address"]) for d in data] == [
        ("h1", ["server"], handles[0].address),
        ("h2", ["agent"], handles[1].address),
    ]
    assert data[0]["phases"] == {"prepare": "done"}
    assert data[0]["host_key_pinned"]
    table = sloth_cli("--state", state_url, "nodes", "list", "t")
    assert table.exit_code == 0
    assert "h2" in table.stdout
    assert handles[1].address in table.stdout


@pytest.mark.hosts
def test_exec_all_prefixes_output_and_fails_if_one_node_fails(
    sloth_cli: Cli, state_url: str, local_hosts: Any
) -> None:
    handles = local_hosts(3)
    _put_cluster(state_url, handles, local_hosts.private_key)
    ok = sloth_cli("--state", state_url, "nodes", "exec", "t", "--all", "--", "hostname")
    assert ok.exit_code == 0, ok.stderr
    assert sorted(ok.stdout.splitlines()) == ["[h1] h1", "[h2] h2", "[h3] h3"]
    assert "3 nodes: 3 ok" in ok.stderr

    handles[1].run("touch /root/broken")
    failing = sloth_cli(
        "--state", state_url, "nodes", "exec", "t", "h1", "h2", "--",
        "test ! -e /root/broken || { echo broken >&2; exit 4; }",
    )  # fmt: skip
    assert failing.exit_code == 1
    assert "[h2] broken" in failing.stderr
    assert "2 nodes: 1 ok, 1 failed (h2: exit 4)" in failing.stderr


@pytest.mark.hosts
def test_exec_and_ssh_pass_the_arguments_exactly(
    sloth_cli: Cli, state_url: str, local_hosts: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    _put_cluster(state_url, local_hosts(1), local_hosts.private_key)
    words = ("sh", "-c", 'echo "a  b" \'$HOME\'; printf "%s|" "$@"', "x", "it's", "*")
    expected = ["a  b $HOME", "it's|*|"]
    result = sloth_cli("--state", state_url, "nodes", "exec", "t", "h1", "--", *words)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [f"[h1] {line}" for line in expected]
    ssh = sloth_cli("--state", state_url, "nodes", "ssh", "t", "h1", "--", *words)
    assert ssh.exit_code == 0, ssh.stderr
    assert capfd.readouterr().out.splitlines() == expected
    line = sloth_cli("--state", state_url, "nodes", "exec", "t", "h1", "--", "echo a | tr a b")
    assert line.stdout.splitlines() == ["[h1] b"]


@pytest.mark.hosts
def test_exec_unknown_node_lists_the_clusters_nodes(
    sloth_cli: Cli, state_url: str, local_hosts: Any
) -> None:
    _put_cluster(state_url, local_hosts(1), local_hosts.private_key)
    result = sloth_cli("--state", state_url, "nodes", "exec", "t", "h9", "--", "true")
    assert result.exit_code == 2
    assert "unknown node(s): h9" in result.stderr
    assert "h1" in result.stderr


@pytest.mark.hosts
def test_ssh_runs_a_command_with_the_pinned_key(
    sloth_cli: Cli, state_url: str, local_hosts: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    handles = local_hosts(2)
    _put_cluster(state_url, handles, local_hosts.private_key)
    result = sloth_cli("--state", state_url, "nodes", "ssh", "t", "h2", "--", "hostname")
    assert result.exit_code == 0, result.stderr
    assert capfd.readouterr().out.strip() == "h2"  # the ssh child writes to the real stdout


@pytest.mark.hosts
def test_ssh_refuses_a_node_whose_key_changed(
    sloth_cli: Cli, state_url: str, local_hosts: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    first, second = local_hosts(2)
    _put_cluster(state_url, [first], local_hosts.private_key)
    with open_store(state_url) as store:  # h1's address now answers with h2's host key
        store.put_node(record_for(first, host_key=second.host.host_public_key))
    result = sloth_cli("--state", state_url, "nodes", "ssh", "t", "h1", "--", "hostname")
    assert result.exit_code == 255
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in capfd.readouterr().err
