"""The plan: desired spec vs recorded state vs live inventory → what ``up`` would do.

Node actions: ``create`` (new, or recorded but gone from the provider: replaced), ``adopt``
(exists at the provider with our tags but not in state — e.g. a run killed after creating it),
``replace`` (recorded, but its pool now asks for a different provider/size/image/region/roles),
``delete`` (recorded or live but no longer desired). Shared resources: ``add-rule`` /
``remove-rule`` for each inbound rule a provider's existing cloud firewall gains or loses
(the ``plan_shared_changes`` hook). Phase actions: ``configure`` for every later phase that is not
done on every node for the current spec. A converged cluster has no actions.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ..config.dump import effective_config
from ..model.cluster import ClusterConfig, PluginBlock, SizeRequest, StorageBlock
from ..model.nodes import NodeRecord, NodeRequest, ResourceChange
from ..registry import ComponentKind

#: The phases of ``up`` after ``load`` and ``plan``, in order.
PHASES = ("provision", "connect", "prepare", "mesh", "distro", "addons", "verify")
#: Phases whose completion is recorded per node (``NodeRecord.phases``).
NODE_PHASES = ("prepare", "mesh", "distro")
DESTRUCTIVE = frozenset({"delete", "replace"})
#: Provision actions on a provider's shared resources (its cloud firewall), not on a node.
SHARED_KINDS = frozenset({"add-rule", "remove-rule"})
#: ``NodeRecord.extra`` key: phase → hash of the spec the phase was last completed for.
PHASE_SPEC = "phaseSpec"


@attrs.frozen
class Action:
    """One planned change. ``kind``: create, adopt, replace, delete, add-rule, remove-rule,
    configure or install."""

    phase: str
    kind: str
    target: str
    detail: str = ""
    provider: str = ""


@attrs.frozen
class Plan:
    """What ``up`` will do. ``fingerprint`` identifies the state the plan was made against."""

    cluster: str
    spec_hash: str
    fingerprint: str
    actions: tuple[Action, ...]
    requests: tuple[NodeRequest, ...]

    def counts(self) -> dict[str, int]:
        return dict(Counter(action.kind for action in self.actions))

    @property
    def has_changes(self) -> bool:
        return bool(self.actions)

    @property
    def destructive(self) -> list[Action]:
        return [a for a in self.actions if a.kind in DESTRUCTIVE]

    def shared_actions(self) -> list[Action]:
        """The changes to providers' shared resources (firewall rules)."""
        return [a for a in self.actions if a.kind in SHARED_KINDS]

    def node_actions(self, kind: str) -> list[Action]:
        return [a for a in self.actions if a.phase == "provision" and a.kind == kind]

    def phase_pending(self, phase: str) -> bool:
        return any(a.phase == phase for a in self.actions)

    def to_data(self) -> dict[str, Any]:
        """The documented JSON form (docs/plan.md)."""
        return {
            "cluster": self.cluster,
            "specHash": self.spec_hash,
            "fingerprint": self.fingerprint,
            "counts": self.counts(),
            "actions": [
                {
                    "phase": a.phase,
                    "kind": a.kind,
                    "target": a.target,
                    "detail": a.detail,
                    "provider": a.provider,
                }
                for a in self.actions
            ],
        }


def spec_hash(config: ClusterConfig) -> str:
    canonical = json.dumps(effective_config(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def state_fingerprint(recorded_hash: str, recorded: Sequence[NodeRecord]) -> str:
    """A digest of what the plan was computed from; ``up --plan`` refuses if it changed."""
    nodes = sorted(
        json.dumps([n.name, n.provider, n.cloud_id, sorted(n.phases.items())]) for n in recorded
    )
    parts = [recorded_hash, *nodes]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def node_requests(config: ClusterConfig) -> list[NodeRequest]:
    """The nodes the spec asks for, with stable names ``<cluster>-<pool>-<n>``."""
    requests = []
    for pool in config.spec.node_pools:
        for index in range(pool.count):
            requests.append(
                NodeRequest(
                    name=f"{config.name}-{pool.name}-{index + 1}",
                    pool=pool.name,
                    provider=pool.provider,
                    roles=tuple(pool.roles),
                    index=index,
                    size=pool.size,
                    image=pool.image,
                    region=pool.region,
                    labels=dict(pool.labels),
                    options=pool.options,
                )
            )
    return requests


def _size_text(size: Any) -> str:
    if isinstance(size, SizeRequest):
        return f"{size.cpu} vCPU / {size.memory_gib:g} GiB"
    return str(size) if size else "provider default size"


def _placement(request: NodeRequest) -> dict[str, Any]:
    """What, when it changes, means the machine must be replaced."""
    size = request.size
    if isinstance(size, SizeRequest):
        size = {"cpu": size.cpu, "memoryGiB": size.memory_gib}
    return {
        "provider": request.provider,
        "roles": list(request.roles),
        "size": size,
        "image": request.image,
        "region": request.region,
    }


def placement_of(record: NodeRecord) -> dict[str, Any] | None:
    placement = record.extra.get("placement")
    return placement if isinstance(placement, dict) else None


def build_plan(
    config: ClusterConfig,
    *,
    recorded: Sequence[NodeRecord] = (),
    live: Mapping[str, Sequence[NodeRecord]] | None = None,
    recorded_hash: str = "",
    recorded_addons: Sequence[str] = (),
    sizes: Mapping[str, str] | None = None,
    shared_changes: Sequence[ResourceChange] = (),
) -> Plan:
    """Compare desired, recorded and (when given) live nodes; ``live`` maps provider → nodes.

    ``sizes`` (node name → text) is what the providers said about the sizes they will use
    (``describe_nodes``: the cheapest match for a portable size); it replaces the request's own
    wording in the plan.

    ``shared_changes`` are what the providers said ``up`` would change on the resources the
    machines share (``plan_shared_changes``): one ``add-rule``/``remove-rule`` action each.

    ``recorded_addons`` are the component ids (``storage/longhorn``) with manifests in the
    registry: those no longer in the spec are planned as ``delete`` (destructive).
    """
    requests = node_requests(config)
    desired = {r.name: r for r in requests}
    by_name = {n.name: n for n in recorded}
    live_names = {n.name for nodes in live.values() for n in nodes} if live is not None else None
    actions: list[Action] = []
    for request in requests:
        record = by_name.get(request.name)
        size = (sizes or {}).get(request.name) or _size_text(request.size)
        describe = f"{request.provider}: {'+'.join(request.roles)}, {size}" + (
            f", {request.region}" if request.region else ""
        )
        if record is None:
            kind = "adopt" if live_names is not None and request.name in live_names else "create"
            actions.append(Action("provision", kind, request.name, describe, request.provider))
        elif live_names is not None and request.name not in live_names:
            actions.append(
                Action(
                    "provision",
                    "create",
                    request.name,
                    f"{describe} — recorded but missing at the provider: replacing it",
                    request.provider,
                )
            )
        elif placement_of(record) not in (None, _placement(request)):
            actions.append(
                Action(
                    "provision",
                    "replace",
                    request.name,
                    f"{describe} (was {placement_of(record)})",
                    request.provider,
                )
            )
    extra_nodes = {n.name: n for n in recorded if n.name not in desired}
    if live is not None:
        for nodes in live.values():
            for node in nodes:
                if node.name not in desired:
                    extra_nodes.setdefault(node.name, node)
    for name, node in sorted(extra_nodes.items()):
        actions.append(Action("provision", "delete", name, f"{node.provider}", node.provider))

    for change in shared_changes:
        blocked = f" — cannot be applied here: {change.blocked}" if change.blocked else ""
        actions.append(
            Action(
                "provision", change.kind, change.resource, change.detail + blocked, change.provider
            )
        )

    current = spec_hash(config)
    # new or replaced machines (a firewall rule changes no node)
    touched = {a.target for a in actions if a.phase == "provision" and a.kind not in SHARED_KINDS}
    changed_nodes = bool(touched)
    stale_spec = recorded_hash != current
    for phase in NODE_PHASES:
        # prepare is per node; the mesh and the distro span nodes, so membership changes redo them
        membership = changed_nodes and phase != "prepare"
        pending = [
            r.name
            for r in requests
            if membership
            or r.name in touched
            or by_name.get(r.name) is None
            or by_name[r.name].phases.get(phase) != "done"
            or by_name[r.name].extra.get(PHASE_SPEC, {}).get(phase) != current
        ]
        if pending:
            actions.append(
                Action(
                    phase,
                    "configure",
                    _phase_target(config, phase),
                    f"{len(pending)} of {len(requests)} nodes",
                )
            )
    if changed_nodes or stale_spec:
        actions += _addon_actions(config)
    if stale_spec and not actions:
        # Everything is done but the spec was never recorded as applied (a run stopped at its
        # last step, or with --until): verifying records it, then the cluster is converged.
        actions.append(Action("verify", "configure", "cluster", "record the applied spec"))
    selected = {f"{kind}/{name}" for kind, name, _ in addon_components(config)}
    for component in sorted(set(recorded_addons) - selected):
        actions.append(Action("addons", "delete", component, "no longer in the spec"))
    return Plan(
        cluster=config.name,
        spec_hash=current,
        fingerprint=state_fingerprint(recorded_hash, recorded),
        actions=tuple(actions),
        requests=tuple(requests),
    )


def _phase_target(config: ClusterConfig, phase: str) -> str:
    if phase == "mesh":
        mesh = config.spec.mesh
        return mesh.name if isinstance(mesh, PluginBlock) else "wireguard"
    if phase == "distro":
        version = config.spec.kubernetes.version or "pinned version"
        return f"{config.spec.kubernetes.distribution} ({version})"
    return "nodes"


def addon_components(config: ClusterConfig) -> list[tuple[ComponentKind, str, Any]]:
    """(kind, name, settings) of every CNI, storage and add-on: the add-ons the distribution
    brings (``DistroSettings.implied_addons``, e.g. kubeadm's helm-controller) first, then the
    spec's."""
    components: list[tuple[ComponentKind, str, Any]] = []
    distro_settings = getattr(config.spec.kubernetes.distro, "settings", None)
    chosen = {a.name for a in config.spec.addons if isinstance(a, PluginBlock)}
    for name in getattr(distro_settings, "implied_addons", ()):
        if name not in chosen:
            components.append(("addon", name, None))
    cni = config.spec.kubernetes.cni
    if isinstance(cni, PluginBlock):
        components.append(("cni", cni.name, cni.settings))
    for block in config.spec.storage:
        if isinstance(block, StorageBlock):
            components.append(("storage", block.type, block))
    for addon in config.spec.addons:
        if isinstance(addon, PluginBlock):
            components.append(("addon", addon.name, addon.settings))
    return components


def _addon_actions(config: ClusterConfig) -> list[Action]:
    actions = []
    for kind, name, settings in addon_components(config):
        detail = ""
        if isinstance(settings, StorageBlock):
            detail = ", ".join(
                c.name + (" (default)" if c.default else "") for c in settings.classes
            )
        actions.append(Action("addons", "install", f"{kind}/{name}", detail))
    return actions
