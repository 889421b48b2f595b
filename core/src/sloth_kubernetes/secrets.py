"""Secret values: a wrapper that never prints itself, and the process-wide redaction registry.

Every value that comes from a secret reference (``${env:…}``, ``${file:…}``) or is generated as a
secret (tokens, keys, kubeconfigs) is wrapped in :class:`Secret` and registered with
:func:`register`, so the logging filter, error rendering and remote output can mask it with
:func:`redact` even after it was unwrapped and passed to a library.
"""

from __future__ import annotations

import threading

MASK = "***"
_MIN_LENGTH = 4  # shorter values would mask ordinary words; such secrets are refused elsewhere

_lock = threading.Lock()
_known: set[str] = set()


class Secret:
    """A secret string. ``str()``/``repr()`` show a mask; ``reveal()`` gives the value."""

    __slots__ = ("_value", "source")

    def __init__(self, value: str, *, source: str = "") -> None:
        self._value = value
        self.source = source  # where it came from, e.g. "env:HCLOUD_TOKEN"; safe to show
        register(value)

    def reveal(self) -> str:
        return self._value

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"Secret({self.source or MASK})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))


def register(value: str) -> None:
    """Remember ``value`` (and each of its lines) as secret so :func:`redact` masks it."""
    with _lock:
        for line in (value, *value.splitlines()):
            candidate = line.strip()
            if len(candidate) >= _MIN_LENGTH:
                _known.add(candidate)


def redact(text: str) -> str:
    """Return ``text`` with every registered secret value replaced by the mask."""
    with _lock:
        known = sorted(_known, key=len, reverse=True)  # longest first: a secret may contain another
    for value in known:
        if value in text:
            text = text.replace(value, MASK)
    return text


def forget_all() -> None:
    """Clear the registry (tests only)."""
    with _lock:
        _known.clear()
