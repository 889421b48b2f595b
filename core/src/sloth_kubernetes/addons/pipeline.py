"""The add-on pipeline: render → validate → compare with the registry → deliver → record.

A plugin's ``install_addon`` calls :func:`install_manifests` with what its ``render_addon``
returned. Delivery goes to the distribution's own deployer when it has one (``context.delivery``,
which the engine asked the distro for once per run through ``manifest_delivery``: K3s/RKE2 place
the objects in the server's manifests directory, where their helm-controller picks HelmCharts
up); otherwise the objects are server-side applied through the API. No further hook is called.
The manifest registry in the state store remembers what was applied (component, key, sha256,
when), so a re-run applies only what changed and objects an add-on no longer renders are removed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import attrs

from ..registry import ComponentKind
from .manifests import AddonManifests, CustomKind, Manifest, canonical_json, manifests_of
from .order import Selected, component_id, order_components
from .validate import kubernetes_version, validate_manifests

if TYPE_CHECKING:
    from lightkube import Client

    from ..context import ClusterContext
    from ..plugins import Hooks
    from ..state.records import ManifestRecord


@attrs.frozen
class AddonResult:
    """What one add-on's install did: keys applied (new or changed), unchanged, removed."""

    component: str
    applied: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    delivery: str = ""  # "distro", "server-side apply", "dry run" or "" (nothing to do)

    @property
    def keys(self) -> list[str]:
        return [*self.applied, *self.unchanged]


def recorded_manifests(context: ClusterContext, component: str | None = None) -> list[Manifest]:
    """The registry's manifests (all, or one component's), bodies as recorded (redacted)."""
    records: list[ManifestRecord] = context.store.list_manifests(context.name)
    return [
        _from_record(record)
        for record in records
        if component is None or record.plugin == component
    ]


def _from_record(record: ManifestRecord) -> Manifest:
    return Manifest(record.plugin, json.loads(record.body_json))


def _deliver(
    context: ClusterContext,
    changed: Sequence[Manifest],
    removed: Sequence[Manifest],
    kinds: Sequence[CustomKind],
    client: Client | None,
) -> str:
    delivery = context.delivery if client is None else None
    if delivery is not None and delivery(context, changed, removed) is not None:
        return "distro"
    from . import kube

    api = kube.kube_client(context) if client is None else client
    try:
        kube.apply_objects(api, changed, kinds)
        kube.delete_objects(api, removed, kinds)
    finally:
        if client is None:  # ours: close it
            api.close()
    return "server-side apply"


def install_manifests(
    context: ClusterContext,
    kind: ComponentKind,
    name: str,
    rendered: AddonManifests,
    *,
    client: Client | None = None,
) -> AddonResult:
    """Validate ``rendered``, apply what differs from the registry, remove what the component no
    longer renders, record the result. Dry run: report only.

    ``client`` (a lightkube client) forces server-side apply through it instead of the
    distribution's deployer — tests and tools that talk to an API directly use it.
    """
    component = component_id(kind, name)
    manifests = manifests_of(component, rendered.objects)
    validate_manifests(manifests, kubernetes_version(context.config), rendered.kinds)
    recorded = {m.key: m for m in recorded_manifests(context, component)}
    records = {r.key: r for r in context.store.list_manifests(context.name)}
    changed = [m for m in manifests if m.key not in records or records[m.key].sha256 != m.sha256]
    unchanged = [m.key for m in manifests if m not in changed]
    wanted = {m.key for m in manifests}
    removed = [m for key, m in recorded.items() if key not in wanted]
    result = AddonResult(
        component,
        tuple(m.key for m in changed),
        tuple(unchanged),
        tuple(m.key for m in removed),
    )
    if not changed and not removed:
        return result
    if context.dry_run:
        return attrs.evolve(result, delivery="dry run")
    delivery = _deliver(context, changed, removed, rendered.kinds, client)
    for manifest in changed:
        context.store.record_manifest(
            context.name, component, manifest.key, manifest.sha256, canonical_json(manifest.body)
        )
    for manifest in removed:
        context.store.delete_manifest(context.name, manifest.key)
    context.event("addons", f"{component}: {len(changed)} applied, {len(removed)} removed")
    return attrs.evolve(result, delivery=delivery)


def render_addons(
    context: ClusterContext, hooks: Hooks, selected: Sequence[Selected]
) -> list[Manifest]:
    """Every manifest the selected add-ons would apply, in install order, validated.

    For ``render --out`` and ``addons list``; applies nothing.
    """
    ordered = order_components(hooks.catalog(), selected, source=_source(context))
    manifests: list[Manifest] = []
    kinds: list[CustomKind] = []
    for kind, name, settings in ordered:
        rendered = hooks.render_addon(context, kind, name, settings)
        manifests += manifests_of(component_id(kind, name), rendered.objects)
        kinds += rendered.kinds
    validate_manifests(manifests, kubernetes_version(context.config), kinds)
    return manifests


def _source(context: ClusterContext) -> str:
    return context.config.sources[0] if context.config.sources else "config"


Confirm = Callable[[str], bool]


def removed_components(
    context: ClusterContext, selected: Sequence[Selected]
) -> dict[str, list[Manifest]]:
    """Components with recorded manifests that the spec no longer selects → their manifests."""
    wanted = {component_id(kind, name) for kind, name, _ in selected}
    removed: dict[str, list[Manifest]] = {}
    for manifest in recorded_manifests(context):
        if manifest.component not in wanted:
            removed.setdefault(manifest.component, []).append(manifest)
    return removed


def remove_components(
    context: ClusterContext,
    removed: dict[str, list[Manifest]],
    *,
    confirm: Confirm,
    client: Client | None = None,
) -> list[str]:
    """Delete what removed components installed, after ``confirm(question)`` says yes; forget
    them in the registry. Returns the removed component ids (none when declined or dry run)."""
    if not removed or context.dry_run:
        return []
    listing = "; ".join(f"{c} ({len(m)} objects)" for c, m in sorted(removed.items()))
    if not confirm(f"remove add-ons no longer in the spec: {listing}?"):
        return []
    for component, manifests in sorted(removed.items()):
        _deliver(context, [], manifests, [], client)
        for manifest in manifests:
            context.store.delete_manifest(context.name, manifest.key)
        context.event("addons", f"{component}: removed ({len(manifests)} objects)")
    return sorted(removed)
