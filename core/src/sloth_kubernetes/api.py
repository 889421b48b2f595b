"""The library surface: everything the CLI does, callable from Python.

No click import here or below; the CLI (``sloth_kubernetes.cli``) parses, calls these, renders.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from .context import DoctorCheck, DoctorContext
from .errors import UsageError
from .plugins import PluginInfo, PluginManager, create_plugin_manager

if TYPE_CHECKING:
    from .engine.plan import Plan
    from .model.cluster import ClusterConfig

# The config loader, cattrs and ruamel.yaml are imported inside the functions that need them:
# `--help` and `plugins` must start fast.

_default_manager: PluginManager | None = None


def plugin_manager() -> PluginManager:
    """The process-wide plugin manager (built-ins plus installed plugins), created once."""
    global _default_manager
    if _default_manager is None:
        _default_manager = create_plugin_manager()
    return _default_manager


def load(paths: Sequence[str | Path], *, manager: PluginManager | None = None) -> ClusterConfig:
    """Load and validate config files (later files overlay earlier ones)."""
    from .config.loader import load_config

    manager = manager or plugin_manager()
    return load_config(paths, manager.hooks.catalog())


def plan(config: ClusterConfig, *, manager: PluginManager | None = None) -> Plan:
    """What ``up`` would do for ``config``."""
    from .engine.plan import build_plan

    _ = manager
    return build_plan(config)


def show(config: ClusterConfig) -> dict[str, Any]:
    """The effective config: defaults filled in, secrets masked, references shown as written."""
    from .config.dump import effective_config

    return effective_config(config)


def plugins(*, manager: PluginManager | None = None) -> list[PluginInfo]:
    return (manager or plugin_manager()).plugin_infos()


def doctor(
    paths: Sequence[str | Path] = (),
    *,
    state_url: str | None = None,
    manager: PluginManager | None = None,
) -> list[DoctorCheck]:
    """Check the local environment (and the config's credentials when ``paths`` are given)."""
    manager = manager or plugin_manager()
    config = load(paths, manager=manager) if paths else None
    context = DoctorContext(
        catalog=manager.hooks.catalog(),
        config=config,
        state_url=state_url,
        plugin_failures=tuple(f.render() for f in manager.failures),
    )
    return manager.hooks.doctor_checks(context)


def schema(*, manager: PluginManager | None = None) -> dict[str, Any]:
    """JSON Schema (2020-12) of the config, with every installed plugin's blocks."""
    from .config.schema import cluster_schema

    return cluster_schema((manager or plugin_manager()).hooks.catalog())


@attrs.frozen
class Template:
    name: str
    description: str


TEMPLATES = (
    Template("local", "3 nodes on this machine (1 server, 2 agents) — the embedded default"),
    Template("single-cloud-ha", "3 servers + agents on one cloud (Hetzner), HA control plane"),
    Template("multi-cloud", "servers on Hetzner, agents on AWS and DigitalOcean, one mesh"),
    Template("bare-metal", "machines you already have, over SSH"),
)


def templates() -> list[Template]:
    return list(TEMPLATES)


def template_text(name: str) -> str:
    if name not in {t.name for t in TEMPLATES}:
        raise UsageError(
            f"no template named {name!r}",
            hint=f"choose one of: {', '.join(t.name for t in TEMPLATES)}",
        )
    return resources.files("sloth_kubernetes").joinpath(f"templates/{name}.yaml").read_text()


@attrs.frozen
class WizardAnswers:
    name: str = "demo"
    provider: str = "local"
    servers: int = 1
    agents: int = 2
    distribution: str = "k3s"


def wizard_config(answers: WizardAnswers) -> str:
    """The YAML the interactive wizard writes for ``answers``."""
    # Cloud credentials differ per provider: the plugin's README lists them; `config validate`
    # names any that are missing.
    provider_block = "{}"
    pools = [
        f"""    - name: servers
      provider: {answers.provider}
      count: {answers.servers}
      roles: [server]"""
    ]
    if answers.agents:
        pools.append(f"""    - name: agents
      provider: {answers.provider}
      count: {answers.agents}
      roles: [agent]""")
    return f"""# yaml-language-server: $schema=sloth-kubernetes.schema.json
apiVersion: sloth-kubernetes.io/v1beta1
kind: Cluster
metadata:
  name: {answers.name}
spec:
  providers:
    {answers.provider}: {provider_block}
  nodePools:
{chr(10).join(pools)}
  kubernetes:
    distribution: {answers.distribution}
"""
