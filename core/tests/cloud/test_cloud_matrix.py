"""docs/providers/feature-matrix.md is what the installed cloud plugins declare."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from sloth_kubernetes.cloud.matrix import CLOUDS, feature_matrix

PAGE = Path(__file__).resolve().parents[3] / "docs" / "providers" / "feature-matrix.md"


def test_feature_matrix_page_is_generated_from_the_plugins() -> None:
    missing = [c for c in CLOUDS if importlib.util.find_spec(f"sloth_provider_{c}") is None]
    if missing:
        pytest.skip(f"cloud plugins not installed: {', '.join(missing)}")
    assert PAGE.read_text(encoding="utf-8") == feature_matrix(), (
        "regenerate: python -m sloth_kubernetes.cloud.matrix docs/providers/feature-matrix.md"
    )
