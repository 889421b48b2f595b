"""Secrets are encrypted at rest, bound to their row, and a wrong key is reported as such."""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from sloth_kubernetes.errors import StateError
from sloth_kubernetes.secrets import Secret
from sloth_kubernetes.state import ClusterRecord, StateStore, open_store
from sloth_kubernetes.state.keys import WRONG_KEY
from sloth_kubernetes.testing.postgres import server_binary

VALUES = {
    "k3s-token": "K10c0ffee-d1ce-4aa5-token-value-0123456789",
    "kubeconfig": "apiVersion: v1\nclusters:\n- cluster:\n    server: https://10.8.0.1:6443\n"
    "users:\n- user:\n    client-key-data: S0VZLURBVEEtU0VDUkVULXh5eg==\n",
    "wg-private": "eHl6LXdpcmVndWFyZC1wcml2YXRlLWtleS0xMjM0NTY3OA==",
}


def _raw_bytes(store: StateStore, url: str) -> bytes:
    """Everything the backend keeps on disk for this store, as an attacker would read it."""
    if store.backend == "sqlite":
        db = Path(urlsplit(url).path)
        return b"".join(p.read_bytes() for p in db.parent.glob("state.db*"))
    pg_dump = server_binary("pg_dump")
    if pg_dump is None:
        pytest.skip("pg_dump is not installed")
    parts = urlsplit(url)
    # The password goes through the environment, never the argument list.
    netloc = f"{parts.username}@{parts.hostname}:{parts.port}"
    env = {**os.environ, "PGPASSWORD": parts.password or ""}
    dsn = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    dump = subprocess.run(
        [str(pg_dump), "--no-owner", "-d", dsn], env=env, capture_output=True, check=False
    )
    if dump.returncode != 0 and b"version mismatch" in dump.stderr:
        pytest.skip("the local pg_dump is older than the server at SLOTH_TEST_POSTGRES_URL")
    assert dump.returncode == 0, dump.stderr.decode(errors="replace")
    return dump.stdout


def test_secrets_round_trip(store: StateStore) -> None:
    for name, value in VALUES.items():
        store.put_secret("demo", name, value)
    store.put_secret("demo", "wrapped", Secret("from-a-wrapper-123", source="env:X"))
    assert store.list_secret_names("demo") == ["k3s-token", "kubeconfig", "wg-private", "wrapped"]
    for name, value in VALUES.items():
        secret = store.get_secret("demo", name)
        assert isinstance(secret, Secret)
        assert secret.reveal() == value
        assert value not in repr(secret)
    assert store.get_secret("demo", "wrapped") == Secret("from-a-wrapper-123")
    assert store.get_secret("demo", "missing") is None
    assert store.get_secret("other", "k3s-token") is None
    store.put_secret("demo", "k3s-token", "rotated-value-456")
    assert store.get_secret("demo", "k3s-token") == Secret("rotated-value-456")
    assert store.delete_secret("demo", "k3s-token") is True
    assert store.delete_secret("demo", "k3s-token") is False
    assert store.get_secret("demo", "k3s-token") is None


def test_no_secret_value_is_readable_in_the_raw_database(store: StateStore, state_url: str) -> None:
    for name, value in VALUES.items():
        store.put_secret("demo", name, value)
    raw = _raw_bytes(store, state_url)
    assert b"k3s-token" in raw  # the dump is real: names are plain
    for value in VALUES.values():
        encoded = value.encode()
        for needle in (encoded, base64.b64encode(encoded), encoded.hex().encode()):
            assert needle not in raw
        for line in value.splitlines():
            if len(line) > 8:
                assert line.strip().encode() not in raw


def test_a_ciphertext_moved_to_another_row_does_not_decrypt(store: StateStore) -> None:
    store.put_secret("demo", "admin-token", "admin-secret-value")
    store.put_secret("demo", "viewer-token", "viewer-secret-value")
    with store.write() as tx:  # an attacker swaps the admin ciphertext into the viewer row
        sealed = tx.scalar("SELECT sealed FROM secrets WHERE name = ?", ("admin-token",))
        tx.execute("UPDATE secrets SET sealed = ? WHERE name = ?", (sealed, "viewer-token"))
    with pytest.raises(StateError, match="'viewer-token' of cluster 'demo' does not decrypt"):
        store.get_secret("demo", "viewer-token")


def test_wrong_passphrase_is_detected(
    store: StateStore, open_state: Callable[..., StateStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    if store.backend == "sqlite":
        store.close()
        store = open_state(passphrase="the right passphrase")
    store.put_secret("demo", "token", "some-token-value")
    intruder = open_state(passphrase="a wrong passphrase")
    with pytest.raises(StateError) as caught:
        intruder.get_secret("demo", "token")
    assert str(caught.value) == WRONG_KEY
    assert "SLOTH_STATE_PASSPHRASE" in (caught.value.hint or "")
    with pytest.raises(StateError, match=WRONG_KEY):
        intruder.put_secret("demo", "other", "would be unreadable later")
    # the passphrase from the environment is used too
    monkeypatch.setenv("SLOTH_STATE_PASSPHRASE", "a wrong passphrase")
    with pytest.raises(StateError, match=WRONG_KEY):
        open_state(passphrase=None).get_secret("demo", "token")


def test_passphrase_store_without_a_passphrase_says_so(
    store: StateStore, open_state: Callable[..., StateStore]
) -> None:
    store.put_secret("demo", "token", "some-token-value")
    if store.backend == "sqlite":
        return  # a key-file store needs no passphrase: covered by the key-file tests
    with pytest.raises(StateError) as caught:
        open_state(passphrase=None).get_secret("demo", "token")
    assert "SLOTH_STATE_PASSPHRASE is not set" in str(caught.value)


@pytest.mark.postgres
def test_postgresql_without_passphrase_refuses_to_store_secrets(postgres_database_url: str) -> None:
    with open_store(postgres_database_url) as store:
        store.put_cluster(ClusterRecord("demo"))  # the store itself works without one
        with pytest.raises(StateError) as caught:
            store.put_secret("demo", "token", "some-token-value")
    assert "needs a passphrase" in str(caught.value)
    assert "SLOTH_STATE_PASSPHRASE" in (caught.value.hint or "")


def test_sqlite_key_file_missing_or_wrong_is_detected(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'state.db'}"
    with open_store(url) as store:
        store.put_secret("demo", "token", "some-token-value")
    key_file = tmp_path / "state.key"
    original = key_file.read_bytes()
    key_file.unlink()
    with open_store(url) as store, pytest.raises(StateError, match=r"key file .* is missing"):
        store.get_secret("demo", "token")
    assert not key_file.exists()  # no new key was made up
    key_file.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    with open_store(url) as store, pytest.raises(StateError, match=WRONG_KEY):
        store.get_secret("demo", "token")
    key_file.write_bytes(original)
    with open_store(url) as store:
        assert store.get_secret("demo", "token") == Secret("some-token-value")


def test_rekey_to_a_new_passphrase(
    store: StateStore, open_state: Callable[..., StateStore]
) -> None:
    for name, value in VALUES.items():
        store.put_secret("demo", name, value)
    store.put_secret("other", "token", "other-cluster-token")
    old_fingerprint = store.key_fingerprint()
    store.rekey("a brand new passphrase")
    assert store.key_fingerprint() != old_fingerprint
    assert store.get_secret("demo", "kubeconfig") == Secret(VALUES["kubeconfig"])  # still usable
    reopened = open_state(passphrase="a brand new passphrase")
    for name, value in VALUES.items():
        assert reopened.get_secret("demo", name) == Secret(value)
    assert reopened.get_secret("other", "token") == Secret("other-cluster-token")
    if store.backend == "postgresql":
        with pytest.raises(StateError, match=WRONG_KEY):
            open_state().get_secret("demo", "kubeconfig")  # the old passphrase
    else:
        assert not Path(urlsplit(store.describe()).path).with_name("state.key").exists()
    assert [e.command for e in reopened.audit_entries()] == ["state rekey"]


def test_rekey_back_to_a_key_file_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'state.db'}"
    with open_store(url, passphrase="first passphrase") as store:
        store.put_secret("demo", "token", "some-token-value")
        store.rekey(None)
        assert (tmp_path / "state.key").exists()
        assert not (tmp_path / "state.key.new").exists()
    with open_store(url) as store:  # no passphrase needed any more
        assert store.get_secret("demo", "token") == Secret("some-token-value")
        store.rekey(None)  # rotating the key file
    with open_store(url) as store:
        assert store.get_secret("demo", "token") == Secret("some-token-value")


@pytest.mark.postgres
def test_rekey_to_a_key_file_is_refused_on_postgresql(postgres_database_url: str) -> None:
    with open_store(postgres_database_url, passphrase="some passphrase") as store:
        store.put_secret("demo", "token", "some-token-value")
        with pytest.raises(StateError, match="can only be keyed by a passphrase"):
            store.rekey(None)
        assert store.get_secret("demo", "token") == Secret("some-token-value")


def test_a_rekey_by_another_process_is_noticed_by_a_store_already_open(
    store: StateStore, open_state: Callable[..., StateStore]
) -> None:
    store.put_secret("demo", "token", "some-token-value")  # this store now has the key cached
    other = open_state()
    if store.backend == "sqlite":
        other.rekey(None)  # rotates the key file
        store.put_secret("demo", "later", "written-after-the-rekey")  # picks up the new key
        assert other.get_secret("demo", "later") == Secret("written-after-the-rekey")
        assert store.get_secret("demo", "token") == Secret("some-token-value")
    else:
        other.rekey("the team's next passphrase")
        with pytest.raises(StateError, match=WRONG_KEY):  # not sealed with the retired key
            store.put_secret("demo", "later", "written-after-the-rekey")
        assert other.list_secret_names("demo") == ["token"]


def test_a_rekey_that_crashed_before_renaming_its_key_file_is_completed(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'state.db'}"
    key_file, pending = tmp_path / "state.key", tmp_path / "state.key.new"
    with open_store(url) as store:
        store.put_secret("demo", "token", "some-token-value")
        old_key = key_file.read_bytes()
        store.rekey(None)
    # What the disk looks like when the commit happened but the rename did not:
    key_file.rename(pending)
    key_file.write_bytes(old_key)
    with open_store(url) as store:
        assert store.get_secret("demo", "token") == Secret("some-token-value")
    assert not pending.exists()
    assert key_file.read_bytes() != old_key
