"""A config problem before it is located in a file, and did-you-mean suggestions.

Kept free of heavy imports: plugins use these at import time, and ``--help`` loads every plugin.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import attrs

PathPart = str | int


@attrs.frozen
class Problem:
    """One structuring problem before it is located in a file."""

    path: tuple[PathPart, ...]
    message: str
    hint: str | None = None
    at_key: bool = False  # locate at the key (unknown keys) rather than the value


def did_you_mean(word: str, choices: Sequence[str]) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None
