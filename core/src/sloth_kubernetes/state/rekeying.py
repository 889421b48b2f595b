"""Re-encrypting every secret with a new key, in one transaction."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from sloth_kubernetes.errors import StateError
from sloth_kubernetes.state import audit
from sloth_kubernetes.state.db import Database
from sloth_kubernetes.state.keys import (
    ENV_PASSPHRASE,
    KEY_BYTES,
    associated_data,
    derive_key,
    new_kdf,
    seal,
    write_key_file,
)

if TYPE_CHECKING:
    from sloth_kubernetes.state.store import StateStore

log = logging.getLogger("sloth_kubernetes.state")


def rekey(store: StateStore, db: Database, new_passphrase: str | None) -> None:
    """See :meth:`StateStore.rekey`. The new key file (if any) is written as ``state.key.new``
    and renamed into place after the commit; the keyring finishes that rename if we crash."""
    keyring = store.keyring
    pending = keyring.pending_key_file
    if new_passphrase is not None:
        if not new_passphrase:
            raise StateError("the new passphrase is empty", hint="choose a long passphrase")
        kdf = new_kdf()
        new_key, source = derive_key(new_passphrase, kdf), "passphrase"
    else:
        if keyring.key_file is None or pending is None:
            raise StateError(
                f"the PostgreSQL state at {store.describe()} can only be keyed by a passphrase",
                hint=f"pass a new passphrase (then export {ENV_PASSPHRASE} with it)",
            )
        kdf = None
        new_key, source = os.urandom(KEY_BYTES), "keyfile"
    try:
        with db.write() as tx:
            # The current key is resolved under the write lock (nobody can rekey meanwhile), and
            # before the new key file exists: loading the old key clears a stale pending file.
            old_key = keyring.key_in(tx) if tx.get_meta("key_check") else None
            if source == "keyfile":
                assert pending is not None
                if pending.exists():
                    pending.unlink()
                write_key_file(pending, new_key)
            rows = tx.query("SELECT cluster, name, sealed FROM secrets")
            for cluster, name, sealed in rows:
                assert old_key is not None  # secrets exist only once a key does
                plaintext = store._unseal(old_key, cluster, name, bytes(sealed))
                resealed = seal(new_key, plaintext.encode("utf-8"), associated_data(cluster, name))
                tx.execute(
                    "UPDATE secrets SET sealed = ? WHERE cluster = ? AND name = ?",
                    (resealed, cluster, name),
                )
            keyring.store_key_meta(tx, new_key, source, kdf)
            audit.append(
                tx,
                actor=store.identity.user,
                host=store.identity.host,
                command="state rekey",
                cluster="",
                outcome="rekeyed",
                resources={"secrets": len(rows), "key_source": source},
            )
    except BaseException:
        if pending is not None and source == "keyfile" and pending.exists():
            pending.unlink()
        raise
    if source == "keyfile":
        assert keyring.key_file is not None
        assert pending is not None
        os.replace(pending, keyring.key_file)
    elif keyring.key_file is not None and keyring.key_file.exists():
        # The old key is retired: leaving it would keep old copies of the data readable.
        keyring.key_file.unlink()
        log.info("removed the retired key file %s", keyring.key_file)
    keyring.adopt(new_key, new_passphrase)
