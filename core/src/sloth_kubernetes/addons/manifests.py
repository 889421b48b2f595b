"""Kubernetes objects as the add-on pipeline handles them: identity, digest, YAML, value merging."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from ..context import ClusterContext


@attrs.frozen
class CustomKind:
    """A kind the Kubernetes schemas do not cover (a CRD): its schema ships with the plugin.

    ``schema`` is a JSON Schema for the whole object (apiVersion, kind, metadata, spec…);
    ``plural`` and ``namespaced`` let the API client address it without discovery.
    """

    api_version: str
    kind: str
    plural: str
    namespaced: bool
    schema: Mapping[str, Any]


def _objects(objects: Iterable[Mapping[str, Any]]) -> tuple[Mapping[str, Any], ...]:
    return tuple(objects)


def _kinds(kinds: Iterable[CustomKind]) -> tuple[CustomKind, ...]:
    return tuple(kinds)


@attrs.frozen
class AddonManifests:
    """What ``render_addon`` returns: the objects of one add-on, in apply order, and the schemas
    of the custom kinds among them that the core does not ship (HelmChart/HelmChartConfig it
    does)."""

    objects: tuple[Mapping[str, Any], ...] = attrs.field(converter=_objects)
    kinds: tuple[CustomKind, ...] = attrs.field(default=(), converter=_kinds)


def canonical_json(body: Mapping[str, Any]) -> str:
    """The one serialisation digests are computed over (sorted keys, no whitespace)."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@attrs.frozen
class Manifest:
    """One object an add-on installs. ``component`` is ``kind/name`` (``cni/cilium``)."""

    component: str
    body: Mapping[str, Any]

    @property
    def api_version(self) -> str:
        return str(self.body.get("apiVersion", ""))

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @property
    def name(self) -> str:
        return str((self.body.get("metadata") or {}).get("name", ""))

    @property
    def namespace(self) -> str:
        return str((self.body.get("metadata") or {}).get("namespace", "") or "")

    @property
    def key(self) -> str:
        """Registry identity: ``apiVersion/Kind/namespace/name`` (``-`` when cluster-wide)."""
        return f"{self.api_version}/{self.kind}/{self.namespace or '-'}/{self.name}"

    @property
    def label(self) -> str:
        """Short form for messages: ``Kind namespace/name``."""
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(canonical_json(self.body).encode()).hexdigest()

    @property
    def file_name(self) -> str:
        """A file name for ``render --out``: ``<kind>-<namespace>-<name>.yaml``."""
        parts = [self.kind.lower(), self.namespace, self.name]
        return "-".join(p for p in parts if p) + ".yaml"

    def to_yaml(self) -> str:
        return to_yaml(self.body)


def to_yaml(data: Any) -> str:
    """Block-style YAML with keys in the order given (ruamel, safe dumper)."""
    import io

    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    stream = io.StringIO()
    yaml.dump(_plain(data), stream)
    return stream.getvalue()


def _plain(data: Any) -> Any:
    if isinstance(data, Mapping):
        return {str(k): _plain(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_plain(v) for v in data]
    return data


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` merged over ``base``: mappings merge key by key, everything else replaces
    (lists too: a user who sets a list means that list). Neither input is modified."""
    merged: dict[str, Any] = {k: _plain(v) for k, v in base.items()}
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = _plain(value)
    return merged


def manifests_of(component: str, objects: Sequence[Mapping[str, Any]]) -> list[Manifest]:
    return [Manifest(component, _plain(body)) for body in objects]


#: How a distribution deploys add-on manifests itself (K3s/RKE2: files in every server's
#: manifests directory, applied by its deploy controller): called with the context, the
#: manifests to write and those to withdraw; returns the keys delivered, or None when it cannot
#: deliver now (no SSH session: the core then applies through the API). The distro component
#: hands one out through ``manifest_delivery``; the engine asks once per run and puts it in
#: ``ClusterContext.delivery`` for the add-on pipeline.
ManifestDelivery = Callable[
    ["ClusterContext", Sequence[Manifest], Sequence[Manifest]], "Sequence[str] | None"
]
