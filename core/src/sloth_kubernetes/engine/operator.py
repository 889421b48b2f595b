"""The operator SSH key of a cluster: generated once, private half encrypted in the state store.

Providers install the public key on every machine they create; the connect phase, ``nodes exec``
and the mesh/destroy sessions use the private key from memory: pyinfra's SSH connector reads
``ssh_key`` as a file name, but ours hands paramiko a key object made from the decrypted text
(:func:`sloth_kubernetes.remote.session.load_private_key`), so no file holds it. Only ``nodes
ssh`` runs the system ``ssh`` client, which takes a key *file* (an agent would be a long-lived
process holding it instead): there :func:`operator_key` writes it, 0600 in a 0700 per-run
directory removed when the command ends; a run killed before that leaves it behind until the
next run or ``destroy`` sweeps it (:mod:`..runfiles`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ..context import OperatorKey
from ..paths import data_dir
from ..runfiles import run_directory

if TYPE_CHECKING:
    from ..state import StateStore

PRIVATE_KEY_SECRET = "operator/ssh-private-key"  # noqa: S105 -- the name of a secret, not one
PUBLIC_NAME = "operator/ssh-public-key"


def runtime_dir() -> Path:
    """Where per-run copies of operator keys live (``<data dir>/run``)."""
    return data_dir() / "run"


def _generate(comment: str) -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return private, f"{public} {comment}"


def ensure_operator_key(store: StateStore, cluster: str) -> str:
    """Create the cluster's key pair if it has none; return the public key (``ssh-ed25519 …``)."""
    public = store.get_secret(cluster, PUBLIC_NAME)
    if public is not None and store.get_secret(cluster, PRIVATE_KEY_SECRET) is not None:
        return str(public.reveal())
    private_text, public_text = _generate(f"sloth-kubernetes/{cluster}")
    store.put_secret(cluster, PRIVATE_KEY_SECRET, private_text)
    store.put_secret(cluster, PUBLIC_NAME, public_text)  # not secret, but kept with its pair
    return public_text


@contextmanager
def operator_key(
    store: StateStore, cluster: str, *, as_file: bool = False
) -> Iterator[OperatorKey]:
    """The key pair, the private half in memory; with ``as_file`` also in a 0600 file (for the
    system ``ssh`` client) that exists only inside the block. The block's run directory (0700)
    is removed at its end either way."""
    public = ensure_operator_key(store, cluster)
    private = store.get_secret(cluster, PRIVATE_KEY_SECRET)
    assert private is not None  # ensure_operator_key stored the pair
    directory = run_directory(runtime_dir(), f"{cluster}-")
    path = directory / "id_ed25519"
    try:
        if as_file:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(private.reveal())
        yield OperatorKey(public_key=public, private_key_path=path, private_key=private)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
