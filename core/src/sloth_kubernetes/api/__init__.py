"""The library surface: everything the CLI does, callable from Python (docs/library.md).

One convention throughout: a function takes the loaded config (:func:`load`, or
:func:`load_plan` for a saved plan) and/or the open state store (:func:`open_state`, closed by
``with``), never file paths or state URLs; ``manager`` (optional) is the plugin manager. The
names of the area modules (:mod:`.state`, :mod:`.nodes`, :mod:`.mesh`, :mod:`.distro`,
:mod:`.addons`) are re-exported here, loaded on first use: ``--help`` must start fast.

No click import here or below; the CLI (``sloth_kubernetes.cli``) parses, calls these, renders.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ..context import DoctorCheck, DoctorContext
from ..errors import UsageError
from ..plugins import PluginInfo, PluginManager, create_plugin_manager

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..engine.destroy import DestroyResult
    from ..engine.plan import Plan
    from ..engine.run import UpOptions, UpResult
    from ..model.cluster import ClusterConfig
    from ..state import StateStore
    from .addons import AddonsReport, addons_list
    from .distro import (
        ArtifactsResult,
        KubeconfigResult,
        RenderedCluster,
        artifacts_check,
        artifacts_fetch,
        artifacts_import,
        render,
        render_cluster,
        write_kubeconfig,
    )
    from .mesh import mesh_check, mesh_status, vpn_join, vpn_leave, vpn_list
    from .nodes import ALL_NODES, exec_command, list_nodes, node_summary, select_nodes, ssh
    from .state import (
        DEFAULT_LIMIT,
        AuditReport,
        KeyStatus,
        Migration,
        Transfer,
        audit_log,
        audit_verify,
        check_current_key,
        cluster_history,
        export_cluster,
        import_cluster,
        key_status,
        list_clusters,
        migrate_state,
        rekey_state,
        show_cluster,
        unlock_cluster,
    )

__all__ = [  # noqa: RUF022 (grouped by purpose)
    # loading, and the cluster lifecycle
    "load", "load_plan", "open_state", "plugin_manager", "plan", "save_plan", "up", "destroy",
    "status", "show", "plugins", "doctor", "schema", "templates", "template_text",
    "wizard_config", "Template", "WizardAnswers", "UpOptions", "UpResult", "Plan",
    "DestroyResult",
    # .state: inspect, move, unlock and re-key a state store; the audit log
    "DEFAULT_LIMIT", "AuditReport", "KeyStatus", "Migration", "Transfer", "audit_log",
    "audit_verify", "check_current_key", "cluster_history", "export_cluster", "import_cluster",
    "key_status", "list_clusters", "migrate_state", "rekey_state", "show_cluster",
    "unlock_cluster",
    # .nodes, .mesh, .distro, .addons
    "ALL_NODES", "exec_command", "list_nodes", "node_summary", "select_nodes", "ssh",
    "mesh_check", "mesh_status", "vpn_join", "vpn_leave", "vpn_list",
    "ArtifactsResult", "KubeconfigResult", "RenderedCluster", "artifacts_check",
    "artifacts_fetch", "artifacts_import", "render", "render_cluster", "write_kubeconfig",
    "AddonsReport", "addons_list",
]  # fmt: skip

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
    from ..config.loader import load_config

    manager = manager or plugin_manager()
    return load_config(paths, manager.hooks.catalog())


def open_state(
    url: str | None = None, *, passphrase: str | None = None, readonly: bool = False
) -> StateStore:
    """The state store at ``url`` (default: ``SLOTH_STATE``, else the embedded SQLite file), to
    use in a ``with`` block (which closes it); ``passphrase`` overrides
    ``SLOTH_STATE_PASSPHRASE``; ``readonly`` for reads: a store that does not exist is an error,
    nothing is written."""
    from ..state import open_store

    return open_store(url, passphrase=passphrase, readonly=readonly)


def load_plan(
    path: str | Path, *, manager: PluginManager | None = None
) -> tuple[ClusterConfig, dict[str, Any]]:
    """A plan saved by ``plan --out``: its config (validated as if loaded from a file) and the
    plan itself, for ``up(config, store, saved_plan=...)`` (refused if the state changed)."""
    import json

    from ..config.loader import load_config_text
    from ..engine.run import read_plan

    saved = read_plan(Path(path))
    manager = manager or plugin_manager()
    config = load_config_text(json.dumps(saved["config"]), manager.hooks.catalog(), file=str(path))
    return config, saved


def save_plan(plan: Plan, config: ClusterConfig, path: str | Path) -> None:
    """Write ``plan`` and the config it was made from to ``path`` (JSON), for :func:`load_plan`
    and ``up --plan``."""
    import json

    from ..engine.run import plan_file_data

    text = json.dumps(plan_file_data(plan, config), indent=2) + "\n"
    Path(path).write_text(text, encoding="utf-8")


def plan(
    config: ClusterConfig,
    store: StateStore,
    *,
    manager: PluginManager | None = None,
    refresh: bool = True,
) -> Plan:
    """What ``up`` would do: the spec vs the recorded state vs the providers' live inventory."""
    from ..engine.run import make_plan

    return make_plan(manager or plugin_manager(), store, config, refresh=refresh)


def up(
    config: ClusterConfig,
    store: StateStore,
    options: UpOptions | None = None,
    *,
    manager: PluginManager | None = None,
    emit: Callable[[dict[str, Any]], None] | None = None,
    confirm: Callable[[str], bool] | None = None,
    saved_plan: dict[str, Any] | None = None,
) -> UpResult:
    """Create or converge the cluster (see :mod:`sloth_kubernetes.engine.run`)."""
    from ..engine.run import UpOptions
    from ..engine.run import up as run_up

    return run_up(
        manager or plugin_manager(), store, config, options or UpOptions(),
        emit=emit or (lambda _event: None), confirm=confirm, saved_plan=saved_plan,
    )  # fmt: skip


def destroy(
    store: StateStore,
    name: str,
    *,
    yes: bool = False,
    dry_run: bool = False,
    force: bool = False,
    lost_key: bool = False,
    manager: PluginManager | None = None,
    confirm: Callable[[str], bool] | None = None,
    emit: Callable[[dict[str, Any]], None] | None = None,
) -> DestroyResult:
    """Remove every machine of cluster ``name``, check nothing tagged remains, forget it.

    A wrong or unset passphrase is refused; ``lost_key`` (the key is gone for good) destroys
    anyway and discards the cluster's encrypted secrets, recorded in the audit log."""
    from ..engine.destroy import destroy as run_destroy

    return run_destroy(
        manager or plugin_manager(), store, name, yes=yes, dry_run=dry_run, force=force,
        lost_key=lost_key, confirm=confirm, emit=emit,
    )  # fmt: skip


def status(store: StateStore, name: str | None = None) -> list[dict[str, Any]]:
    """Nodes, roles, addresses, per-phase state and the last operation of one or all clusters."""
    from ..engine.status import cluster_status

    names = [name] if name else store.cluster_names()
    return [cluster_status(store, n) for n in names]


def show(config: ClusterConfig) -> dict[str, Any]:
    """The effective config: defaults filled in, secrets masked, references shown as written."""
    from ..config.dump import effective_config

    return effective_config(config)


def plugins(*, manager: PluginManager | None = None) -> list[PluginInfo]:
    return (manager or plugin_manager()).plugin_infos()


def doctor(
    config: ClusterConfig | None = None,
    *,
    state_url: str | None = None,
    manager: PluginManager | None = None,
) -> list[DoctorCheck]:
    """Check the local environment (and the config's credentials when one is given), and that
    the state store at ``state_url`` can be opened (doctor reports a store that cannot)."""
    manager = manager or plugin_manager()
    context = DoctorContext(
        catalog=manager.hooks.catalog(),
        config=config,
        state_url=state_url,
        plugin_failures=tuple(f.render() for f in manager.failures),
    )
    return manager.hooks.doctor_checks(context)


def schema(*, manager: PluginManager | None = None) -> dict[str, Any]:
    """JSON Schema (2020-12) of the config, with every installed plugin's blocks."""
    from ..config.schema import cluster_schema

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


#: The area modules and the names each one adds to this package, imported on first use.
_LAZY = {
    "addons": ("AddonsReport", "addons_list"),
    "distro": (
        "ArtifactsResult", "KubeconfigResult", "RenderedCluster", "artifacts_check",
        "artifacts_fetch", "artifacts_import", "render", "render_cluster", "write_kubeconfig",
    ),
    "mesh": ("mesh_check", "mesh_status", "vpn_join", "vpn_leave", "vpn_list"),
    "nodes": ("ALL_NODES", "exec_command", "list_nodes", "node_summary", "select_nodes", "ssh"),
    "state": (
        "DEFAULT_LIMIT", "AuditReport", "KeyStatus", "Migration", "Transfer", "audit_log",
        "audit_verify", "check_current_key", "cluster_history", "export_cluster",
        "import_cluster", "key_status", "list_clusters", "migrate_state", "rekey_state",
        "show_cluster", "unlock_cluster",
    ),
}  # fmt: skip

#: The options and results of ``plan``, ``up`` and ``destroy`` (they live in the engine).
_ENGINE = {
    "UpOptions": "run",
    "UpResult": "run",
    "Plan": "plan",
    "DestroyResult": "destroy",
}


def __getattr__(name: str) -> Any:  # Any: whatever the area module defines under that name
    import importlib

    if name in _ENGINE:
        return getattr(importlib.import_module(f"..engine.{_ENGINE[name]}", __name__), name)
    for module, names in _LAZY.items():
        if name in names:
            return getattr(importlib.import_module(f".{module}", __name__), name)
    raise AttributeError(name)
