"""Reading files someone else may have written (saved plans, state exports): bounded size and
nesting, and a clear error naming the file for anything that is not what it should be.

Config files have their own, stricter reader (``config.loader``); docs/reliability.md lists the
limits.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import SlothError

#: Largest saved plan or state export read. A 1,000-node export with its secrets is ~5 MiB.
MAX_DATA_BYTES = 64 * 1024 * 1024


def read_text(path: Path, *, what: str, hint: str, error: type[SlothError] = SlothError) -> str:
    """The UTF-8 text of ``path`` (never more than MAX_DATA_BYTES read); ``error`` otherwise."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_DATA_BYTES + 1)
    except OSError as failure:
        raise error(f"cannot read {what} {path}: {failure.strerror}", hint=hint) from None
    if len(data) > MAX_DATA_BYTES:
        raise error(
            f"{path} is larger than {MAX_DATA_BYTES // (1024 * 1024)} MiB: not {what}", hint=hint
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as failure:
        raise error(
            f"{path} is not {what} (byte {failure.start} is not UTF-8 text)", hint=hint
        ) from None


def parse_json(
    text: str, *, source: str, what: str, hint: str, error: type[SlothError] = SlothError
) -> Any:
    """``json.loads(text)``, with a syntax error located at LINE:COLUMN and nesting too deep for
    the parser (``[[[[…``, a RecursionError) reported instead of crashing."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as failure:
        raise error(
            f"{source}:{failure.lineno}:{failure.colno}: {failure.msg}: the file is not {what}",
            hint=hint,
        ) from None
    except RecursionError:
        raise error(f"{source} is not {what}: it is nested too deeply", hint=hint) from None
