"""Where sloth-kubernetes keeps its files on the operator's machine."""

from __future__ import annotations

import os
from pathlib import Path

APP = "sloth-kubernetes"


def data_dir() -> Path:
    """State, keys and cached artifacts. ``SLOTH_DATA_DIR`` overrides (tests, CI)."""
    override = os.environ.get("SLOTH_DATA_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir(APP))


def log_dir() -> Path:
    return data_dir() / "logs"
