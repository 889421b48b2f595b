"""The data key that encrypts secrets at rest: where it comes from, and sealing with it.

Secrets are sealed with AES-256-GCM: a random 96-bit nonce per value, and associated data that
binds the ciphertext to its (cluster, name) row. The key comes from ``SLOTH_STATE_PASSPHRASE``
(scrypt, salt and parameters kept in ``meta``), or for SQLite only from a generated 32-byte key
file ``state.key`` next to the database. ``meta`` keeps which source a store uses, a key check
value (a known plaintext sealed with the key, so a wrong key is reported as such and not as
garbage) and the key's fingerprint. Once a store has a key its source is fixed until ``rekey``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from sloth_kubernetes.errors import StateError
from sloth_kubernetes.state.db import Database, Tx

ENV_PASSPHRASE = "SLOTH_STATE_PASSPHRASE"  # noqa: S105 - the variable's name, not a value
NONCE_BYTES = 12
KEY_BYTES = 32
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
_CHECK_PLAINTEXT = b"sloth-kubernetes state key check v1"
_CHECK_AD = b"sloth-kubernetes key-check"
WRONG_KEY = "cannot decrypt secrets: wrong passphrase or key file"

log = logging.getLogger("sloth_kubernetes.state")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"))


def associated_data(cluster: str, name: str) -> bytes:
    """Binds a ciphertext to its row: moved elsewhere, it fails authentication."""
    return json.dumps(["sloth-kubernetes secret", cluster, name]).encode("utf-8")


def fingerprint(key: bytes) -> str:
    """A short public identifier of ``key`` (reveals nothing usable about it)."""
    return hashlib.sha256(b"sloth-kubernetes key fingerprint\0" + key).hexdigest()[:32]


def derive_key(passphrase: str, kdf: dict[str, Any]) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    scrypt = Scrypt(salt=_unb64(kdf["salt"]), length=KEY_BYTES, n=kdf["n"], r=kdf["r"], p=kdf["p"])
    return scrypt.derive(passphrase.encode("utf-8"))


def new_kdf() -> dict[str, Any]:
    return {
        "alg": "scrypt",
        "salt": _b64(os.urandom(16)),
        "n": SCRYPT_N,
        "r": SCRYPT_R,
        "p": SCRYPT_P,
    }


def seal(key: bytes, plaintext: bytes, ad: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, ad)


def unseal(key: bytes, sealed: bytes, ad: bytes) -> bytes | None:
    """The plaintext, or None when the key is wrong or the data/row binding was altered."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], ad)
    except (InvalidTag, ValueError):
        return None


def key_matches(key: bytes, check_b64: str) -> bool:
    return unseal(key, _unb64(check_b64), _CHECK_AD) == _CHECK_PLAINTEXT


def write_key_file(path: Path, key: bytes) -> None:
    """Write ``key`` to a new 0600 file (refusing to overwrite)."""
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(_b64(key) + "\n")


def read_key_file(path: Path) -> bytes:
    try:
        key = _unb64(path.read_text().strip())
    except (ValueError, UnicodeDecodeError) as error:
        raise StateError(
            f"the key file {path} is damaged", hint="restore it from your backup of the state"
        ) from error
    if len(key) != KEY_BYTES:
        raise StateError(
            f"the key file {path} is damaged", hint="restore it from your backup of the state"
        )
    return key


class Keyring:
    """Resolves (creating on first need) and caches a store's data key."""

    def __init__(self, db: Database, key_file: Path | None, passphrase: str | None) -> None:
        self._db = db
        self.key_file = key_file  # None for PostgreSQL
        self._explicit_passphrase = passphrase
        self._key: bytes | None = None

    @property
    def pending_key_file(self) -> Path | None:
        return (
            None if self.key_file is None else self.key_file.with_name(self.key_file.name + ".new")
        )

    def passphrase(self) -> str | None:
        return self._explicit_passphrase or os.environ.get(ENV_PASSPHRASE) or None

    def key(self) -> bytes:
        """The data key; StateError when it is missing, unavailable or wrong."""
        with self._db.read() if self._db.readonly else self._db.write() as tx:
            return self.key_in(tx)

    def key_in(self, tx: Tx) -> bytes:
        """The data key as of ``tx`` (a write transaction unless the cached key is current).

        Checked against the stored fingerprint, so a rekey by another process since we cached
        the key is noticed rather than sealing new secrets with a retired key.
        """
        cached = self.cached(tx.get_meta("key_fingerprint"))
        if cached is not None:
            return cached
        if tx.get_meta("key_check"):
            self._key = self._load(tx)
        else:
            self._refuse_new_key(tx)
            self._key = self._create(tx)
        return self._key

    def _refuse_new_key(self, tx: Tx) -> None:
        """A new key is made only for a store without secrets (and never by a read): sealing
        new secrets under a fresh salt would leave the existing ones unreadable for good."""
        secrets = int(tx.scalar("SELECT COUNT(*) FROM secrets") or 0)
        if secrets:
            raise StateError(
                f"the key record (salt and key check) of {self._db.safe} is missing, but it "
                f"holds {secrets} encrypted secret{'s' if secrets != 1 else ''}",
                hint="restore the state from a backup; a new key would make the stored secrets "
                "unreadable, so none is made",
            )
        if not tx.writable:
            raise StateError(
                f"the state at {self._db.safe} has no secrets key yet",
                hint="it holds no secrets; `sloth-kubernetes up` creates the key with the first",
            )

    def cached(self, current_fingerprint: str | None) -> bytes | None:
        """The cached key if it is still the store's key."""
        if self._key is not None and fingerprint(self._key) == current_fingerprint:
            return self._key
        return None

    def fingerprint(self, tx: Tx) -> str | None:
        return tx.get_meta("key_fingerprint")

    def kdf(self, tx: Tx) -> dict[str, Any] | None:
        text = tx.get_meta("kdf")
        return None if text is None else dict(json.loads(text))

    def _load(self, tx: Tx) -> bytes:
        source = tx.get_meta("key_source")
        check = tx.get_meta("key_check") or ""
        if source == "passphrase":
            passphrase = self.passphrase()
            if passphrase is None:
                raise StateError(
                    f"the secrets in {self._db.safe} are encrypted with a passphrase and "
                    f"{ENV_PASSPHRASE} is not set",
                    hint=f"export {ENV_PASSPHRASE} with the passphrase this state was created "
                    "or last re-keyed with",
                )
            key = derive_key(passphrase, self.kdf(tx) or {})
            if not key_matches(key, check):
                raise StateError(
                    WRONG_KEY,
                    hint=f"{ENV_PASSPHRASE} does not match the passphrase of {self._db.safe}",
                )
            return key
        if self.key_file is None:
            raise StateError(
                f"the secrets in {self._db.safe} were encrypted with a key file, which only "
                "SQLite stores have",
                hint="re-encrypt them with a passphrase: `sloth-kubernetes state rekey`",
            )
        return self._load_key_file(check)

    def _load_key_file(self, check: str) -> bytes:
        assert self.key_file is not None
        pending = self.pending_key_file
        assert pending is not None
        current = read_key_file(self.key_file) if self.key_file.exists() else None
        if current is not None and key_matches(current, check):
            if pending.exists():  # left by a rekey that did not commit
                pending.unlink()
            return current
        # A rekey that committed but crashed before renaming its new key file into place.
        if pending.exists():
            candidate = read_key_file(pending)
            if key_matches(candidate, check):
                os.replace(pending, self.key_file)
                return candidate
        if current is None:
            raise StateError(
                f"cannot decrypt secrets: the key file {self.key_file} is missing",
                hint="restore state.key from your backup next to the database; without it the "
                "stored secrets cannot be read",
            )
        raise StateError(
            WRONG_KEY,
            hint=f"{self.key_file} is not the key this state was encrypted with; restore the "
            "right one from your backup",
        )

    def _create(self, tx: Tx) -> bytes:
        passphrase = self.passphrase()
        if passphrase is not None:
            kdf = new_kdf()
            key = derive_key(passphrase, kdf)
            self.store_key_meta(tx, key, "passphrase", kdf)
            return key
        if self.key_file is None:
            raise StateError(
                f"storing secrets in the PostgreSQL state at {self._db.safe} needs a passphrase",
                hint=f"export {ENV_PASSPHRASE}=… (keep it in your password manager; everyone "
                "using this state needs the same one)",
            )
        if self.key_file.exists():  # a key from an earlier database at this path: keep it
            key = read_key_file(self.key_file)
        else:
            key = os.urandom(KEY_BYTES)
            write_key_file(self.key_file, key)
            log.info("created the state key file %s", self.key_file)
        self.store_key_meta(tx, key, "keyfile", None)
        return key

    def store_key_meta(self, tx: Tx, key: bytes, source: str, kdf: dict[str, Any] | None) -> None:
        tx.set_meta("key_source", source)
        tx.set_meta("key_check", _b64(seal(key, _CHECK_PLAINTEXT, _CHECK_AD)))
        tx.set_meta("key_fingerprint", fingerprint(key))
        if kdf is not None:
            tx.set_meta("kdf", json.dumps(kdf, sort_keys=True))
        else:
            tx.execute("DELETE FROM meta WHERE key = ?", ("kdf",))

    def adopt(self, key: bytes, passphrase: str | None) -> None:
        """Use ``key`` from now on (after a committed rekey)."""
        self._key = key
        if passphrase is not None:
            self._explicit_passphrase = passphrase
