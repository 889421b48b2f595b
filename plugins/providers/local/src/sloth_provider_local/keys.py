"""SSH host keys for local hosts: generated once per host, kept 0600 in the state directory.

Keeping the key is what lets a host that died (or a machine that rebooted) come back with the same
identity, so pinned known_hosts entries stay valid.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` created 0600 from the start (never briefly world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def ensure_host_key(key_path: Path) -> str:
    """Create an ed25519 host key at ``key_path`` unless present; return the public key line."""
    pub_path = key_path.with_name(key_path.name + ".pub")
    if key_path.exists() and pub_path.exists():
        return pub_path.read_text().strip()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    write_private(key_path, private)
    pub_path.write_text(public.decode() + "\n")
    return public.decode()
