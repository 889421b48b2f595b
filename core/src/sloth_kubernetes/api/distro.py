"""Library functions of the distro commands: ``kubeconfig``, ``render`` and ``artifacts``.

The CLI modules (``cli/kubeconfig_cmd.py``, ``cli/render_cmd.py``, ``cli/artifacts_cmd.py``) only
parse arguments, call these and print the result.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from ..errors import PluginError, UsageError
from ..model import ClusterConfig, NodeRecord
from ..plugins import PluginManager

if TYPE_CHECKING:
    from ..addons.manifests import Manifest
    from ..context import ClusterContext
    from ..distro.artifacts import CachedRelease
    from ..distro.installer import Installer, Release
    from ..state import StateStore


def _manager(manager: PluginManager | None) -> PluginManager:
    from . import plugin_manager

    return manager or plugin_manager()


def installer_for(distro: str, manager: PluginManager | None = None) -> Installer:
    """The installer of distribution ``distro`` (from its plugin's settings model)."""
    catalog = _manager(manager).hooks.catalog()
    block = catalog.block("kubernetes", distro)
    find = getattr(block.model, "installer", None) if block is not None else None
    installer: Installer | None = find() if callable(find) else None
    if installer is None:
        names = ", ".join(catalog.names("distro")) or "none"
        raise PluginError(
            f"no installed distro plugin named {distro!r} provides an installer",
            hint=f"installed distros: {names}",
        )
    return installer


# -- kubeconfig ---------------------------------------------------------------------------------


def default_kubeconfig_path() -> Path:
    """Where ``--merge`` writes: the first file of ``$KUBECONFIG``, else ``~/.kube/config``."""
    listed = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return Path(listed[0]) if listed else Path.home() / ".kube" / "config"


@attrs.frozen
class KubeconfigResult:
    path: Path
    merged: bool
    context: str
    server: str


def write_kubeconfig(
    store: StateStore,
    cluster: str,
    *,
    output: Path | None = None,
    merge: bool = False,
) -> KubeconfigResult:
    """Write the cluster's admin kubeconfig (0600) to ``output``, or merge it into the user's.

    Without ``output`` and ``merge`` it goes to ``./<cluster>.kubeconfig``. Merging adds the
    cluster's context (named after the cluster) and never touches other contexts.
    """
    from ..distro import credentials, kubeconfig
    from .state import require_cluster

    require_cluster(store, cluster)  # "no cluster named …", not "has no kubeconfig"
    ours = credentials.stored_kubeconfig(store, cluster).reveal()
    server = kubeconfig.load(ours)["clusters"][0]["cluster"]["server"]
    if merge:
        target = output or default_kubeconfig_path()
        existing = target.read_text(encoding="utf-8") if target.exists() else ""
        kubeconfig.write_private(target, kubeconfig.merge(existing, ours, cluster))
        return KubeconfigResult(target, True, cluster, server)
    target = output or Path(f"{cluster}.kubeconfig")
    kubeconfig.write_private(target, ours)
    return KubeconfigResult(target, False, cluster, server)


# -- render -------------------------------------------------------------------------------------


@contextmanager
def state_if_present(url: str | None) -> Iterator[StateStore | None]:
    """The store at ``url`` opened read-only, or None when there is none to open (``render``
    works without any state store: addresses not known are placeholders)."""
    from . import open_state

    try:
        store = open_state(url, readonly=True)
    except Exception:  # missing, unreachable or unreadable: render from the spec alone
        yield None
        return
    with store:
        yield store


def _render_nodes(config: ClusterConfig, store: StateStore | None) -> list[NodeRecord]:
    """Recorded nodes when the cluster exists in state (real addresses), else the planned ones."""
    from ..engine.plan import node_requests

    recorded = {n.name: n for n in store.list_nodes(config.name)} if store is not None else {}
    return [
        recorded.get(r.name)
        or NodeRecord(
            cluster=config.name, name=r.name, pool=r.pool, provider=r.provider, roles=r.roles
        )
        for r in node_requests(config)
    ]


def render(
    config: ClusterConfig,
    out: Path,
    *,
    store: StateStore | None = None,
    manager: PluginManager | None = None,
) -> list[Path]:
    """Write what each node would receive (and the manifests) under ``out``; touch no machine.

    Layout: ``out/nodes/<node>/<absolute path on the node>`` and ``out/manifests/<path>``.
    Secrets are replaced by a marker; addresses not known yet by placeholders (all of them
    without a ``store``, or when the cluster is not in it).
    """
    pm = _manager(manager)
    rendered = render_cluster(config, _render_nodes(config, store), pm)
    written: list[Path] = []
    for node, files in sorted(rendered.node_files.items()):
        for path, content in sorted(files.items()):
            written.append(_write(out / "nodes" / node / path.lstrip("/"), content, out))
    for manifest in rendered.manifests:
        written.append(_write(out / "manifests" / manifest.file_name, manifest.to_yaml(), out))
    return written


@attrs.frozen
class RenderedCluster:
    """What the distro and add-on phases would write: ``node_files`` ({node: {path: content}},
    secrets masked) and the add-on ``manifests`` in install order, validated."""

    node_files: dict[str, dict[str, str]]
    manifests: list[Manifest]


def render_cluster(
    config: ClusterConfig, nodes: Sequence[NodeRecord], manager: PluginManager | None = None
) -> RenderedCluster:
    """The files ``up`` writes for ``config`` on ``nodes`` and the add-on manifests it delivers,
    computed without touching any machine (the same functions ``up`` uses)."""
    from ..context import ClusterContext

    pm = _manager(manager)
    context = ClusterContext(config=config, dry_run=True)
    node_files = pm.hooks.render_node_files(context, list(nodes))
    return RenderedCluster(node_files, _manifests(context, pm))


def _manifests(context: ClusterContext, pm: PluginManager) -> list[Manifest]:
    """The add-on pipeline's manifests (validated), in install order."""
    from ..addons.pipeline import render_addons
    from ..engine.plan import addon_components

    return render_addons(context, pm.hooks, addon_components(context.config))


def _write(target: Path, content: str, root: Path) -> Path:
    resolved = target.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise PluginError(f"a plugin rendered a path outside the output directory: {target}")
    resolved.parent.mkdir(parents=True, exist_ok=True)
    resolved.write_text(content, encoding="utf-8")
    return target


# -- artifacts ----------------------------------------------------------------------------------


@attrs.frozen
class ArtifactsResult:
    distro: str
    version: str
    arch: str
    directory: Path
    files: tuple[str, ...]


def _release(
    distro: str, version: str | None, arch: str, mirror: str | None, pm: PluginManager
) -> Release:
    installer = installer_for(distro, pm)
    if arch not in ("amd64", "arm64"):
        raise UsageError(f"unknown architecture {arch!r}", hint="use amd64 or arm64")
    return installer.release(version or installer.default_version(), arch, mirror)


def _result(cache: CachedRelease) -> ArtifactsResult:
    release = cache.release
    return ArtifactsResult(
        release.distro, release.version, release.arch, cache.directory, tuple(sorted(cache.paths))
    )


def artifacts_fetch(
    distro: str,
    version: str | None = None,
    *,
    arch: str = "amd64",
    airgap: bool = False,
    mirror: str | None = None,
    out: Path | None = None,
    manager: PluginManager | None = None,
) -> ArtifactsResult:
    """Download a release (verified against its checksum file) into the cache; with ``out``
    also write a bundle directory for ``artifacts import`` on a machine without internet."""
    from ..distro import artifacts
    from ..paths import data_dir

    release = _release(distro, version, arch, mirror, _manager(manager))
    cache = artifacts.cached(data_dir(), release, airgap=airgap) or artifacts.fetch(
        data_dir(), release, airgap=airgap
    )
    if out is not None:
        artifacts.export_bundle(cache, out)
    return _result(cache)


def artifacts_import(
    source: Path,
    *,
    distro: str | None = None,
    version: str | None = None,
    arch: str | None = None,
    manager: PluginManager | None = None,
) -> ArtifactsResult:
    """Verify a bundle directory and copy it into the cache under the data directory."""
    from ..distro import artifacts
    from ..paths import data_dir

    if not source.is_dir():
        raise UsageError(f"{source} is not a directory", hint="pass the bundle directory")
    found = artifacts.read_manifest(source) if not (distro and version) else {}
    distro = distro or found["distro"]
    version = version or found["version"]
    arch = arch or found.get("arch", "amd64")
    release = _release(distro, version, arch, None, _manager(manager))
    airgap = all((source / a.name).is_file() for a in release.files(airgap=True))
    return _result(artifacts.import_bundle(source, data_dir(), release, airgap=airgap))


def artifacts_check(
    config: ClusterConfig,
    *,
    arch: str = "amd64",
    try_download: bool = True,
    manager: PluginManager | None = None,
) -> ArtifactsResult:
    """Make sure the release a config needs is cached, downloading it if allowed; raises the
    distro phase's "missing files" error otherwise (``make demo`` uses this to choose)."""
    from ..distro import artifacts
    from ..paths import data_dir

    pm = _manager(manager)
    kubernetes = config.spec.kubernetes
    settings = getattr(kubernetes.distro, "settings", None)
    airgap = bool(getattr(settings, "airgap", False))
    release = _release(
        kubernetes.distribution, kubernetes.version, arch, getattr(settings, "mirror", None), pm
    )
    cache = artifacts.cached(data_dir(), release, airgap=airgap)
    if cache is None:
        directory = artifacts.cache_dir(data_dir(), release)
        if not try_download:
            missing = artifacts.missing_files(directory, release, airgap=airgap)
            raise artifacts.missing_error(release, directory, missing, airgap=airgap)
        cache = artifacts.fetch(data_dir(), release, airgap=airgap, timeout=10)
    return _result(cache)
