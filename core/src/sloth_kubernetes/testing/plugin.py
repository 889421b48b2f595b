"""pytest plugin of sloth-kubernetes (entry point ``pytest11``): fixtures for plugin authors.

* ``sloth_manager`` — a fresh plugin manager (built-ins + installed plugins);
* ``register_plugin`` — register a plugin object for one test;
* ``sloth_cli`` — run the CLI through its real exit boundary, capturing output;
* ``config_factory`` — write a cluster config (a small valid default, with overrides) to a file;
* ``dummy_provider`` — the in-memory ``dummy`` provider, registered;
* ``faulty_proxy``, ``recorded_api`` — fault injection and recorded exchanges in front of a
  cloud API (each provider plugin keeps its fake and its fixture; docs/testing-clouds.md);
* ``postgres_url``, ``postgres_database_url`` — a throwaway PostgreSQL server / database.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest

from ..plugins import PluginManager, create_plugin_manager
from ..secrets import forget_all
from .dummy import DummyCluster, DummyProvider

# Fixtures of the other test-kit modules, exposed to every test session (plugin authors included):
# cloud API harnesses (emulators/fixtures.py) and a throwaway PostgreSQL (postgres.py).
from .emulators.fixtures import faulty_proxy, recorded_api  # noqa: F401
from .postgres import postgres_database_url, postgres_url  # noqa: F401


@attrs.frozen
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def sloth_manager(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> PluginManager:
    """A fresh plugin manager; the data directory points into the test's tmp_path."""
    monkeypatch.setenv("SLOTH_DATA_DIR", str(tmp_path / "sloth-data"))
    return create_plugin_manager()


@pytest.fixture
def register_plugin(sloth_manager: PluginManager) -> Iterator[Callable[[object, str], None]]:
    names: list[str] = []

    def register(plugin: object, name: str) -> None:
        sloth_manager.register(plugin, name)
        sloth_manager.hooks.invalidate()
        names.append(name)

    yield register
    for name in names:
        if sloth_manager.pm.has_plugin(name):
            sloth_manager.unregister(name)
    sloth_manager.hooks.invalidate()


@pytest.fixture
def dummy_provider(register_plugin: Callable[[object, str], None]) -> DummyProvider:
    provider = DummyProvider()
    register_plugin(provider, "dummy")
    return provider


@pytest.fixture
def dummy_cluster(register_plugin: Callable[[object, str], None]) -> DummyCluster:
    """The fake ``dummy`` mesh and distro, registered (use with ``DUMMY_CLUSTER`` overrides)."""
    fakes = DummyCluster()
    register_plugin(fakes, "dummy-cluster")
    return fakes


#: Overrides for ``config_factory`` that select the fake mesh and distro.
DUMMY_CLUSTER: dict[str, Any] = {
    "spec": {"mesh": {"type": "dummy"}, "kubernetes": {"distribution": "dummy"}}
}


@pytest.fixture
def sloth_cli(sloth_manager: PluginManager) -> Callable[..., CliResult]:
    """``sloth_cli("plan", "-f", path, input=None)`` → CliResult(exit_code, stdout, stderr)."""
    from click.testing import CliRunner

    from ..cli.main import run

    def invoke(*args: str, input: str | None = None) -> CliResult:
        runner = CliRunner()
        with runner.isolation(input=input) as streams:
            code = run(list(args), manager=sloth_manager)
            out, err = streams[0], streams[1]
            return CliResult(code, out.getvalue().decode(), err.getvalue().decode())

    return invoke


BASE_CONFIG: dict[str, Any] = {
    "apiVersion": "sloth-kubernetes.io/v1beta1",
    "kind": "Cluster",
    "metadata": {"name": "test"},
    "spec": {
        "providers": {"dummy": {}},
        "nodePools": [
            {"name": "servers", "provider": "dummy", "count": 1, "roles": ["server"]},
            {"name": "agents", "provider": "dummy", "count": 2, "roles": ["agent"]},
        ],
    },
}


def _deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _deep_merge(result[key], value)
        else:
            result[key] = value
    return result


@pytest.fixture
def config_factory(tmp_path: Path) -> Callable[..., Path]:
    """``config_factory({"spec": {...}}, name="c.yaml", text=None)`` → path of a written config."""
    from ruamel.yaml import YAML

    counter = iter(range(1_000_000))

    def write(
        overrides: dict[str, Any] | None = None, *, name: str | None = None, text: str | None = None
    ) -> Path:
        path = tmp_path / (name or f"cluster-{next(counter)}.yaml")
        if text is None:
            yaml = YAML()
            with path.open("w", encoding="utf-8") as handle:
                yaml.dump(_deep_merge(BASE_CONFIG, overrides or {}), handle)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    yield
    forget_all()


def pytest_configure(config: pytest.Config) -> None:
    _ = config


__all__: Sequence[str] = (
    "BASE_CONFIG",
    "DUMMY_CLUSTER",
    "CliResult",
    "config_factory",
    "dummy_cluster",
    "dummy_provider",
    "register_plugin",
    "sloth_cli",
    "sloth_manager",
)
