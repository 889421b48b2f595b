"""known_hosts files: find a host's pinned key (plain or hashed entries), fingerprints, pin files.

Read in Python rather than with ``ssh-keygen -F`` so one file is parsed once for all hosts. The
format is OpenSSH's (sshd(8), "SSH_KNOWN_HOSTS FILE FORMAT"): comma-separated patterns with ``*``,
``?`` and ``!`` negation, ``[host]:port`` off port 22, ``|1|salt|hmac`` hashed names. ``@revoked``
lines revoke a key; ``@cert-authority`` lines are not host keys and are skipped.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections.abc import Iterable
from pathlib import Path

import attrs

#: Host key types in the order we prefer to pin them (the strongest common ones first).
PREFERRED_TYPES = (
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "ssh-rsa",
)


@attrs.frozen
class KnownKey:
    """One key line of a known_hosts file that matched a host."""

    key: str  # "ssh-ed25519 AAAA…" (type and base64 blob, no comment)
    revoked: bool = False
    line: int = 0

    @property
    def type(self) -> str:
        return self.key.split()[0]


def host_pattern(address: str, port: int) -> str:
    """How known_hosts names a host: ``address``, or ``[address]:port`` off port 22."""
    return address if port == 22 else f"[{address}]:{port}"


def fingerprint(key: str) -> str:
    """OpenSSH's SHA256 fingerprint of a public key line (``SHA256:…``, unpadded base64)."""
    try:
        blob = base64.b64decode(key.split()[1], validate=True)
    except (IndexError, binascii.Error, ValueError):
        return "SHA256:<not a public key>"
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def same_key(a: str, b: str) -> bool:
    """Two key lines name the same key (type and blob; comments ignored)."""
    return a.split()[:2] == b.split()[:2]


def _hashed_match(entry: str, name: str) -> bool:
    try:
        _, magic, salt, digest = entry.split("|")
        if magic != "1":
            return False
        mac = hmac.new(base64.b64decode(salt), name.encode(), hashlib.sha1).digest()
        return hmac.compare_digest(mac, base64.b64decode(digest))
    except (ValueError, binascii.Error):
        return False


def _wildcard(pattern: str) -> re.Pattern[str]:
    """ssh's patterns know only ``*`` and ``?``; brackets (``[host]:port``) are literal."""
    return re.compile(re.escape(pattern.lower()).replace(r"\*", ".*").replace(r"\?", "."))


def _patterns_match(patterns: str, name: str) -> bool:
    if patterns.startswith("|"):
        return _hashed_match(patterns, name)
    matched = False
    for pattern in patterns.split(","):
        negated = pattern.startswith("!")
        if _wildcard(pattern.lstrip("!")).fullmatch(name.lower()):
            if negated:
                return False
            matched = True
    return matched


def lookup(lines: Iterable[str], address: str, port: int) -> list[KnownKey]:
    """Every key line naming ``address``/``port``, in file order (revoked ones flagged)."""
    name = host_pattern(address, port)
    found = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        marker = ""
        if fields[0].startswith("@"):
            marker, fields = fields[0], fields[1:]
        if marker == "@cert-authority" or len(fields) < 3:
            continue
        if _patterns_match(fields[0], name):
            found.append(KnownKey(f"{fields[1]} {fields[2]}", marker == "@revoked", number))
    return found


def pinned_key(keys: Iterable[KnownKey]) -> str | None:
    """The key to pin among a host's known keys: the preferred type, never a revoked key."""
    keys = list(keys)
    revoked = {k.key for k in keys if k.revoked}
    usable = [k for k in keys if not k.revoked and k.key not in revoked]
    for key_type in PREFERRED_TYPES:
        for known in usable:
            if known.type == key_type:
                return known.key
    return usable[0].key if usable else None


def revoked(keys: Iterable[KnownKey], key: str) -> bool:
    return any(k.revoked and same_key(k.key, key) for k in keys)


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8", errors="replace").splitlines()


def write_pin_file(path: Path, entries: Iterable[tuple[str, str]]) -> Path:
    """Write ``alias key`` lines (0600) that ssh checks with ``HostKeyAlias=alias``."""
    text = "".join(f"{alias} {key}\n" for alias, key in entries)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path
