"""``prepare_nodes``: the phase's entry point, called by the engine with a connected session."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ...errors import RemoteError, SlothError
from ...model import ClusterConfig, NodePackage, NodeRecord
from .facts_model import NodeFacts
from .firewall import lockout_risk, outside
from .plan import NodePlan, plan_node, settings_for
from .support import support_problems

if TYPE_CHECKING:
    from ..session import RemoteSession


@attrs.frozen
class NodePrepareResult:
    """What the phase did on one node."""

    node: str
    changed: tuple[str, ...] = ()  # names of the steps that changed something
    machine: tuple[str, ...] = ()  # items that belong to the machine, with their state
    notes: tuple[str, ...] = ()
    #: What the operator should act on (shown without --debug), e.g. the API not reachable.
    warnings: tuple[str, ...] = ()
    error: SlothError | None = None
    facts: NodeFacts | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def summary(self) -> str:
        if self.error is not None:
            return f"{self.node}: failed: {self.error}"
        return f"{self.node}: " + (
            "changed " + ", ".join(self.changed) if self.changed else "no changes"
        )


@attrs.frozen
class PrepareResult:
    """Per-node outcome of the prepare phase."""

    nodes: dict[str, NodePrepareResult] = attrs.field(factory=dict)

    @property
    def changed(self) -> bool:
        return any(result.changed for result in self.nodes.values())

    @property
    def failed(self) -> dict[str, SlothError]:
        return {n: r.error for n, r in sorted(self.nodes.items()) if r.error is not None}

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        """One line per node, then "no changes" when nothing changed anywhere."""
        lines = [self.nodes[name].summary() for name in sorted(self.nodes)]
        if self.ok and not self.changed:
            lines.append("no changes")
        return "\n".join(lines)

    def raise_for_failures(self) -> None:
        failed = self.failed
        if not failed:
            return
        if len(failed) == 1:
            raise next(iter(failed.values()))
        details = "\n".join(f"  {error}" for error in failed.values())
        raise RemoteError(
            f"prepare failed on {len(failed)} nodes: {', '.join(failed)}\n{details}",
            hint="fix the errors above and re-run; prepared nodes are not redone",
        )


#: What to do about each kind of refusal (matched on the problem's text), in this order: the
#: hint speaks only of the problems found (a node without cgroups needs no other image).
_REFUSAL_HINTS = (
    (
        ("is not supported",),
        "use a supported image (Debian ≥ 11 or Ubuntu ≥ 22.04) or remove the node",
    ),
    (
        ("no cgroups",),
        "local hosts need `mode: systemd` under spec.providers.local to run "
        "Kubernetes (fast mode has no cgroups), or stop before the distro: `up --until mesh`",
    ),
    (("kernel module",), "use an image whose kernel ships the module, or load it on the node"),
    (("of memory", "free on /var"), "use a larger machine size (or free space on /var)"),
    (("lock the operator out",), "add your address to spec.security.sshAllowedCIDRs"),
)


def _refusal(node: str, problems: list[str]) -> SlothError:
    hints = [
        hint
        for needles, hint in _REFUSAL_HINTS
        if any(needle in problem for problem in problems for needle in needles)
    ]
    return SlothError("; ".join(problems), hint="; ".join(hints) or None)


def prepare_nodes(
    session: RemoteSession,
    config: ClusterConfig,
    nodes: Iterable[NodeRecord],
    *,
    require_cgroups: bool,
    packages: Mapping[str, Sequence[str | NodePackage]] | None = None,
) -> PrepareResult:
    """Bring ``nodes`` to the Kubernetes baseline, the hardening profile and the firewall.

    Facts are gathered once (one command per node); unsupported nodes are refused with the
    reason and are not touched; the others are prepared in parallel through ``session``.
    ``require_cgroups`` is True when the kubelet will run next (the distro phase), False for
    ``up --until prepare``. Idempotent: on a prepared node nothing runs and the node's result
    has no changed items. Per-node failures are in the result (see ``raise_for_failures``).

    ``packages`` maps a node to the packages plugins need on it (``node_packages``). With the
    baseline's, the missing ones are installed with the node's apt before the other steps; a
    node that cannot get one fails naming the package (or, where the system is the machine's,
    it is reported as the machine's: :mod:`.extra_packages`).
    """
    from . import extra_packages, operations
    from .facts import NodeProbe

    records = {record.name: record for record in nodes}
    results: dict[str, NodePrepareResult] = {}
    for name, failure in session.connect().items():
        if name in records:
            results[name] = NodePrepareResult(name, error=failure)
    wanted = [name for name in records if name not in results]
    extra = {name: _merged((packages or {}).get(name, ())) for name in records}
    probed = sorted({package.name for names in extra.values() for package in names})
    gathered: dict[str, NodeFacts] = (
        session.facts(NodeProbe, nodes=wanted, extra_packages=probed) if wanted else {}
    )
    plans: dict[str, NodePlan] = {}
    warnings: dict[str, tuple[str, ...]] = {}
    for name in wanted:
        facts = gathered.get(name)
        if facts is None:
            missing: SlothError = session.failures.get(name) or RemoteError(
                f"reading facts failed on node {name}", host=name
            )
            results[name] = NodePrepareResult(name, error=missing)
            continue
        settings = attrs.evolve(settings_for(config, records[name]), extra_packages=extra[name])
        problems = support_problems(name, facts, require_cgroups=require_cgroups)
        if settings.firewall is not None and lockout_risk(
            settings.firewall, facts.ssh_client_address
        ):
            problems.append(
                f"node {name}: the firewall would lock the operator out: this connection comes "
                f"from {facts.ssh_client_address}, outside spec.security.sshAllowedCIDRs"
            )
        if problems:
            results[name] = NodePrepareResult(name, error=_refusal(name, problems), facts=facts)
            continue
        plans[name] = plan_node(facts, settings)
        if (
            records[name].is_server
            and settings.firewall is not None
            and outside(settings.firewall.api_allowed_cidrs, facts.ssh_client_address)
        ):
            # Not a refusal: the operator may reach the API another way (spec.kubernetes.
            # apiEndpoint behind a load balancer, a VPN, the mesh), but say so before `distro`.
            warnings[name] = (
                f"Kubernetes API: this machine connects from {facts.ssh_client_address}, outside "
                "spec.security.apiAllowedCIDRs: the API on this server is not reachable from here",
            )

    # Packages first: the steps use them (nft, modprobe, sysctl, the time daemon).
    pending = {name: plan.packages for name, plan in plans.items() if plan.packages}
    installed = extra_packages.install(session, pending, gathered)
    for name, packaged in installed.items():
        if packaged.error is not None:
            results[name] = NodePrepareResult(name, error=packaged.error, facts=gathered[name])
            del plans[name]

    metas: dict[str, list[tuple[str, Any]]] = {name: [] for name in plans}

    def deploy(record: NodeRecord) -> None:
        facts = gathered[record.name]
        for step in plans[record.name].steps:
            operation = getattr(operations, step.operation)
            meta = operation(name=f"prepare: {step.name}", facts=facts, **step.kwargs)
            metas[record.name].append((step.name, meta))

    applied = session.apply("prepare", deploy, nodes=list(plans)) if plans else None
    for name, plan in plans.items():
        assert applied is not None
        outcome = applied.per_node.get(name)
        error = outcome.error if outcome is not None else None
        changed = tuple(
            step for step, meta in metas[name] if meta.is_complete() and meta.did_change()
        )
        packaged = installed.get(name, extra_packages.PackagesOutcome())
        results[name] = NodePrepareResult(
            name, changed=packaged.changed + changed, machine=plan.machine + packaged.machine,
            notes=plan.notes, warnings=warnings.get(name, ()), error=error, facts=gathered[name],
        )  # fmt: skip
    return PrepareResult({name: results[name] for name in records})


def _merged(items: Iterable[str | NodePackage]) -> tuple[NodePackage, ...]:
    """One entry per package name; unconditional wins over ``unless_module``."""
    merged: dict[str, NodePackage] = {}
    for item in items:
        package = item if isinstance(item, NodePackage) else NodePackage(item)
        if package.name not in merged or not package.unless_module:
            merged[package.name] = package
    return tuple(merged[name] for name in sorted(merged))
