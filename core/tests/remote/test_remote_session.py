"""RemoteSession over real local hosts: pinned keys, facts, idempotent applies, per-node errors."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import record_for
from pyinfra.api.facts import FactBase
from pyinfra.facts.server import Hostname
from pyinfra.operations import files, server
from sloth_kubernetes.errors import RemoteError
from sloth_kubernetes.model import NodeRecord
from sloth_kubernetes.remote import (
    Bastion,
    HostKeyMismatchError,
    RemoteSession,
    fingerprint,
    scan_host_key,
)
from sloth_kubernetes.secrets import register

pytestmark = pytest.mark.hosts
OpenSession = Callable[..., RemoteSession]


class ProbeFile(FactBase[str]):
    """Contents of /root/probe (a fact whose answer the test can change behind its back)."""

    def command(self) -> str:
        return "cat /root/probe 2>/dev/null || echo none"

    def process(self, output: list[str]) -> str:
        return "\n".join(output)


def _connected(local_hosts: Any, open_session: OpenSession, count: int = 3) -> RemoteSession:
    handles = local_hosts(count)
    session = open_session([record_for(h) for h in handles], local_hosts.private_key)
    assert session.connect() == {}
    return session


def test_connect_facts_and_idempotent_apply(local_hosts: Any, open_session: OpenSession) -> None:
    session = _connected(local_hosts, open_session)
    names = ["h1", "h2", "h3"]
    assert session.connected == names
    assert session.facts(Hostname) == {n: n for n in names}

    for handle in local_hosts.handles:
        handle.run("echo first > /root/probe")
    assert session.facts(ProbeFile) == dict.fromkeys(names, "first")
    for handle in local_hosts.handles:
        handle.run("echo second > /root/probe")
    assert session.facts(ProbeFile) == dict.fromkeys(names, "first")  # gathered once per session

    def deploy(node: NodeRecord) -> None:
        files.line(path="/etc/sloth-test.conf", line=f"node={node.name}", present=True)

    first = session.apply("configure", deploy)
    assert first.ok
    assert first.changed_nodes == names
    assert local_hosts.handles[1].run("cat /etc/sloth-test.conf").stdout == "node=h2\n"
    second = session.apply("configure", deploy)
    assert second.ok
    assert not second.changed
    assert second.changed_nodes == []


def test_did_change_guards_a_restart(local_hosts: Any, open_session: OpenSession) -> None:
    session = _connected(local_hosts, open_session, 2)

    def deploy(_node: NodeRecord) -> None:
        changed = files.line(path="/etc/sloth-guard.conf", line="x=1", present=True)
        server.shell(commands=["echo run >> /root/restarts"], _if=changed.did_change)

    session.apply("guarded", deploy)
    session.apply("guarded", deploy)
    assert local_hosts.handles[0].run("cat /root/restarts").stdout == "run\n"


def test_changed_host_key_is_refused_with_both_fingerprints(
    local_hosts: Any, open_session: OpenSession, tmp_path: Path
) -> None:
    handles = local_hosts(2)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")],
        check=True,
    )
    wrong = (tmp_path / "other.pub").read_text().strip()
    records = [record_for(handles[0]), record_for(handles[1], host_key=wrong)]
    session = open_session(records, local_hosts.private_key)
    failures = session.connect()
    assert list(failures) == ["h2"]
    error = failures["h2"]
    assert isinstance(error, HostKeyMismatchError)
    assert fingerprint(wrong) in str(error)
    assert fingerprint(handles[1].host.host_public_key) in str(error)
    assert handles[1].address in str(error)
    assert session.shell("hostname")["h1"].stdout.strip() == "h1"
    assert session.shell("hostname", nodes=["h2"])["h2"].exit_status == 255


def test_node_without_host_key_is_refused_before_connecting(
    local_hosts: Any, open_session: OpenSession
) -> None:
    (handle,) = local_hosts(1)
    session = open_session([record_for(handle, host_key=None)], local_hosts.private_key)
    failures = session.connect()
    assert "no host key is recorded" in str(failures["h1"])
    assert failures["h1"].hint
    assert "known_hosts" in failures["h1"].hint
    assert session.connected == []


def test_failing_command_names_node_status_and_redacts_output(
    local_hosts: Any, open_session: OpenSession
) -> None:
    session = _connected(local_hosts, open_session)
    secret = "hunter2-very-secret-token"
    register(secret)

    def deploy(node: NodeRecord) -> None:
        if node.name == "h2":
            server.shell(name="Leak and fail", commands=[f"echo token={secret}; exit 7"])
        else:
            files.line(path="/etc/sloth-ok.conf", line="ok", present=True)

    result = session.apply("phase", deploy)
    assert list(result.failed) == ["h2"]
    error = result.failed["h2"]
    assert error.host == "h2"
    assert error.exit_status == 7
    assert "Leak and fail" in str(error)
    assert "h2" in str(error)
    assert "token=***" in error.output
    assert secret not in str(error)
    assert secret not in (error.command or "")
    assert result.changed_nodes == ["h1", "h3"]  # the others went on
    assert "h2" in session.failures
    later = session.apply("next", lambda _n: files.line(path="/etc/x", line="y", present=True))
    assert later.failed == {"h2": error}
    assert later.changed_nodes == ["h1", "h3"]
    with pytest.raises(RemoteError, match="h2"):
        result.raise_for_failures()


def test_shell_runs_everywhere_in_parallel(local_hosts: Any, open_session: OpenSession) -> None:
    session = _connected(local_hosts, open_session)
    results = session.shell("hostname; echo oops >&2; exit 3")
    assert {n: (r.exit_status, r.stdout, r.stderr) for n, r in results.items()} == {
        n: (3, f"{n}", "oops") for n in ("h1", "h2", "h3")
    }


def test_bastion_carries_the_connections(local_hosts: Any, open_session: OpenSession) -> None:
    jump, *targets = local_hosts(3)
    bastion = Bastion(address=jump.address, port=jump.port, host_key=jump.host.host_public_key)
    session = open_session([record_for(h) for h in targets], local_hosts.private_key,
                           bastion=bastion)  # fmt: skip
    assert session.connect() == {}
    seen = session.shell("echo $SSH_CONNECTION")
    for handle in targets:  # the node sees the bastion as its client
        assert seen[handle.name].stdout.split()[0] == jump.address


def test_bastion_host_key_is_pinned_too(
    local_hosts: Any, open_session: OpenSession, tmp_path: Path
) -> None:
    jump, target = local_hosts(2)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")],
        check=True,
    )
    wrong = (tmp_path / "other.pub").read_text().strip()
    bastion = Bastion(address=jump.address, port=jump.port, host_key=wrong)
    session = open_session([record_for(target)], local_hosts.private_key, bastion=bastion)
    failures = session.connect()
    assert isinstance(failures["h2"], HostKeyMismatchError)
    assert fingerprint(wrong) in str(failures["h2"])


def test_scan_host_key_reads_the_hosts_key(local_hosts: Any) -> None:
    (handle,) = local_hosts(1)
    assert scan_host_key(handle.address, handle.port) == " ".join(
        handle.host.host_public_key.split()[:2]
    )


def test_every_wait_is_bounded_and_names_the_node_and_what_it_waited_for(
    local_hosts: Any, open_session: OpenSession
) -> None:
    """A node that stops answering mid-session (its link goes down: every packet is lost, as
    when a VM freezes) costs the channel timeout, not paramiko's default hour; a command that
    runs too long costs the command timeout. The other nodes go on."""
    import time

    handles = local_hosts(2)
    session = open_session(
        [record_for(h) for h in handles], local_hosts.private_key,
        channel_timeout=2, command_timeout=3,
    )  # fmt: skip
    assert session.connect() == {}
    started = time.monotonic()
    slow = session.shell("sleep 30", nodes=["h1"])["h1"]
    assert time.monotonic() - started < 10
    assert (slow.exit_status, slow.stderr) == (
        255, "h1: no answer within 3 s while running it"
    )  # fmt: skip
    subprocess.run(["ip", "-n", handles[1].host.netns, "link", "set", "eth0", "down"], check=True)
    try:
        started = time.monotonic()
        results = session.shell("hostname")
        assert time.monotonic() - started < 10
        assert (results["h1"].exit_status, results["h1"].stdout) == (0, "h1")
        assert results["h2"].exit_status == 255
        assert results["h2"].stderr == ("h2: no SSH channel opened within 2 s (node not answering)")
        facts = session.facts(Hostname, nodes=["h2"])
        assert facts == {}
        error = session.failures["h2"]
        assert "failed on node h2: no SSH channel opened within 2 s" in str(error)
    finally:
        subprocess.run(["ip", "-n", handles[1].host.netns, "link", "set", "eth0", "up"], check=True)


def test_a_key_held_in_memory_logs_in_and_no_file_holds_it(
    local_hosts: Any, tmp_path: Path
) -> None:
    from sloth_kubernetes.secrets import Secret

    jump, *targets = local_hosts(3)
    text = local_hosts.private_key.read_text()
    key = Secret(text, source="state:t/operator/ssh-private-key")
    bastion = Bastion(address=jump.address, port=jump.port, host_key=jump.host.host_public_key)
    work = tmp_path / "work"
    with RemoteSession([record_for(h) for h in targets], private_key=key, work_dir=work,
                       bastion=bastion) as session:  # fmt: skip
        assert session.connect() == {}
        seen = session.shell("hostname")
        assert {n: r.stdout for n, r in seen.items()} == {h.name: h.name for h in targets}
        # while connected: the session's files are known_hosts and ssh config, never the key
        written = [p for p in work.rglob("*") if p.is_file()]
        assert written
        body = text.strip().splitlines()[1]
        assert not [p for p in written if body in p.read_text(errors="replace")]
        assert not [p for p in written if "PRIVATE KEY" in p.read_text(errors="replace")]


def test_an_unreadable_key_in_memory_is_named_not_shown(tmp_path: Path) -> None:
    from sloth_kubernetes.secrets import Secret

    with pytest.raises(RemoteError) as caught:
        RemoteSession([], private_key=Secret("not a key at all", source="state:t/k"),
                      work_dir=tmp_path)  # fmt: skip
    assert "the private key from state:t/k cannot be read" in str(caught.value)
    assert "not a key at all" not in str(caught.value) + str(caught.value.hint)
