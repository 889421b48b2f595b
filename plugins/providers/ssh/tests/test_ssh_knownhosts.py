"""known_hosts lookups agree with OpenSSH's own tools; conflicting pins are hard errors."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sloth_provider_ssh.hostkeys import HostKeyMismatch, choose
from sloth_provider_ssh.knownhosts import fingerprint, lookup, pinned_key
from sloth_provider_ssh.resolve import Target


def _keypair(directory: Path, name: str, kind: str = "ed25519") -> str:
    path = directory / name
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(path)], check=True)
    return " ".join(path.with_suffix(".pub").read_text().split()[:2])


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, str]:
    return {name: _keypair(tmp_path, name) for name in ("a", "b", "c")} | {
        "rsa": _keypair(tmp_path, "r", "rsa")
    }


def test_fingerprint_matches_ssh_keygen(tmp_path, keys):
    (tmp_path / "k.pub").write_text(keys["a"] + "\n")
    listed = subprocess.run(["ssh-keygen", "-lf", str(tmp_path / "k.pub")], capture_output=True,
                            text=True, check=True).stdout.split()[1]  # fmt: skip
    assert fingerprint(keys["a"]) == listed


def test_lookup_plain_port_wildcard_negation_and_hashed(tmp_path, keys):
    known = tmp_path / "known_hosts"
    known.write_text(
        f"# comment\n192.0.2.1,node1 {keys['a']}\n[192.0.2.2]:2222 {keys['b']}\n"
        f"10.0.0.* ,!10.0.0.7 {keys['c']}\n".replace(" ,", ",")
        + f"hashed.example {keys['rsa']}\n"
    )
    for hashed in (False, True):
        if hashed:
            subprocess.run(["ssh-keygen", "-H", "-f", str(known)], check=True, capture_output=True)
        lines = known.read_text().splitlines()
        assert any("hashed.example" in line for line in lines) is not hashed
        _check_lookups(lines, keys)


def _check_lookups(lines: list[str], keys: dict[str, str]) -> None:
    assert [k.key for k in lookup(lines, "192.0.2.1", 22)] == [keys["a"]]
    assert [k.key for k in lookup(lines, "192.0.2.2", 2222)] == [keys["b"]]
    assert lookup(lines, "192.0.2.2", 22) == []
    assert [k.key for k in lookup(lines, "10.0.0.5", 22)] == [keys["c"]]
    assert lookup(lines, "10.0.0.7", 22) == []
    assert [k.key for k in lookup(lines, "hashed.example", 22)] == [keys["rsa"]]


def test_preferred_type_is_pinned_and_revoked_keys_never(keys):
    lines = [f"h {keys['rsa']}", f"h {keys['a']}"]
    assert pinned_key(lookup(lines, "h", 22)) == keys["a"]
    lines.append(f"@revoked h {keys['a']}")
    assert pinned_key(lookup(lines, "h", 22)) == keys["rsa"]


def test_state_and_known_hosts_disagreeing_names_both_fingerprints(tmp_path, keys):
    target = Target("node1", "192.0.2.1", 22, "root", None)
    known = tmp_path / "known_hosts"
    lines = [f"192.0.2.1 {keys['a']}"]
    assert choose(target, known, keys["a"], lines).source == "the state store"
    with pytest.raises(HostKeyMismatch) as caught:
        choose(target, known, keys["b"], lines)
    message = str(caught.value)
    assert "node1 (root@192.0.2.1:22)" in message
    assert fingerprint(keys["b"]) in message
    assert fingerprint(keys["a"]) in message
    pin = choose(target, known, None, lines)
    assert (pin.key, pin.source) == (keys["a"], f"known_hosts ({known} line 1)")
    assert choose(target, known, None, []) is None
