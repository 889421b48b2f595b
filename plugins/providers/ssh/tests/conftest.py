"""Fixtures of the ssh provider's tests: a plugin manager with the ssh provider, a config writer."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from sloth_kubernetes.config.loader import load_config
from sloth_kubernetes.model.cluster import ClusterConfig
from sloth_kubernetes.plugins import PluginManager


@pytest.fixture
def ssh_manager(
    sloth_manager: PluginManager, register_plugin: Callable[[object, str], None]
) -> PluginManager:
    """``sloth_manager`` with the ssh provider, installed or not."""
    if not sloth_manager.pm.has_plugin("ssh"):
        from sloth_provider_ssh import plugin

        register_plugin(plugin.PLUGIN, "ssh")
    return sloth_manager


@pytest.fixture
def ssh_config(
    config_factory: Callable[..., Path], ssh_manager: PluginManager
) -> Callable[..., tuple[Path, ClusterConfig]]:
    """``ssh_config(ssh_block, pools)`` → (path, loaded config) of a cluster on the ssh provider."""

    def write(
        ssh: dict[str, Any], pools: list[dict[str, Any]], *, name: str | None = None
    ) -> tuple[Path, ClusterConfig]:
        document = {
            "apiVersion": "sloth-kubernetes.io/v1beta1",
            "kind": "Cluster",
            "metadata": {"name": "bare"},
            "spec": {"providers": {"ssh": ssh}, "nodePools": pools},
        }
        stream = io.StringIO()
        YAML().dump(document, stream)
        path = config_factory(text=stream.getvalue(), name=name)
        return path, load(path)

    def load(path: Path) -> ClusterConfig:
        return load_config([path], ssh_manager.hooks.catalog())

    write.load = load  # type: ignore[attr-defined]
    return write
