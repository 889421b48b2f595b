"""Loading cluster configs: YAML with locations, references, overlays, strict validation."""

from __future__ import annotations

from .loader import load_config, load_config_text
from .references import Reference

__all__ = ["Reference", "load_config", "load_config_text"]
