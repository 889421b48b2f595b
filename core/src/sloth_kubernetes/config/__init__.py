"""Loading cluster configs: YAML with locations, references, overlays, strict validation.

``load_config`` and ``load_config_text`` are imported on first use: the loader pulls in cattrs and
ruamel.yaml, which commands like ``--help`` do not need.
"""

from __future__ import annotations

from typing import Any

from .references import Reference

__all__ = ["Reference", "load_config", "load_config_text"]


def __getattr__(name: str) -> Any:
    if name in ("load_config", "load_config_text"):
        from . import loader

        return getattr(loader, name)
    raise AttributeError(name)
