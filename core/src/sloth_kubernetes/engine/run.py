"""``up`` and ``destroy``: lock, plan, confirm, run the phases, record everything.

Every step is journaled; an interrupted run (Ctrl-C, ``kill -9``, a failed node) resumes on the
next ``up`` because the plan is computed from what was recorded and what the providers report:
machines that exist are adopted, finished phases are not redone, a converged cluster is a no-op.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ..config.dump import effective_config
from ..context import ClusterContext
from ..errors import SlothError, UsageError
from ..model.cluster import ClusterConfig
from ..model.nodes import ResourceChange
from ..paths import data_dir
from . import phases
from .operator import operator_key
from .phases import Failure, PhaseOutcome
from .plan import PHASES, Action, Plan, build_plan, node_requests
from .quorum import check_server_removal
from .steps import run_steps

if TYPE_CHECKING:
    from pathlib import Path

    from ..model.nodes import NodeRecord, NodeRequest
    from ..plugins import PluginManager
    from ..state import ClusterRecord, StateStore

Confirm = Callable[[str], bool]
Emit = Callable[[dict[str, Any]], None]


@attrs.frozen
class UpOptions:
    """``until``/``only`` name a phase; ``refresh`` asks providers for their live inventory."""

    yes: bool = False
    dry_run: bool = False
    until: str | None = None
    only: str | None = None
    refresh: bool = True
    trust_new_host_keys: bool = False
    parallel: int = 16  # per provider
    max_parallel: int = 64  # all providers together, and SSH sessions
    #: Remove servers even below etcd's quorum or to an even count (engine/quorum.py).
    force: bool = False


@attrs.frozen
class UpResult:
    """What ``up`` did. ``phases``: the phases it was asked to run; ``outcomes``: every phase's
    final word (docs/lifecycle.md); ``repaired``: live drift it found and set right."""

    cluster: str
    run_id: str
    plan: Plan
    phases: tuple[str, ...]
    failures: tuple[Failure, ...]
    changed: dict[str, list[str]]
    converged: bool
    api_retries: dict[str, int] = attrs.field(factory=dict)
    outcomes: tuple[PhaseOutcome, ...] = ()
    repaired: tuple[str, ...] = ()

    @property
    def blocked(self) -> list[PhaseOutcome]:
        """Requested phases that could not run (an earlier phase failed or is not done)."""
        return [o for o in self.outcomes if o.blocked]

    @property
    def ok(self) -> bool:
        return not self.failures and not self.blocked

    def to_data(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "runId": self.run_id,
            "phases": list(self.phases),
            "outcomes": [
                {"phase": o.phase, "status": o.status, "detail": o.detail, "blocked": o.blocked}
                for o in self.outcomes
            ],
            "converged": self.converged,
            "changed": self.changed,
            "repaired": list(self.repaired),
            "apiRetries": self.api_retries,
            "failures": [attrs.asdict(f) for f in self.failures],
            "plan": self.plan.to_data(),
        }


def recorded_state(store: StateStore, cluster: str) -> tuple[str, list[NodeRecord]]:
    record = store.get_cluster(cluster)
    return (record.spec_hash if record else ""), store.list_nodes(cluster)


def live_inventory(
    manager: PluginManager, context: ClusterContext, providers: Sequence[str]
) -> dict[str, list[Any]]:
    return {p: manager.hooks.list_nodes(context, p) for p in sorted(set(providers))}


def make_plan(
    manager: PluginManager, store: StateStore, config: ClusterConfig, *, refresh: bool = True
) -> Plan:
    recorded_hash, recorded = recorded_state(store, config.name)
    live = None
    sizes: dict[str, str] = {}
    shared: list[ResourceChange] = []
    if refresh:
        context = ClusterContext(config=config, state=store, data_dir=data_dir())
        providers = [p.provider for p in config.spec.node_pools] + [n.provider for n in recorded]
        live = live_inventory(manager, context, providers)
        sizes = _describe_nodes(manager, context)
        for provider in sorted({p.provider for p in config.spec.node_pools}):
            shared += manager.hooks.plan_shared_changes(context, provider)
    recorded_addons = sorted({m.plugin for m in store.list_manifests(config.name)})
    return build_plan(
        config,
        recorded=recorded,
        live=live,
        recorded_hash=recorded_hash,
        recorded_addons=recorded_addons,
        sizes=sizes,
        shared_changes=shared,
    )


def _describe_nodes(manager: PluginManager, context: ClusterContext) -> dict[str, str]:
    """What each provider says about the sizes it will use (``describe_nodes``; providers with
    a catalog answer from their on-disk cache, so this costs no request most of the time)."""
    by_provider: dict[str, list[NodeRequest]] = {}
    for request in node_requests(context.config):
        by_provider.setdefault(request.provider, []).append(request)
    sizes: dict[str, str] = {}
    for provider, requests in sorted(by_provider.items()):
        sizes.update(manager.hooks.describe_nodes(context, provider, requests))
    return sizes


def _phases_to_run(options: UpOptions) -> list[str]:
    for name in (options.until, options.only):
        if name is not None and name not in PHASES:
            raise UsageError(f"unknown phase {name!r}", hint=f"phases: {', '.join(PHASES)}")
    if options.only and options.until:
        raise UsageError(
            f"--only {options.only} and --until {options.until} contradict each other",
            hint="--only runs one phase; --until runs every phase up to one: give one of them",
        )
    if options.only:
        return [options.only]
    if options.until:
        return list(PHASES[: PHASES.index(options.until) + 1])
    return list(PHASES)


def _checkable_live(manager: PluginManager, store: StateStore, cluster: str) -> bool:
    """Whether the cluster has recorded nodes the phases can check live (over SSH)."""
    catalog = manager.hooks.catalog()
    for node in store.list_nodes(cluster):
        component = catalog.component("provider", node.provider)
        if component is not None and "ssh" in component.features:
            return True
    return False


def _confirm_destructive(plan: Plan, options: UpOptions, confirm: Confirm | None) -> None:
    destructive = plan.destructive
    if not destructive or options.yes:
        return
    listing = ", ".join(f"{a.kind} {a.target}" for a in destructive)
    if confirm is None or not confirm(f"This will {listing}. Continue?"):
        raise SlothError(
            f"not confirmed: {listing}",
            hint="re-run with --yes to apply destructive changes without asking",
        )


def up(
    manager: PluginManager,
    store: StateStore,
    config: ClusterConfig,
    options: UpOptions,
    *,
    emit: Emit,
    confirm: Confirm | None = None,
    saved_plan: dict[str, Any] | None = None,
) -> UpResult:
    """Bring the cluster to ``config``; see the module docstring."""
    steps = _phases_to_run(options)
    with store.lock(config.name, "up"):
        plan = make_plan(manager, store, config, refresh=options.refresh)
        if saved_plan is not None and saved_plan.get("fingerprint") != plan.fingerprint:
            raise SlothError(
                "the state changed since this plan was made",
                hint="run `plan --out FILE` again and review the new plan",
            )
        forced = check_server_removal(
            config, store.list_nodes(config.name), plan, force=options.force
        )
        if forced is not None:
            emit({"phase": "provision", "node": None, "status": "warning",
                  "message": f"--force: {forced}"})  # fmt: skip
        run_id = uuid.uuid4().hex[:12]
        live = options.refresh and _checkable_live(manager, store, config.name)
        if options.dry_run or not (plan.has_changes or live):
            return UpResult(config.name, run_id, plan, (), (), {}, not plan.has_changes)
        _confirm_destructive(plan, options, confirm)
        return _apply(manager, store, config, plan, options, steps, run_id, emit)


def _apply(
    manager: PluginManager,
    store: StateStore,
    config: ClusterConfig,
    plan: Plan,
    options: UpOptions,
    steps: list[str],
    run_id: str,
    emit: Emit,
) -> UpResult:
    identity = store.identity
    operation = store.begin_operation(config.name, "up", identity.user, identity.host)
    applied_spec = effective_config(config)
    previous = store.get_cluster(config.name)
    if plan.has_changes:  # a run that only checks live state keeps the record until it fails
        store.put_cluster(_cluster_record(config, applied_spec, "pending", previous))
    outcome = "failed"
    run: phases.Run | None = None
    try:
        with operator_key(store, config.name) as key:
            context = ClusterContext(
                config=config, state=store, emit=emit, run_id=run_id, data_dir=data_dir(),
                operator=key, trust_new_host_keys=options.trust_new_host_keys,
                concurrency=options.parallel,
            )  # fmt: skip
            run = phases.Run(context, manager, plan, max_parallel=options.max_parallel)
            run.nodes = {n.name: n for n in store.list_nodes(config.name)}
            try:
                run_steps(run, steps, options)
            finally:
                if context.remote is not None:
                    context.remote.close()
        blocked = any(o.blocked for o in run.outcomes.values())
        ok = not run.failures and not blocked
        converged = ok and steps[-1] == "verify" and steps[0] == "provision"
        if converged:
            store.put_cluster(_cluster_record(config, applied_spec, plan.spec_hash, previous))
        elif not ok and not plan.has_changes:
            store.put_cluster(_cluster_record(config, applied_spec, "pending", previous))
        outcome = "succeeded" if ok else "failed"
        return UpResult(config.name, run_id, plan, tuple(steps), tuple(run.failures),
                        {k: v for k, v in run.changed.items() if v}, converged,
                        dict(run.retries), tuple(run.outcomes[p] for p in PHASES),
                        tuple(run.repaired))  # fmt: skip
    except KeyboardInterrupt:
        outcome = "interrupted"
        raise
    finally:
        changed = {k: v for k, v in run.changed.items() if v} if run is not None else {}
        failures = [attrs.asdict(f) for f in run.failures] if run is not None else []
        store.end_operation(
            operation,
            outcome,
            {
                "runId": run_id,
                "changed": changed,
                "failures": failures,
                "apiRetries": dict(run.retries) if run is not None else {},
                "outcomes": {p: o.status for p, o in run.outcomes.items()} if run else {},
                "repaired": list(run.repaired) if run is not None else [],
            },
        )
        store.audit_append(
            command="up",
            cluster=config.name,
            outcome=outcome,
            resources={"runId": run_id, **changed},
        )


def _cluster_record(
    config: ClusterConfig, spec: dict[str, Any], spec_hash: str, previous: ClusterRecord | None
) -> ClusterRecord:
    from ..state import ClusterRecord

    # Only a converged run records the spec's hash: anything else keeps the plan's phase actions.
    marker = spec_hash if spec_hash != "pending" else "pending"
    _ = previous
    return ClusterRecord(
        name=config.name, spec=spec, spec_hash=marker, protect=config.metadata.protect
    )


def plan_file_data(plan: Plan, config: ClusterConfig) -> dict[str, Any]:
    """What ``plan --out FILE`` writes: the plan and the config it was made from (no secrets)."""
    return {"version": 1, **plan.to_data(), "config": effective_config(config)}


_PLAN_HINT = "write one with `plan -f FILE --out PLAN`"


def read_plan(path: Path) -> dict[str, Any]:
    """The saved plan in ``path`` (bounded read; UsageError naming the file otherwise)."""
    from ..untrusted import read_text

    text = read_text(path, what="a saved plan", hint=_PLAN_HINT, error=UsageError)
    return read_plan_file(text, str(path))


def read_plan_file(text: str, source: str) -> dict[str, Any]:
    from ..untrusted import parse_json

    data = parse_json(text, source=source, what="a saved plan", hint=_PLAN_HINT, error=UsageError)
    if not isinstance(data, dict) or data.get("version") != 1 or "config" not in data:
        raise UsageError(f"{source} is not a saved plan", hint=_PLAN_HINT)
    if not isinstance(data["config"], dict):
        raise UsageError(
            f"{source}: its `config` is not a mapping: not a saved plan", hint=_PLAN_HINT
        )
    return data


__all__ = ["Action", "UpOptions", "UpResult", "make_plan", "up"]
