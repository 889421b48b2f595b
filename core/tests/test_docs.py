"""Docs that are generated must match the code."""

from __future__ import annotations

from pathlib import Path

from sloth_kubernetes.docgen import config_reference

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_config_reference_matches_the_models():
    committed = (DOCS / "reference" / "config.md").read_text()
    assert committed == config_reference(), "run `make docs` and commit docs/reference/config.md"


def test_every_plugin_has_a_readme_with_an_example():
    plugins = sorted((DOCS.parent / "plugins").glob("*/*/pyproject.toml"))
    assert plugins
    for pyproject in plugins:
        readme = pyproject.parent / "README.md"
        assert readme.is_file(), f"{pyproject.parent} has no README.md"
        assert "```yaml" in readme.read_text(), f"{readme} has no YAML example"
