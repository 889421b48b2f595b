"""Library function behind ``addons list``: the add-on manifests a cluster's spec wants compared
with what the manifest registry recorded as applied (docs/addons.md).

Nothing is applied and no machine is touched: the desired objects are rendered (and validated)
exactly as ``up`` would render them, the recorded ones are read from the state store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import attrs

from ..errors import UsageError
from ..plugins import PluginManager

if TYPE_CHECKING:
    from ..addons.manifests import Manifest
    from ..model.cluster import ClusterConfig
    from ..state import ManifestRecord, StateStore

#: ``in sync``: applied as desired · ``changed``: applied, but the desired object differs ·
#: ``missing``: desired, never applied · ``removed``: applied, no longer desired (``up`` deletes
#: it).
ObjectStatus = Literal["in sync", "changed", "missing", "removed"]


@attrs.frozen
class ObjectState:
    """One object of one component: its registry key, status and both digests ("" if none)."""

    component: str
    key: str
    status: ObjectStatus
    desired_sha256: str = ""
    recorded_sha256: str = ""
    recorded_at: str = ""


@attrs.frozen
class ComponentState:
    """A component (``cni/cilium``) and its objects; its status summarises theirs."""

    component: str
    objects: tuple[ObjectState, ...]

    @property
    def status(self) -> ObjectStatus:
        statuses = {o.status for o in self.objects}
        if statuses <= {"in sync"}:
            return "in sync"
        if statuses == {"missing"}:
            return "missing"
        if statuses == {"removed"}:
            return "removed"
        return "changed"


@attrs.frozen
class AddonsReport:
    """``addons list``: every component desired or recorded, in install order (desired ones
    first, then those only recorded)."""

    cluster: str
    source: str  # "state" (the spec last applied) or the config files given
    components: tuple[ComponentState, ...]
    #: ``{"name", "installed", "detail"}`` (see ``status``): without the distribution nothing is
    #: applied, whatever the registry recorded, so every desired object is ``missing``.
    distribution: dict[str, Any] = attrs.field(factory=dict)

    @property
    def in_sync(self) -> bool:
        installed = bool(self.distribution.get("installed", True))
        return installed and all(c.status == "in sync" for c in self.components)

    def to_data(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "source": self.source,
            "inSync": self.in_sync,
            "distribution": self.distribution,
            "components": [
                {
                    "component": c.component,
                    "status": c.status,
                    "objects": [
                        {
                            "key": o.key,
                            "status": o.status,
                            "desiredSha256": o.desired_sha256 or None,
                            "recordedSha256": o.recorded_sha256 or None,
                            "recordedAt": o.recorded_at or None,
                        }
                        for o in c.objects
                    ],
                }
                for c in self.components
            ],
        }


def compare(
    cluster: str, source: str, desired: Sequence[Manifest], records: Sequence[ManifestRecord]
) -> AddonsReport:
    """Desired manifests (:class:`~.addons.Manifest`) against registry records
    (:class:`~.state.ManifestRecord`), grouped by component."""
    recorded = {r.key: r for r in records}
    by_component: dict[str, list[ObjectState]] = {}
    wanted: set[str] = set()
    for manifest in desired:
        wanted.add(manifest.key)
        record = recorded.get(manifest.key)
        if record is None:
            state = ObjectState(manifest.component, manifest.key, "missing", manifest.sha256)
        else:
            same = record.sha256 == manifest.sha256 and record.plugin == manifest.component
            state = ObjectState(
                manifest.component, manifest.key, "in sync" if same else "changed",
                manifest.sha256, record.sha256, record.recorded_at,
            )  # fmt: skip
        by_component.setdefault(manifest.component, []).append(state)
    for record in records:
        if record.key not in wanted:
            by_component.setdefault(record.plugin, []).append(
                ObjectState(
                    record.plugin, record.key, "removed", "", record.sha256, record.recorded_at
                )
            )
    components = tuple(ComponentState(name, tuple(objs)) for name, objs in by_component.items())
    return AddonsReport(cluster, source, components)


def addons_list(
    store: StateStore,
    name: str,
    config: ClusterConfig | None = None,
    *,
    manager: PluginManager | None = None,
) -> AddonsReport:
    """Compare the add-on manifests cluster ``name`` wants with those recorded as applied.

    The desired side is rendered from the spec the cluster was last applied with, or from
    ``config`` (a new spec, to see what ``up`` would change). Touches no machine.
    """
    from ..addons.pipeline import render_addons
    from ..context import ClusterContext
    from ..engine.destroy import stored_config
    from ..engine.plan import addon_components
    from ..engine.status import distribution_state
    from . import plugin_manager

    pm = manager or plugin_manager()
    if config is not None:
        if config.name != name:
            raise UsageError(
                f"the config describes cluster {config.name!r}, not {name!r}",
                hint=f"run `addons list {config.name} -f …` or pass the config of {name}",
            )
        if store.get_cluster(name) is None:
            stored_config(pm, store, name)  # raises "no cluster named …" with the known ones
    source = ", ".join(config.sources) if config is not None else "state"
    config = config if config is not None else stored_config(pm, store, name)
    context = ClusterContext(config=config, state=store, dry_run=True)
    desired = render_addons(context, pm.hooks, addon_components(config))
    distribution = distribution_state(store, name)
    # Without the distribution nothing was applied, whatever the registry recorded.
    records = store.list_manifests(name) if distribution["installed"] else []
    report = compare(name, source, desired, records)
    return attrs.evolve(report, distribution=distribution)
