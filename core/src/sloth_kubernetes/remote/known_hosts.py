"""Host-key pinning: known_hosts files from recorded keys, fingerprints, first-use scans.

Every connection verifies the node's host key against the key recorded in the state store (the
local and cloud providers record it when they create a machine; the ``ssh`` provider pins it
from a user-supplied known_hosts file or, with ``--trust-new-host-keys``, from
:func:`scan_host_key`). There is no "accept new keys" mode and no ``/dev/null`` known_hosts.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

from ..errors import RemoteError
from ..secrets import redact

#: Key types in order of preference when several are offered.
PREFERRED_TYPES = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "rsa-sha2-512",
                   "ssh-rsa")  # fmt: skip


class HostKeyMismatchError(RemoteError):
    """The machine presented a different host key than the one recorded for it."""


def normalize_key(key: str) -> str:
    """``"type base64"`` without any comment; raises :class:`RemoteError` when malformed."""
    fields = key.split()
    if len(fields) < 2 or not fields[0].startswith(("ssh-", "ecdsa-", "sk-")):
        raise RemoteError(
            f"not an SSH public host key: {key[:40]!r}",
            hint="a host key looks like `ssh-ed25519 AAAA…`",
        )
    try:
        base64.b64decode(fields[1], validate=True)
    except ValueError as error:
        raise RemoteError(f"host key is not valid base64: {key[:40]!r}") from error
    return f"{fields[0]} {fields[1]}"


def fingerprint(key: str) -> str:
    """The key's SHA256 fingerprint as OpenSSH prints it (``SHA256:…``, no padding)."""
    blob = base64.b64decode(normalize_key(key).split()[1])
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def known_hosts_entry(address: str, port: int) -> str:
    """How known_hosts names a host: ``addr`` on port 22, ``[addr]:port`` otherwise."""
    return address if port == 22 else f"[{address}]:{port}"


def write_known_hosts(path: Path, entries: Iterable[tuple[str, int, str]]) -> Path:
    """Write ``(address, port, host_key)`` entries to ``path`` (0600) and return it."""
    lines = [f"{known_hosts_entry(a, p)} {normalize_key(k)}\n" for a, p, k in entries]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.writelines(lines)
    os.chmod(path, 0o600)  # O_CREAT's mode does not apply to an existing file
    return path


def mismatch_error(node: str, address: str, recorded: str, presented: str) -> HostKeyMismatchError:
    """The hard error for a changed host key, naming the host and both fingerprints."""
    return HostKeyMismatchError(
        f"host key of node {node} ({address}) has CHANGED: recorded {fingerprint(recorded)}, "
        f"presented {fingerprint(presented)}",
        hint="if the machine was really reinstalled, remove the node from state or re-pin its key "
        "deliberately; otherwise someone may be intercepting the connection",
        host=node,
    )


def check_host_key(node: str, address: str, recorded: str, presented: str) -> None:
    """Raise :class:`HostKeyMismatchError` unless ``presented`` equals ``recorded``."""
    if normalize_key(recorded) != normalize_key(presented):
        raise mismatch_error(node, address, recorded, presented)


def _rank(key: str) -> int:
    kind = key.split(maxsplit=1)[0]
    return PREFERRED_TYPES.index(kind) if kind in PREFERRED_TYPES else len(PREFERRED_TYPES)


def scan_host_key(address: str, port: int = 22, *, timeout: int = 5) -> str:
    """Ask the machine for its host key (``ssh-keyscan``), ed25519 preferred.

    Only for trust-on-first-use, which the user must ask for (``--trust-new-host-keys``); the
    caller records the result and every later connection is checked against it.
    """
    try:
        done = subprocess.run(
            ["ssh-keyscan", "-T", str(timeout), "-p", str(port),
             "-t", "ed25519,ecdsa,rsa", address],
            capture_output=True, text=True, timeout=timeout * 3 + 5, check=False,
        )  # fmt: skip
    except FileNotFoundError as error:
        raise RemoteError(
            "ssh-keyscan is not installed", hint="install the OpenSSH client (openssh-client)"
        ) from error
    except subprocess.TimeoutExpired as error:
        raise RemoteError(f"scanning the host key of {address}:{port} timed out") from error
    keys = []
    for line in done.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 3 and not line.startswith("#"):
            keys.append(f"{fields[1]} {fields[2]}")
    if not keys:
        raise RemoteError(
            f"no SSH host key could be read from {address}:{port}",
            hint="check that the machine is up and its SSH port is reachable from here",
            output=redact(done.stderr),
        )
    return sorted(keys, key=_rank)[0]
