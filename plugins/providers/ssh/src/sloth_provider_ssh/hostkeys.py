"""Which host key to pin for each machine, and the errors when keys disagree.

Sources, in order: the key recorded in the state store for this machine (it was verified when it
was recorded), the user's known_hosts file, and — only with ``--trust-new-host-keys`` — the key the
host presents now (trust on first use, written to the audit log). Any two sources that disagree
are a hard error naming the host and both fingerprints; nothing is ever silently replaced.
"""

from __future__ import annotations

from pathlib import Path

import attrs
from sloth_kubernetes.plugin import ProviderError

from .knownhosts import KnownKey, fingerprint, lookup, pinned_key, read_lines, revoked, same_key
from .resolve import Target
from .settings import PROVIDER

_VERIFY_HINT = (
    "verify the host's fingerprint out of band (on its console: "
    "`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`)"
)


@attrs.frozen
class Pin:
    """The key pinned for one target, and where it came from (for messages and the audit log)."""

    key: str
    source: str  # "the state store", "known_hosts (FILE line N)", "the key trusted on first use"
    new: bool = False  # trusted on first use in this run: audit it once verified


class HostKeyMismatch(ProviderError):
    """A host presents (or a source pins) a different key than the one we trust."""


def mismatch(
    target: Target, pinned: str, pinned_from: str, other: str, other_from: str
) -> HostKeyMismatch:
    return HostKeyMismatch(
        f"host key of {target.describe()} does not match: {pinned_from} pins "
        f"{fingerprint(pinned)}, but {other_from} is {fingerprint(other)}",
        hint=f"this may be a different machine or an attack; {_VERIFY_HINT}. If the machine "
        "was reinstalled, put its new key in your known_hosts file and remove the old one "
        "(and the node's record in the state store)",
        provider=PROVIDER,
    )


def choose(
    target: Target, known_hosts: Path | None, recorded: str | None, known_lines: list[str] | None
) -> Pin | None:
    """The pin for ``target`` from state and known_hosts, or None when neither has one."""
    known: list[KnownKey] = lookup(known_lines or [], target.address, target.port)
    where = f"known_hosts ({known_hosts}"
    if recorded is not None:
        if revoked(known, recorded):
            raise HostKeyMismatch(
                f"the recorded host key of {target.describe()} ({fingerprint(recorded)}) is "
                f"marked @revoked in {known_hosts}",
                hint=_VERIFY_HINT,
                provider=PROVIDER,
            )
        same_type = [k for k in known if not k.revoked and k.type == recorded.split()[0]]
        if same_type and not any(same_key(k.key, recorded) for k in same_type):
            other = same_type[0]
            raise mismatch(
                target, recorded, "the state store", other.key, f"{where} line {other.line})"
            )
        return Pin(recorded, "the state store")
    key = pinned_key(known)
    if key is None:
        return None
    line = next(k.line for k in known if k.key == key)
    return Pin(key, f"{where} line {line})")


def refuse_unknown(targets: list[Target], known_hosts: Path | None) -> ProviderError:
    names = ", ".join(t.describe() for t in targets)
    searched = f"in {known_hosts}" if known_hosts else "(no knownHosts file configured)"
    return ProviderError(
        f"no host key is pinned for {names} {searched}",
        hint="add the hosts' keys to your known_hosts file after checking their fingerprints "
        "out of band (`ssh-keyscan -t ed25519 -p PORT ADDRESS | ssh-keygen -lf -` vs. the "
        "host's console), or pass --trust-new-host-keys to trust the keys they present now "
        "(recorded in the state and the audit log)",
        provider=PROVIDER,
    )


def known_lines(path: Path | None) -> list[str] | None:
    if path is None:
        return None
    try:
        return read_lines(path)
    except OSError as error:
        raise ProviderError(
            f"cannot read known_hosts file {path}: {error.strerror}", provider=PROVIDER
        ) from None
