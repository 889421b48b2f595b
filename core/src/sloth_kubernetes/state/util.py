"""Small helpers shared by the state modules: time, canonical JSON, redaction of nested values."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from typing import Any

from sloth_kubernetes.secrets import redact


def utc_now() -> str:
    """The current time as UTC ISO-8601 with microseconds (sorts correctly as text)."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="microseconds")


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: the same data always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def to_json(value: Any) -> str:
    return canonical_json(value)


def from_json(text: str | None, default: Any) -> Any:
    if text is None or text == "":
        return default
    return json.loads(text)


def redact_tree(value: Any) -> Any:
    """Return ``value`` with every string (keys included) passed through :func:`redact`."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_tree(key): redact_tree(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_tree(item) for item in value]
    return value
