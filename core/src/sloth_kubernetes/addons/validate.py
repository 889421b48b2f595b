"""The gate every manifest passes before it is applied, recorded or rendered.

Built-in kinds are checked against the official OpenAPI schemas of the cluster's Kubernetes version
(``kubernetes-validate``, strict: unknown fields are errors). Custom kinds (HelmChart, a CRD's
objects) are checked against schemas shipped by the core or by the plugin. A kind with no schema is
a failure, never a warning: an object nobody can check is an object nobody should apply.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import PluginError
from .helm import helm_kinds
from .manifests import CustomKind, Manifest

if TYPE_CHECKING:
    from ..model.cluster import ClusterConfig

#: Used when ``spec.kubernetes.version`` is not set (the distributions' pinned releases are 1.31).
DEFAULT_KUBERNETES_VERSION = "1.31"
_VERSION = re.compile(r"^v?(\d+)\.(\d+)")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def kubernetes_version(config: ClusterConfig) -> str:
    """``major.minor`` of the cluster: from ``spec.kubernetes.version`` (``v1.31.4+k3s1`` →
    ``1.31``), else :data:`DEFAULT_KUBERNETES_VERSION`."""
    version = config.spec.kubernetes.version
    if not version:
        return DEFAULT_KUBERNETES_VERSION
    match = _VERSION.match(version)
    if match is None:
        raise PluginError(
            f"cannot tell the Kubernetes version from spec.kubernetes.version {version!r}",
            hint="write it like v1.31.4+k3s1 or 1.31",
        )
    return f"{match.group(1)}.{match.group(2)}"


def is_builtin(api_version: str) -> bool:
    """Kubernetes' own API groups: the core group (``v1``), dot-less groups (``apps/v1``) and
    ``*.k8s.io``. Anything else is a custom kind, even if its group starts like a built-in one."""
    if "/" not in api_version:
        return True
    group = api_version.split("/", 1)[0]
    return "." not in group or group.endswith(".k8s.io")


def _where(path: Iterable[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".") or "(object)"


def _builtin_problems(body: dict[str, Any], version: str) -> list[str]:
    """Problems of a built-in object; one answer per distinct object and version (validation
    reads the schema files each time, and the same objects are checked over and over by
    ``render``, ``plan`` and re-runs)."""
    return list(_builtin_problems_of(json.dumps(body, sort_keys=True, default=str), version))


@functools.lru_cache(maxsize=4096)
def _builtin_problems_of(canonical: str, version: str) -> tuple[str, ...]:
    body = json.loads(canonical)
    return tuple(_validate_builtin(body, version))


def _validate_builtin(body: dict[str, Any], version: str) -> list[str]:
    import kubernetes_validate
    from kubernetes_validate import utils

    try:
        kubernetes_validate.validate(body, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{_where(error.absolute_path)}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [
            f"no schema for {body.get('apiVersion')} {body.get('kind')} in Kubernetes {version}"
        ]
    except (utils.VersionNotSupportedError, IndexError):
        known = utils.all_versions()
        return [f"no schemas for Kubernetes {version} (known: {known[0]} to {known[-1]})"]
    return []


def _custom_problems(body: dict[str, Any], kind: CustomKind) -> list[str]:
    import jsonschema

    validator = jsonschema.Draft202012Validator(kind.schema)
    return [
        f"{_where(error.absolute_path)}: {error.message}"
        for error in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    ]


def manifest_problems(
    manifest: Manifest, version: str, kinds: Sequence[CustomKind] = ()
) -> list[str]:
    """Every reason ``manifest`` would be refused; empty when it is valid."""
    body = dict(manifest.body)
    problems = []
    if not manifest.api_version or not manifest.kind:
        return ["apiVersion and kind are required"]
    if not _DNS_SUBDOMAIN.match(manifest.name) or len(manifest.name) > 253:
        problems.append(f"metadata.name {manifest.name!r} is not a valid object name")
    if is_builtin(manifest.api_version):
        return problems + _builtin_problems(body, version)
    known = {(k.api_version, k.kind): k for k in (*helm_kinds(), *kinds)}
    kind = known.get((manifest.api_version, manifest.kind))
    if kind is None:
        return [
            *problems,
            f"no schema for custom kind {manifest.api_version} {manifest.kind}: "
            "the plugin must ship one (AddonManifests.kinds)",
        ]
    return problems + _custom_problems(body, kind)


def validate_manifests(
    manifests: Sequence[Manifest], version: str, kinds: Sequence[CustomKind] = ()
) -> None:
    """Raise :class:`PluginError` listing every invalid manifest (and duplicate identities)."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    for manifest in manifests:
        if manifest.key in seen:
            problems.append(
                f"{manifest.component}: {manifest.label} is rendered twice "
                f"(also by {seen[manifest.key]})"
            )
        seen.setdefault(manifest.key, manifest.component)
        for problem in manifest_problems(manifest, version, kinds):
            problems.append(f"{manifest.component}: {manifest.label}: {problem}")
    if problems:
        count = len(problems)
        raise PluginError(
            f"{count} problem{'s' if count != 1 else ''} in the add-on manifests "
            f"(Kubernetes {version}):\n" + "\n".join(f"  {p}" for p in problems),
            hint="check the values you set in the add-on's block; if they are right, the plugin "
            "rendered an object the cluster would refuse: report it to the plugin's authors",
        )
