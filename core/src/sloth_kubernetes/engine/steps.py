"""The phases of ``up`` in order, and each phase's final word.

Every phase of :data:`~.plan.PHASES` ends a run with one true outcome (:class:`PhaseOutcome`):

* ``done`` — it ran (the detail says what changed, or ``no changes``);
* ``skipped`` — nothing to do (checked live where the phase has a cheap check), or it could not
  run because what it builds on failed or is not done (``blocked``: the run then fails);
* ``failed`` — with the first error;
* ``not run`` — outside ``--until``/``--only`` (not journaled: it was not part of the run).

"Nothing to do" comes from live state where a cheap check exists, not only from the journal:
prepare reads every node's facts in one round and applies only what differs (a converged node
costs that one round); the mesh and the distro ask their plugin's ``mesh_drift`` /
``distro_drift`` (one read round over all nodes) and run only on a finding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import SlothError
from ..model.cluster import PluginBlock
from . import phases
from .plan import PHASES

if TYPE_CHECKING:
    from ..model.nodes import NodeRecord
    from .run import UpOptions

#: The per-node phases a phase builds on: they must be done on the nodes it works on.
BUILDS_ON = {
    "mesh": ("prepare",),
    "distro": ("prepare", "mesh"),
    "addons": ("prepare", "mesh", "distro"),
}


def run_steps(run: phases.Run, steps: list[str], options: UpOptions) -> None:
    """Run ``steps`` in order and conclude every phase of :data:`PHASES` (see the module doc)."""
    forced = options.only is not None
    run.steps = tuple(steps)
    # The phases working on nodes need their SSH sessions: connect runs with them (`--only mesh`).
    connects = any(step in steps for step in ("prepare", "mesh", "distro", "addons"))
    for step in PHASES:
        if step not in steps and not (step == "connect" and connects):
            run.conclude(step, "not run", _not_requested(options))
            continue
        blocker = _blocker(run, step)
        if blocker:
            run.conclude(step, "skipped", blocker, blocked=True)
            continue
        before = len(run.failures)
        status, detail = _STEPS[step](run, forced)
        failed = run.failures[before:]
        if failed:
            status, detail = "failed", _failure_text(failed, len(run.healthy()) + len(failed))
        run.conclude(step, status, detail)


def _not_requested(options: UpOptions) -> str:
    if options.only:
        return f"--only {options.only}"
    return f"--until {options.until}"


def _blocker(run: phases.Run, step: str) -> str:
    """Why ``step`` cannot run now ("" if it can): an earlier phase failed for the whole
    cluster or could not run, or what it builds on is not done on the nodes."""
    index = PHASES.index(step)
    for earlier in PHASES[:index]:
        outcome = run.outcomes.get(earlier)
        if outcome is None:
            continue
        if outcome.blocked:
            return f"{earlier} could not run ({outcome.detail})"
        if any(f.node == "" for f in run.failures_in(earlier)):
            return f"{earlier} failed (its error is above)"
    if index == 0:
        return ""
    healthy = run.healthy()
    if not healthy:
        if run.nodes:
            return "no node left: every node failed in an earlier phase"
        return "the cluster has no machine yet (run `up` without --only)"
    for phase in BUILDS_ON.get(step, ()):
        missing = [n.name for n in healthy if n.phases.get(phase) != "done"]
        if missing:
            return f"{phase} is not done on {_names(missing)} (run `up` through {phase} first)"
    return ""


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _failure_text(failed: list[phases.Failure], total: int) -> str:
    nodes = sorted({f.node for f in failed if f.node})
    where = f"{len(nodes)} of {total} nodes, first " if nodes else ""
    first = failed[0]
    return f"{where}{first.node + ': ' if first.node else ''}{first.message}"


# -- the phases ----------------------------------------------------------------------------------


def _provision(run: phases.Run, _forced: bool) -> tuple[str, str]:
    if not run.plan.phase_pending("provision"):
        return "skipped", "nothing to do: every machine exists as planned"
    phases.provision(run)
    kinds = ("created", "adopted", "replaced", "deleted")
    counts = [f"{len(run.changed[k])} {k}" for k in kinds if run.changed.get(k)]
    return "done", ", ".join(counts) or "no machine changed"


def _connect(run: phases.Run, _forced: bool) -> tuple[str, str]:
    nodes = phases.reachable(run, run.healthy())
    if not nodes:
        return "skipped", "no node is reached over SSH (its provider has no `ssh` feature)"
    phases.connect(run)
    return "done", f"{len(nodes)} nodes, host keys pinned"


def _prepare(run: phases.Run, forced: bool) -> tuple[str, str]:
    """Runs whenever it is requested and nodes are reached: its single fact round is the live
    check, and only what differs is applied (a removed package, a deleted sysctl file)."""
    pending = forced or run.plan.phase_pending("prepare")
    reachable = phases.reachable(run, run.healthy())
    if not reachable or run.context.remote is None:
        if not pending:
            return "skipped", "nothing to do (no node is reached over SSH to check)"
        phases.prepare(run, require_cgroups=False)
        return "skipped", "no node is reached over SSH: nothing to prepare"
    changed = phases.prepare(run, require_cgroups=_distro_follows(run))
    if not changed:
        return "done", "checked live: no changes"
    text = "; ".join(f"{node}: {', '.join(steps)}" for node, steps in sorted(changed.items()))
    if not pending:
        run.repaired.append(f"prepare: {text}")
        return "done", f"repaired: {text}"
    return "done", text


def _distro_follows(run: phases.Run) -> bool:
    """The kubelet runs next: nodes must offer cgroups (not needed for ``--until mesh``)."""
    return "distro" in run.steps


def _mesh(run: phases.Run, forced: bool) -> tuple[str, str]:
    if forced or run.plan.phase_pending("mesh"):
        phases.mesh(run)
        return "done", f"{len(run.healthy())} nodes"
    block = run.context.config.spec.mesh
    name = block.name if isinstance(block, PluginBlock) else "wireguard"
    return _checked_live(
        run,
        "mesh",
        lambda nodes: run.manager.hooks.mesh_drift(run.context, name, nodes),
        lambda: phases.mesh(run),
    )


def _checked_live(
    run: phases.Run,
    phase: str,
    check: Callable[[list[NodeRecord]], list[str] | None],
    apply: Callable[[], None],
) -> tuple[str, str]:
    """A phase the plan has nothing for: ask its plugin what differs live (one round over the
    nodes), and run the phase only on a finding, reporting it as repaired."""
    nodes = phases.reachable(run, run.healthy())
    found: list[str] | None = None
    if nodes and run.context.remote is not None:
        try:
            found = check(nodes)
        except SlothError as error:  # the check itself failed: the phase will say why
            found = [str(error)]
    if found is None:
        return "skipped", f"nothing to do (recorded done; this {phase} has no live check)"
    if not found:
        return "skipped", f"nothing to do (checked live on {len(nodes)} nodes)"
    text = "; ".join(found)
    run.context.event(phase, f"live state differs: {text}")
    before = len(run.failures)
    apply()
    if len(run.failures) == before:
        run.repaired.append(f"{phase}: {text}")
    return "done", f"repaired: {text}"


def _distro(run: phases.Run, forced: bool) -> tuple[str, str]:
    if forced or run.plan.phase_pending("distro"):
        phases.distro(run)
        return "done", _distro_detail(run)
    name = run.context.config.spec.kubernetes.distribution
    return _checked_live(
        run,
        "distro",
        lambda nodes: run.manager.hooks.distro_drift(run.context, name, nodes),
        lambda: phases.distro(run),
    )


def _distro_detail(run: phases.Run) -> str:
    """``3 nodes``, or — when the CNI is an add-on and the nodes wait for it — what is true
    now: registered, not Ready, and which phase waits for Ready."""
    nodes = len(run.healthy())
    waiting = len(phases.awaiting_cni(run))
    if not waiting:
        return f"{nodes} nodes"
    return (
        f"{nodes} nodes registered, {waiting} not Ready until the CNI add-on is delivered "
        "(the addons phase waits for Ready)"
    )


def _addons(run: phases.Run, forced: bool) -> tuple[str, str]:
    if not (forced or run.plan.phase_pending("addons")):
        if not phases.awaiting_cni(run):
            return "skipped", "nothing to do (every manifest recorded as applied)"
        # delivered by an earlier run that stopped before its nodes were seen Ready
        phases.await_pod_network(run, _cni_component(run))
        ready = run.changed.get("nodes ready", [])
        return "done", f"nothing to install; {len(ready)} nodes Ready now that the CNI runs"
    phases.addons(run)
    applied = run.changed.get("addons", [])
    removed = run.changed.get("addons removed", [])
    ready = run.changed.get("nodes ready", [])
    parts = [f"{len(applied)} installed"] + ([f"{len(removed)} removed"] if removed else [])
    parts += [f"{len(ready)} nodes Ready once the CNI ran"] if ready else []
    return "done", ", ".join(parts)


def _cni_component(run: phases.Run) -> str:
    block = run.context.config.spec.kubernetes.cni
    return f"cni/{block.name}" if isinstance(block, PluginBlock) else "cni"


def _verify(run: phases.Run, _forced: bool) -> tuple[str, str]:
    phases.verify(run)
    return "done", f"{len(run.healthy())} nodes finished every phase"


_STEPS = {
    "provision": _provision,
    "connect": _connect,
    "prepare": _prepare,
    "mesh": _mesh,
    "distro": _distro,
    "addons": _addons,
    "verify": _verify,
}
