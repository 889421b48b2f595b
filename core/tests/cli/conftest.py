from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def plugin_site(tmp_path: Path) -> Callable[..., Path]:
    """``plugin_site(name, source, attribute="")``: a folder to put on PYTHONPATH holding an
    installed distribution ``<name>-sloth-plugin`` whose ``sloth_kubernetes`` entry point
    ``<name>`` names module ``<name>_sloth_plugin`` (``:attribute`` if given) with ``source``."""
    site = tmp_path / "site"

    def install(name: str, source: str, attribute: str = "") -> Path:
        module = f"{name}_sloth_plugin"
        info = site / f"{module}-1.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}-sloth-plugin\nVersion: 1.0\n"
        )
        target = f"{module}:{attribute}" if attribute else module
        (info / "entry_points.txt").write_text(f"[sloth_kubernetes]\n{name} = {target}\n")
        (site / f"{module}.py").write_text(source)
        return site

    return install
