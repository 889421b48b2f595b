"""Fixtures for node-access tests: NodeRecords and sessions over real local hosts."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sloth_kubernetes.model import NodeRecord
from sloth_kubernetes.remote import RemoteSession
from sloth_kubernetes.secrets import forget_all


def record_for(handle: Any, **changes: Any) -> NodeRecord:
    """The NodeRecord a provider would store for a local test host."""
    fields: dict[str, Any] = {
        "cluster": "t",
        "name": handle.name,
        "pool": "pool",
        "provider": "local",
        "private_address": handle.address,
        "ssh_port": handle.port,
        "host_key": handle.host.host_public_key,
    }
    fields.update(changes)
    return NodeRecord(**fields)


def add_sudo_user(handle: Any, public_key: str, user: str = "deploy") -> None:
    """A non-root login ``user`` on the host with the operator key and password-less sudo."""
    # -p "*": no password, but not a locked account (sshd without PAM refuses locked ones)
    handle.run(
        f"useradd -m -p '*' -s /bin/sh {user}"
        f" && install -d -m 700 -o {user} -g {user} /home/{user}/.ssh"
        f" && echo '{public_key.strip()}' > /home/{user}/.ssh/authorized_keys"
        f" && chown {user}:{user} /home/{user}/.ssh/authorized_keys"
        f" && echo '{user} ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/{user}"
        f" && chmod 440 /etc/sudoers.d/{user}"
    )


@pytest.fixture
def open_session(tmp_path: Path) -> Iterator[Callable[..., RemoteSession]]:
    """``open_session(records, private_key, **options)`` → a session closed after the test."""
    sessions: list[RemoteSession] = []

    def make(records: Sequence[NodeRecord], private_key: Path, **options: Any) -> RemoteSession:
        session = RemoteSession(
            records, private_key_path=private_key, work_dir=tmp_path / "work", **options
        )
        sessions.append(session)
        return session

    try:
        yield make
    finally:
        for session in sessions:
            session.close()


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    yield
    forget_all()
