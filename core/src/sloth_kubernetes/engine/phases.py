"""The phases of ``up`` after the plan: each works per node, journals every step, and leaves a
failed node behind without stopping the others' independent work."""

from __future__ import annotations

import concurrent.futures
from collections import defaultdict
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING

import attrs

from ..distro.topology import EXTRA_KEY as DISTRO_KEY
from ..errors import PartialProvisionError, SlothError
from ..model.cluster import PluginBlock
from ..model.nodes import NodePackage, NodeRecord, NodeRequest
from .plan import PHASE_SPEC, SHARED_KINDS, Plan, _placement, addon_components

if TYPE_CHECKING:
    from ..context import ClusterContext
    from ..plugins import PluginManager
    from ..state import StateStore


@attrs.frozen
class Failure:
    """A step that failed: shown in the summary with its node and a hint."""

    phase: str
    node: str
    message: str
    hint: str | None = None


#: A phase's final word in a run: ``done`` (it ran and succeeded), ``skipped`` (nothing to do,
#: or it could not run because an earlier phase failed: ``detail`` says which), ``failed``, or
#: ``not run`` (outside ``--until``/``--only``).
OUTCOME_STATUSES = ("done", "skipped", "failed", "not run")


@attrs.frozen
class PhaseOutcome:
    """How one phase of ``up`` ended, and why (shown in the summary and in ``-o json``)."""

    phase: str
    status: str
    detail: str = ""
    #: True when the phase was asked for but could not run (an earlier phase failed, or what it
    #: builds on is not done): the run is then not a success.
    blocked: bool = False


@attrs.define
class Run:
    """The mutable record of one ``up``: nodes as they become known, failures, what changed."""

    context: ClusterContext
    manager: PluginManager
    plan: Plan
    max_parallel: int = 64  # the global bound: all providers together, and SSH sessions
    nodes: dict[str, NodeRecord] = attrs.field(factory=dict)
    failures: list[Failure] = attrs.field(factory=list)
    changed: dict[str, list[str]] = attrs.field(factory=lambda: defaultdict(list))
    retries: dict[str, int] = attrs.field(factory=dict)  # provider → API retries this run
    outcomes: dict[str, PhaseOutcome] = attrs.field(factory=dict)
    steps: tuple[str, ...] = ()  # the phases this run was asked to run
    #: What the live checks found and the run set right ("mesh: demo-agent-1: wg-sloth is down").
    repaired: list[str] = attrs.field(factory=list)

    @property
    def store(self) -> StateStore:
        return self.context.store

    def journal(self, phase: str, node: str, step: str, status: str, detail: str = "") -> None:
        self.store.journal_record(
            self.context.name, self.context.run_id, phase, node, step, status, detail
        )
        self.context.event(phase, detail or step, node=node or None, status=status)

    def journal_nodes(
        self, phase: str, nodes: Sequence[str], step: str, status: str, detail: str = ""
    ) -> None:
        """:meth:`journal` for the same step on many nodes, in one state transaction."""
        if not nodes:
            return
        self.store.journal_records(
            self.context.name,
            self.context.run_id,
            [(phase, node, step, status, detail) for node in nodes],
        )
        for node in nodes:
            self.context.event(phase, detail or step, node=node, status=status)

    def fail(self, phase: str, node: str, error: SlothError) -> None:
        self.failures.append(Failure(phase, node, str(error), error.hint))
        self.journal(phase, node, phase, "failed", str(error))

    def failures_in(self, phase: str) -> list[Failure]:
        return [f for f in self.failures if f.phase == phase]

    def conclude(self, phase: str, status: str, detail: str = "", *, blocked: bool = False) -> None:
        """Record ``phase``'s final word; journaled unless the phase was not part of the run."""
        self.outcomes[phase] = PhaseOutcome(phase, status, detail, blocked)
        already = status == "failed" and any(f.node == "" for f in self.failures_in(phase))
        if status != "not run" and not already:  # a cluster-wide failure journaled itself
            self.journal(phase, "", phase, status, detail)

    def healthy(self) -> list[NodeRecord]:
        failed = {f.node for f in self.failures}
        return [n for name, n in sorted(self.nodes.items()) if name not in failed]

    def save(self, node: NodeRecord) -> NodeRecord:
        current = self.nodes.get(node.name)
        if current is not None and attrs.evolve(node, updated_at=current.updated_at) == current:
            return current  # nothing changed: no write (a converged node costs no transaction)
        stored: NodeRecord = self.store.put_node(node)
        self.nodes[node.name] = stored
        return stored

    def mark(self, phase: str, nodes: Sequence[NodeRecord], status: str = "done") -> None:
        """Record ``phase`` as ``status`` on ``nodes``, with the spec it was done for."""
        for node in nodes:
            current = self.nodes.get(node.name, node)
            done_for = {**current.extra.get(PHASE_SPEC, {}), phase: self.plan.spec_hash}
            self.save(
                attrs.evolve(
                    current,
                    phases={**current.phases, phase: status},
                    extra={**current.extra, PHASE_SPEC: done_for},
                )
            )


def share_of(run: Run, providers: int) -> ClusterContext:
    """The context one provider works with: its concurrency is ``--parallel``, but providers
    working at the same time share the global bound ``--max-parallel``."""
    share = max(1, run.max_parallel // max(1, providers))
    return attrs.evolve(run.context, concurrency=min(run.context.concurrency, share))


def _per_provider(tasks: dict[str, Callable[[], None]]) -> None:
    """Run one task per provider concurrently (each provider parallelises its own batch)."""
    if not tasks:
        return
    with concurrent.futures.ThreadPoolExecutor(
        max_workers=len(tasks), thread_name_prefix="sloth-provider"
    ) as pool:
        for future in concurrent.futures.as_completed([pool.submit(t) for t in tasks.values()]):
            future.result()  # a task records its own SlothError; anything else is a bug: raise


def planned_packages(run: Run, batch: Sequence[NodeRequest]) -> dict[str, list[NodePackage]]:
    """By node: what prepare will install on the machines of ``batch`` (every plugin's
    ``node_packages``), for providers that serve packages to the machines they make."""
    hooks = run.manager.hooks
    packages = {}
    for request in batch:
        node = NodeRecord(
            cluster=run.context.name, name=request.name, pool=request.pool,
            provider=request.provider, roles=request.roles, labels=dict(request.labels),
        )  # fmt: skip
        packages[request.name] = hooks.node_packages(run.context, node)
    return packages


def provision(run: Run) -> None:
    """Create, adopt, replace and delete machines as planned; record each as soon as it exists.

    Each provider gets its whole batch in one ``provision_nodes`` call (it bounds its own
    parallelism by ``context.concurrency``); providers work concurrently. A machine created just
    before an interruption is adopted by the next run, never created twice: providers find their
    machines by the cluster and node names they tagged them with. A provider whose only actions
    are firewall rules (``add-rule``/``remove-rule``) gets an empty batch: providing it converges
    the resources its machines share.
    """
    requests = {r.name: r for r in run.plan.requests}
    hooks = run.manager.hooks
    creates: dict[str, list[NodeRequest]] = defaultdict(list)
    replaced: dict[str, list[NodeRecord]] = defaultdict(list)
    deletes: dict[str, list[NodeRecord]] = defaultdict(list)
    for action in run.plan.actions:
        if action.phase != "provision":
            continue
        if action.kind in ("create", "adopt", "replace"):
            creates[action.provider].append(requests[action.target])
            if action.kind == "replace" and action.target in run.nodes:
                old = run.nodes[action.target]
                replaced[old.provider].append(old)
        elif action.kind in SHARED_KINDS:  # no machine to make: provisioning converges it
            creates.setdefault(action.provider, [])
        elif action.kind == "delete":
            node = run.nodes.get(action.target) or NodeRecord(
                run.context.name, action.target, provider=action.provider
            )
            deletes[action.provider].append(node)

    def delete(provider: str, nodes: list[NodeRecord], kind: str) -> None:
        for node in nodes:
            run.journal("provision", node.name, kind, "started", f"{provider}: deleting")
        try:
            hooks.destroy_nodes(share_of(run, len(deletes) or 1), provider, nodes)
        except SlothError as error:
            for node in nodes:
                run.fail("provision", node.name, error)
            return
        for node in nodes:
            run.store.delete_node(run.context.name, node.name)
            if kind == "delete":
                for pool in ("mesh", "client"):
                    run.store.release_address(run.context.name, pool, node.name)
                run.nodes.pop(node.name, None)
                run.changed["deleted"].append(node.name)
            run.journal("provision", node.name, kind, "done")

    def create(provider: str, batch: list[NodeRequest]) -> None:
        for request in batch:
            adopting = request.name in adopted_names
            run.journal(
                "provision",
                request.name,
                "adopt" if adopting else "create",
                "started",
                f"{provider}: {'adopting' if adopting else 'creating'}",
            )
        failed: dict[str, str] = {}
        context = attrs.evolve(
            share_of(run, len(creates)), node_packages=planned_packages(run, batch)
        )
        try:
            records = list(hooks.provision_nodes(context, provider, batch))
        except PartialProvisionError as error:  # keep what was made (with its pinned host key)
            records, failed = list(error.records), dict(error.failed)
        except SlothError as error:
            for request in batch:
                run.fail("provision", request.name, error)
            return
        by_name = {r.name: r for r in records}
        for request in batch:
            record = by_name.get(request.name)
            if request.name in failed:
                run.fail(
                    "provision",
                    request.name,
                    SlothError(
                        f"{provider}: {request.name}: {failed[request.name]}",
                        hint="re-run `up`: existing machines are adopted, failed ones made again",
                    ),
                )
                continue
            if record is None:
                run.fail(
                    "provision",
                    request.name,
                    SlothError(
                        f"provider {provider} returned no machine for {request.name}",
                        hint="a provider bug: report it to the plugin's authors",
                    ),
                )
                continue
            run.save(
                attrs.evolve(
                    record,
                    cluster=run.context.name,
                    extra={**record.extra, "placement": _placement(request)},
                )
            )
            kind = (
                "replaced"
                if request.name in replaced_names
                else "adopted"
                if request.name in adopted_names
                else "created"
            )
            run.changed[kind].append(request.name)
            retries = record.extra.get("apiRetries")
            if isinstance(retries, int) and retries:
                run.retries[provider] = run.retries.get(provider, 0) + retries
            step = "adopt" if kind == "adopted" else "create"
            run.journal("provision", request.name, step, "done", record.cloud_id or "")

    replaced_names = {node.name for nodes in replaced.values() for node in nodes}
    # A machine the provider already had (a killed run made it): recorded, never made twice.
    adopted_names = {a.target for a in run.plan.node_actions("adopt")}
    _per_provider({p: partial(delete, p, n, "destroy-old") for p, n in replaced.items()})
    _per_provider({p: partial(delete, p, n, "delete") for p, n in deletes.items()})
    _per_provider({p: partial(create, p, b) for p, b in creates.items()})


def reachable(run: Run, nodes: Sequence[NodeRecord]) -> list[NodeRecord]:
    """Nodes whose provider's machines are reached over SSH (feature ``ssh``)."""
    catalog = run.manager.hooks.catalog()
    result = []
    for node in nodes:
        component = catalog.component("provider", node.provider)
        if component is not None and "ssh" in component.features:
            result.append(node)
    return result


def connect(run: Run) -> None:
    """Open one SSH session to every reachable node (host keys pinned); kept for later phases."""
    nodes = reachable(run, run.healthy())
    if not nodes:
        return
    from ..remote.session import RemoteSession

    assert run.context.operator is not None
    session = RemoteSession.for_operator(
        nodes,
        run.context.operator,
        work_dir=run.context.plugin_dir("remote"),
        parallel=run.max_parallel,
    )
    run.context.remote = session
    run.journal_nodes("connect", [node.name for node in nodes], "connect", "started")
    failures = session.connect()
    for node in nodes:
        if node.name in failures:
            run.fail("connect", node.name, failures[node.name])
    connected = [node.name for node in nodes if node.name not in failures]
    run.journal_nodes("connect", connected, "connect", "done")


def prepare(run: Run, *, require_cgroups: bool) -> dict[str, tuple[str, ...]]:
    """OS baseline, hardening and host firewall on every reachable node (docs/prepare.md);
    returns, per node that changed, the steps that changed something."""
    nodes = reachable(run, run.healthy())
    others = [n for n in run.healthy() if n not in nodes]
    if others:  # machines no one can log into (test fakes): nothing to prepare
        run.mark("prepare", others)
    if not nodes or run.context.remote is None:
        return {}
    from ..remote.prepare import prepare_nodes
    from ..remote.prepare.fingerprint import EXTRA_KEY, read_fingerprints
    from .prepared import settings_keys, unchanged_since_prepared

    # Packages the selected add-ons need on each node (longhorn: open-iscsi, nfs-common).
    packages = {node.name: run.manager.hooks.node_packages(run.context, node) for node in nodes}
    keys = settings_keys(run, nodes, packages, require_cgroups=require_cgroups)
    verified = unchanged_since_prepared(run, nodes, packages, keys)
    nodes = [node for node in nodes if node.name not in verified]
    run.journal_nodes("prepare", [node.name for node in nodes], "prepare", "started")
    result = prepare_nodes(
        run.context.remote,
        run.context.config,
        nodes,
        require_cgroups=require_cgroups,
        packages=packages,
    )
    done = [run.nodes.get(name, by) for name, by in verified.items()]
    changed_steps: dict[str, tuple[str, ...]] = {}
    for node in nodes:
        outcome = result.nodes.get(node.name)
        if outcome is None or outcome.error is not None:
            run.fail(
                "prepare",
                node.name,
                outcome.error
                if outcome and outcome.error
                else SlothError(f"{node.name}: prepare did not run", hint="see the log"),
            )
            continue
        done.append(node)
        for note in outcome.notes:
            run.context.event("prepare", note, node=node.name)
        for warning in outcome.warnings:  # e.g. the API not reachable from this machine
            run.context.event("prepare", warning, node=node.name, status="warning")
        changed = ", ".join(outcome.changed) or "no changes"
        machine = f"; managed by the machine: {len(outcome.machine)}" if outcome.machine else ""
        run.journal("prepare", node.name, "prepare", "done", changed + machine)
        if outcome.changed:
            run.changed["prepared"].append(node.name)
            changed_steps[node.name] = outcome.changed
    fresh = {n.name: packages[n.name] for n in done if n.name not in verified}
    digests = read_fingerprints(run.context.remote, fresh) if fresh else {}
    for name, digest in digests.items():
        current = run.nodes[name]
        data = {"settings": keys[name], "fingerprint": digest}
        run.save(attrs.evolve(current, extra={**current.extra, EXTRA_KEY: data}))
    run.mark("prepare", done)
    return changed_steps


def mesh(run: Run) -> None:
    block = run.context.config.spec.mesh
    name = block.name if isinstance(block, PluginBlock) else "wireguard"
    _cluster_phase(
        run, "mesh", lambda nodes: run.manager.hooks.configure_mesh(run.context, name, nodes)
    )


def distro(run: Run) -> None:
    name = run.context.config.spec.kubernetes.distribution
    _cluster_phase(
        run, "distro", lambda nodes: run.manager.hooks.install_distro(run.context, name, nodes)
    )


def _cluster_phase(
    run: Run, phase: str, call: Callable[[list[NodeRecord]], list[NodeRecord]]
) -> None:
    """A phase a plugin performs over all healthy nodes at once (it journals its own steps)."""
    nodes = run.healthy()
    run.journal(phase, "", phase, "started", f"{len(nodes)} nodes")
    try:
        updated = call(nodes)
    except SlothError as error:
        run.fail(phase, "", error)
        return
    for node in updated:
        run.save(attrs.evolve(node, cluster=run.context.name))
    run.mark(phase, updated)


def addons(run: Run) -> None:
    """CNI, storage and add-ons in dependency order (``requires``; by default CNI, then storage,
    then the rest), each answering ``install_addon`` for its own name; then what the spec no
    longer selects is removed (it was confirmed with the plan's destructive actions)."""
    from ..addons.order import order_components
    from ..addons.pipeline import remove_components, removed_components

    distro = run.context.config.spec.kubernetes.distribution
    run.context.delivery = run.manager.hooks.manifest_delivery(run.context, distro)  # once a run
    components = addon_components(run.context.config)
    try:
        ordered = order_components(run.manager.hooks.catalog(), components)
    except SlothError as error:
        run.fail("addons", "", error)
        return
    for kind, name, settings in ordered:
        target = f"{kind}/{name}"
        run.journal("addons", "", target, "started")
        try:
            applied = run.manager.hooks.install_addon(run.context, kind, name, settings)
        except SlothError as error:
            run.fail("addons", "", error)
            continue
        run.changed["addons"].append(target)
        run.journal("addons", "", target, "done", f"{len(applied)} objects")
        if kind == "cni":
            await_pod_network(run, target)
    removed = removed_components(run.context, components)
    if removed:
        try:
            gone = remove_components(run.context, removed, confirm=lambda _question: True)
        except SlothError as error:
            run.fail("addons", "", error)
            return
        run.changed["addons removed"].extend(gone)
        for component in gone:
            run.journal("addons", "", component, "done", "removed")


def awaiting_cni(run: Run) -> list[NodeRecord]:
    """Healthy nodes the distro phase left registered but NotReady: their CNI is an add-on."""
    return [n for n in run.healthy() if n.extra.get(DISTRO_KEY, {}).get("ready") is False]


def await_pod_network(run: Run, cni: str) -> None:
    """Once the add-ons phase has delivered the CNI (``cni``, e.g. ``cni/calico``), wait until
    the nodes the distro phase left NotReady are Ready (``distro_wait_ready``); recorded on the
    nodes, so a re-run that finds the CNI delivered still waits if they never became Ready."""
    waiting = awaiting_cni(run)
    if not waiting or run.context.dry_run:
        return
    step = f"{cni}: nodes Ready"
    run.journal("addons", "", step, "started", f"waiting for {len(waiting)} nodes")
    distro = run.context.config.spec.kubernetes.distribution
    try:
        ready = run.manager.hooks.distro_wait_ready(run.context, distro, waiting)
    except SlothError as error:
        run.fail("addons", "", error)
        return
    for node in ready:
        run.save(attrs.evolve(node, cluster=run.context.name))
    run.changed["nodes ready"].extend(n.name for n in ready)
    run.journal("addons", "", step, "done", f"{len(ready)} nodes Ready")


def verify(run: Run) -> None:
    """Every healthy node has completed every per-node phase, and is Ready."""
    for node in run.healthy():
        missing = [p for p in ("prepare", "mesh", "distro") if node.phases.get(p) != "done"]
        if missing:
            run.failures.append(
                Failure(
                    "verify",
                    node.name,
                    f"phases not done: {missing}",
                    "re-run `up`; it resumes where it stopped",
                )
            )
    for node in awaiting_cni(run):
        run.failures.append(
            Failure(
                "verify",
                node.name,
                "registered but never seen Ready: its CNI comes from the add-ons phase",
                "re-run `up` (the add-ons phase delivers the CNI and waits for Ready)",
            )
        )
