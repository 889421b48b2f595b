"""Plugins see one module of the core: ``sloth_kubernetes.plugin``.

Every plugin package (built-in or third-party) is written against that module's ``__all__``; the
rest of the core may change without breaking them. These tests keep it so.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import sloth_kubernetes.plugin as surface

REPO = Path(__file__).resolve().parents[2]
PLUGIN_SOURCES = sorted(REPO.glob("plugins/*/*/src/**/*.py"))


def core_imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every import of a ``sloth_kubernetes`` module in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        else:
            continue
        found += [(node.lineno, m) for m in modules if m.split(".")[0] == "sloth_kubernetes"]
    return found


def test_plugins_import_only_the_plugin_surface_from_the_core() -> None:
    assert len(PLUGIN_SOURCES) > 50, "the plugin sources were not found"
    outside = [
        f"{path.relative_to(REPO)}:{line}: {module}"
        for path in PLUGIN_SOURCES
        for line, module in core_imports(path)
        if module != "sloth_kubernetes.plugin"
    ]
    assert outside == [], "plugins must import from sloth_kubernetes.plugin only:\n" + "\n".join(
        outside
    )


def test_the_surface_lists_exactly_what_it_defines() -> None:
    # (assertion rewriting adds "@py_…" names when the core is a pytest plugin)
    public = {name for name in vars(surface) if name.isidentifier() and name[0] != "_"}
    public -= {"annotations"}
    assert sorted(public) == sorted(surface.__all__)
    assert len(set(surface.__all__)) == len(surface.__all__)


def test_hook_value_types_live_in_the_model_not_in_the_library() -> None:
    # hookspecs -> api (mesh) -> plugins -> hookspecs was an import cycle; the contract's types
    # belong next to it, in the model, which imports neither the library nor the manager.
    for path in (REPO / "core/src/sloth_kubernetes/model").glob("*.py"):
        for line, module in core_imports(path):
            assert module.split(".")[1] not in {"api", "plugins", "hookspecs"}, f"{path}:{line}"
        relative = [
            n.module or ""
            for n in ast.walk(ast.parse(path.read_text()))
            if isinstance(n, ast.ImportFrom) and n.level
        ]
        assert not [m for m in relative if m.startswith(("api", "plugins", "hookspecs"))]
    hookspecs = ast.parse((REPO / "core/src/sloth_kubernetes/hookspecs.py").read_text())
    imported = [
        f"{n.module or ''}.{alias.name}".lstrip(".")
        for n in ast.walk(hookspecs)
        if isinstance(n, ast.ImportFrom)
        for alias in n.names
    ]  # "context.ClusterContext", "api" for `from . import api`
    assert "context.ClusterContext" in imported  # the walk sees the (type-checking) imports
    assert not [m for m in imported if m == "api" or m.startswith("api.")]


def test_the_core_test_kit_names_no_cloud() -> None:
    # Each cloud's fake and fixtures live with its provider plugin's tests; the kit in core holds
    # only generic harnesses (issue #14). Cloud names: the provider plugins that talk to a cloud
    # API (every one but the host-based local and ssh), their fakes' names, and known aliases.
    providers = {p.name for p in REPO.glob("plugins/providers/*") if p.is_dir()} - {"local", "ssh"}
    fakes = {
        p.name.split("_fake")[0]
        for p in REPO.glob("plugins/providers/*/tests/*_fake*")
        if not p.name.startswith("test_")
    }
    aliases = {"aws", "amazon", "moto", "google", "gce", "hcloud", "arm", "nova", "neutron"}
    names = providers | fakes | aliases
    assert {"digitalocean", "vultr", "ec2"} <= names, names
    pattern = re.compile(r"\b(" + "|".join(sorted(names)) + r")\b", re.IGNORECASE)
    kit = REPO / "core/src/sloth_kubernetes/testing"
    found = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in sorted(kit.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == [], "the core test kit names a cloud (move it to the plugin):\n" + "\n".join(
        found
    )
