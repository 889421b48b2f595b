"""The library surface: everything the CLI does, callable from Python.

No click import here or below; the CLI (``sloth_kubernetes.cli``) parses, calls these, renders.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from .context import DoctorCheck, DoctorContext
from .errors import UsageError
from .plugins import PluginInfo, PluginManager, create_plugin_manager

if TYPE_CHECKING:
    from collections.abc import Callable

    from .engine.destroy import DestroyResult
    from .engine.plan import Plan
    from .engine.run import UpOptions, UpResult
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


def open_state(url: str | None = None, *, readonly: bool = False) -> Any:
    """The state store at ``url`` (default: ``SLOTH_STATE``, else the embedded SQLite file);
    ``readonly`` for reads: a store that does not exist is an error, nothing is written."""
    from .state import open_store

    return open_store(url, readonly=readonly)


def load_plan(
    path: str | Path, *, manager: PluginManager | None = None
) -> tuple[ClusterConfig, dict[str, Any]]:
    """A plan saved by ``plan --out``: its config (validated as if loaded from a file) and the
    plan itself, for ``up(config, saved_plan=...)`` (which refuses it if the state changed)."""
    import json

    from .config.loader import load_config_text
    from .engine.run import read_plan

    saved = read_plan(Path(path))
    manager = manager or plugin_manager()
    config = load_config_text(json.dumps(saved["config"]), manager.hooks.catalog(), file=str(path))
    return config, saved


def plan(
    config: ClusterConfig,
    *,
    manager: PluginManager | None = None,
    state_url: str | None = None,
    refresh: bool = True,
) -> Plan:
    """What ``up`` would do: the spec vs the recorded state vs the providers' live inventory."""
    from .engine.run import make_plan

    with open_state(state_url) as store:
        return make_plan(manager or plugin_manager(), store, config, refresh=refresh)


def up(
    config: ClusterConfig,
    options: UpOptions | None = None,
    *,
    manager: PluginManager | None = None,
    state_url: str | None = None,
    emit: Callable[[dict[str, Any]], None] | None = None,
    confirm: Callable[[str], bool] | None = None,
    saved_plan: dict[str, Any] | None = None,
) -> UpResult:
    """Create or converge the cluster (see :mod:`sloth_kubernetes.engine.run`)."""
    from .engine.run import UpOptions
    from .engine.run import up as run_up

    with open_state(state_url) as store:
        return run_up(
            manager or plugin_manager(), store, config, options or UpOptions(),
            emit=emit or (lambda _event: None), confirm=confirm, saved_plan=saved_plan,
        )  # fmt: skip


def destroy(
    name: str,
    *,
    yes: bool = False,
    dry_run: bool = False,
    force: bool = False,
    lost_key: bool = False,
    manager: PluginManager | None = None,
    state_url: str | None = None,
    confirm: Callable[[str], bool] | None = None,
    emit: Callable[[dict[str, Any]], None] | None = None,
) -> DestroyResult:
    """Remove every machine of cluster ``name``, check nothing tagged remains, forget it.

    A wrong or unset passphrase is refused; ``lost_key`` (the key is gone for good) destroys
    anyway and discards the cluster's encrypted secrets, recorded in the audit log."""
    from .engine.destroy import destroy as run_destroy

    with open_state(state_url) as store:
        return run_destroy(
            manager or plugin_manager(),
            store,
            name,
            yes=yes,
            dry_run=dry_run,
            force=force,
            lost_key=lost_key,
            confirm=confirm,
            emit=emit,
        )


def status(name: str | None = None, *, state_url: str | None = None) -> list[dict[str, Any]]:
    """Nodes, roles, addresses, per-phase state and the last operation of one or all clusters."""
    from .engine.status import cluster_status

    with open_state(state_url, readonly=True) as store:
        names = [name] if name else store.cluster_names()
        return [cluster_status(store, n) for n in names]


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
    from importlib import resources

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
    if answers.provider == "local":  # fast local hosts have no cgroups: no kubelet runs there
        provider_block = "{mode: systemd}  # Kubernetes needs systemd hosts (fast: no cgroups)"
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


#: Functions of :mod:`sloth_kubernetes.api_state` and :mod:`sloth_kubernetes.api_nodes`,
#: re-exported here lazily: importing them pulls in the state store and SSH layers, which
#: ``--help`` does not need.
_LAZY = {
    "api_state": (
        "list_clusters",
        "show_cluster",
        "cluster_history",
        "export_cluster",
        "import_cluster",
        "migrate_state",
        "unlock_cluster",
        "rekey_state",
        "key_status",
        "audit_log",
        "audit_verify",
    ),
    "api_nodes": ("list_nodes", "node_summary", "select_nodes", "ssh", "exec_command"),
}


def __getattr__(name: str) -> Any:
    import importlib

    for module, names in _LAZY.items():
        if name in names:
            return getattr(importlib.import_module(f"{__package__}.{module}"), name)
    raise AttributeError(name)
