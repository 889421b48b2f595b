"""Host-key helpers against OpenSSH's own tools (ssh-keygen prints the reference fingerprint)."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest
from sloth_kubernetes.errors import RemoteError
from sloth_kubernetes.remote import HostKeyMismatchError, check_host_key, fingerprint
from sloth_kubernetes.remote.known_hosts import write_known_hosts


def _keypair(tmp_path: Path, name: str) -> str:
    path = tmp_path / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path.with_suffix(".pub").read_text().strip()


def test_fingerprint_matches_ssh_keygen(tmp_path: Path) -> None:
    public = _keypair(tmp_path, "k")
    printed = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(tmp_path / "k.pub")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[1]
    assert fingerprint(public) == printed


def test_known_hosts_file_is_private_and_readable_by_ssh_keygen(tmp_path: Path) -> None:
    key_a, key_b = _keypair(tmp_path, "a"), _keypair(tmp_path, "b")
    path = write_known_hosts(
        tmp_path / "known_hosts", [("10.0.0.1", 22, key_a), ("10.0.0.2", 2222, key_b)]
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    found = subprocess.run(
        ["ssh-keygen", "-F", "[10.0.0.2]:2222", "-f", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.returncode == 0
    assert key_b.split()[1] in found.stdout
    assert key_a.split()[1] not in found.stdout
    # a comment on the recorded key is not copied into the pin
    assert "@" not in path.read_text()


def test_changed_key_names_host_and_both_fingerprints(tmp_path: Path) -> None:
    recorded, presented = _keypair(tmp_path, "old"), _keypair(tmp_path, "new")
    check_host_key("n1", "10.0.0.1", recorded, recorded + " comment")  # same key: fine
    with pytest.raises(HostKeyMismatchError) as caught:
        check_host_key("n1", "10.0.0.1", recorded, presented)
    text = str(caught.value)
    assert "n1" in text
    assert "10.0.0.1" in text
    assert fingerprint(recorded) in text
    assert fingerprint(presented) in text


def test_garbage_is_not_a_host_key(tmp_path: Path) -> None:
    with pytest.raises(RemoteError, match="not an SSH public host key"):
        write_known_hosts(tmp_path / "kh", [("10.0.0.1", 22, "hello world")])
