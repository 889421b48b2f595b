"""Where the state lives: parse ``--state``/``SLOTH_STATE`` values into a backend and a location."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import attrs

from sloth_kubernetes.errors import StateError

ENV_STATE = "SLOTH_STATE"
ACCEPTED_FORMS = (
    "sqlite:///absolute/path/state.db, a plain file path (state.db, ~/x/state.db), "
    "or postgresql://user:password@host:port/database (postgres:// works too)"
)


@attrs.frozen
class Location:
    """A parsed state URL. ``target`` is a file path (sqlite) or a libpq URL (postgresql)."""

    backend: str  # "sqlite" | "postgresql"
    target: str
    safe: str  # printable form: password masked


def default_sqlite_path() -> Path:
    """``state.db`` in the data directory: ``$SLOTH_DATA_DIR`` or the platformdirs user data
    directory (``~/.local/share/sloth-kubernetes`` on Linux)."""
    from sloth_kubernetes.paths import data_dir

    return data_dir() / "state.db"


def mask_url(url: str) -> str:
    """``url`` with the password (if any) replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:***@{host}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def parse_location(url: str | None) -> Location:
    """Resolve ``url`` (or ``$SLOTH_STATE``, or the default file) to a :class:`Location`."""
    if url is None:
        url = os.environ.get(ENV_STATE) or None
    if url is None:
        path = default_sqlite_path()
        return Location("sqlite", str(path), f"sqlite://{path}")
    text = url.strip()
    if not text:
        raise StateError("the state location is empty", hint=f"use {ACCEPTED_FORMS}")
    lowered = text.lower()
    if lowered.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(text)
        if not parts.hostname and "host=" not in parts.query:
            raise StateError(
                f"the PostgreSQL state URL {mask_url(text)} names no host",
                hint="write it as postgresql://user:password@host:5432/database",
            )
        return Location("postgresql", text, mask_url(text))
    if lowered.startswith("sqlite://"):
        rest = text[len("sqlite://") :]
        if not rest.startswith("/"):
            raise StateError(
                f"the SQLite state URL {text!r} is not absolute",
                hint="write sqlite:///absolute/path/state.db (three slashes) or a plain path",
            )
        path = Path("/" + rest.lstrip("/"))  # sqlite:////abs (SQLAlchemy's form) works too
        return Location("sqlite", str(path), f"sqlite://{path}")
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise StateError(
            f"unsupported state backend {scheme!r} in {mask_url(text)}",
            hint=f"use {ACCEPTED_FORMS}",
        )
    path = Path(text).expanduser().resolve()
    return Location("sqlite", str(path), f"sqlite://{path}")
