"""Release files on the operator's machine: fetched and checksum-verified, or imported.

Nodes never download anything: the operator's machine holds each release under
``<data dir>/artifacts/<distro>/<version>/<arch>/`` (the official files plus the release's checksum
file) and the distro phase uploads them. The cache is filled either by fetching the official
release (``artifacts fetch``, or automatically during ``up`` when the machine is online) or by
importing a bundle carried in from a connected machine (``artifacts import DIR``). Every file is
checked against the release's SHA-256 checksum file before it is used.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import attrs

from ..errors import SlothError
from .installer import Artifact, Release

BUNDLE_MANIFEST = "sloth-bundle.json"
_CHUNK = 1 << 20


class ArtifactError(SlothError):
    """Release files are missing, unreachable or do not match their checksums."""


@attrs.frozen
class CachedRelease:
    """A verified release in the cache: artifact name → local path."""

    release: Release
    directory: Path
    paths: dict[str, Path]


def cache_dir(data_dir: Path, release: Release) -> Path:
    return data_dir / "artifacts" / release.distro / release.version / release.arch


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def parse_checksums(text: str) -> dict[str, str]:
    """``sha256sum`` output (``HASH  NAME`` or ``HASH *NAME``) → {name: hash}."""
    sums: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and len(parts[0]) == 64:
            sums[parts[1].lstrip("*").removeprefix("./")] = parts[0].lower()
    return sums


def wanted_files(release: Release, *, airgap: bool) -> list[str]:
    """The checksum files, then the artifacts, of ``release``."""
    return [*release.checksum_files(airgap=airgap), *(a.name for a in release.files(airgap=airgap))]


def missing_files(directory: Path, release: Release, *, airgap: bool) -> list[str]:
    wanted = wanted_files(release, airgap=airgap)
    return [name for name in wanted if not (directory / name).is_file()]


def _expected(
    directory: Path, release: Release, artifact: Artifact, combined: dict[str, str]
) -> str | None:
    """The published digest of ``artifact``: its own checksum file, else the combined one."""
    if artifact.checksum:
        words = (directory / artifact.checksum).read_text(encoding="utf-8").split()
        if words and len(words[0]) == 64:
            return words[0].lower()
        return None
    return combined.get(artifact.name)


def verify(directory: Path, release: Release, *, airgap: bool) -> CachedRelease:
    """Check every wanted file of ``release`` in ``directory`` against the checksum file."""
    missing = missing_files(directory, release, airgap=airgap)
    if missing:
        raise missing_error(release, directory, missing, airgap=airgap)
    sums = (
        parse_checksums((directory / release.checksum_file).read_text(encoding="utf-8"))
        if release.checksum_file
        else {}
    )
    paths: dict[str, Path] = {}
    for artifact in release.files(airgap=airgap):
        expected = _expected(directory, release, artifact, sums)
        if expected is None:
            raise ArtifactError(
                f"{artifact.checksum or release.checksum_file} of {release.distro} "
                f"{release.version} lists no checksum for {artifact.name}",
                hint="the file does not belong to this release; fetch or import it again",
            )
        actual = sha256_file(directory / artifact.name)
        if actual != expected:
            raise ArtifactError(
                f"{artifact.name} of {release.distro} {release.version} does not match its "
                f"checksum (expected sha256 {expected[:16]}…, got {actual[:16]}…)",
                hint=f"delete {directory / artifact.name} and fetch or import the release again",
            )
        paths[artifact.name] = directory / artifact.name
    return CachedRelease(release, directory, paths)


def missing_error(
    release: Release, directory: Path, missing: Sequence[str], *, airgap: bool
) -> ArtifactError:
    """The error of the distro phase when the release is not available (the two ways out)."""
    options = "--airgap " if airgap else ""
    return ArtifactError(
        f"{release.distro} {release.version} ({release.arch}) is not available: missing "
        f"{', '.join(missing)} in {directory}",
        hint=(
            f"either let this machine download it from {release.base_url} "
            f"(`sloth-kubernetes artifacts fetch --distro {release.distro} --version "
            f"{release.version} --arch {release.arch} {options}`), or on a connected machine run "
            f"that command with `--out DIR`, carry DIR here and run "
            f"`sloth-kubernetes artifacts import DIR`"
        ),
    )


def cached(data_dir: Path, release: Release, *, airgap: bool) -> CachedRelease | None:
    """The verified cached release, or ``None`` when files are missing."""
    directory = cache_dir(data_dir, release)
    if missing_files(directory, release, airgap=airgap):
        return None
    return verify(directory, release, airgap=airgap)


def fetch(data_dir: Path, release: Release, *, airgap: bool, timeout: float = 30) -> CachedRelease:
    """Download the checksum file and the release files into the cache, verified."""
    directory = cache_dir(data_dir, release)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    checksums = release.checksum_files(airgap=airgap)
    for name in wanted_files(release, airgap=airgap):
        target = directory / name
        if target.is_file() and name not in checksums:
            continue
        _download(f"{release.base_url.rstrip('/')}/{name}", target, timeout, release)
    try:
        return verify(directory, release, airgap=airgap)
    except ArtifactError:
        for artifact in release.files(airgap=airgap):  # a corrupt download must not stick
            (directory / artifact.name).unlink(missing_ok=True)
        raise


def _download(url: str, target: Path, timeout: float, release: Release) -> None:
    if not url.startswith(("https://", "http://")):
        raise ArtifactError(f"cannot download {url}: only http and https URLs are supported")
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as reply:  # noqa: S310 (http/https only, checked)
            shutil.copyfileobj(reply, out, _CHUNK)
        os.replace(temporary, target)
    except (urllib.error.URLError, OSError, ValueError) as error:
        Path(temporary).unlink(missing_ok=True)
        missing = missing_files(target.parent, release, airgap=True) or [target.name]
        raise ArtifactError(
            f"cannot download {url}: {getattr(error, 'reason', error)}; "
            f"{release.distro} {release.version} ({release.arch}) needs {', '.join(missing)} "
            f"in {target.parent}",
            hint=missing_error(release, target.parent, missing, airgap=True).hint,
        ) from None


def export_bundle(cache: CachedRelease, out: Path) -> Path:
    """Copy a cached release to ``out`` with a manifest, ready for ``artifacts import``."""
    out.mkdir(parents=True, exist_ok=True)
    release = cache.release
    checksums = [cache.directory / name for name in release.checksum_files()]
    for path in [*checksums, *cache.paths.values()]:
        if not path.is_file():
            continue
        shutil.copy2(path, out / path.name)
    manifest = {
        "distro": release.distro,
        "version": release.version,
        "arch": release.arch,
        "files": sorted(cache.paths),
    }
    (out / BUNDLE_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return out


def read_manifest(source: Path) -> dict[str, str]:
    path = source / BUNDLE_MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {k: str(data[k]) for k in ("distro", "version", "arch")}
    except FileNotFoundError:
        raise ArtifactError(
            f"{source} has no {BUNDLE_MANIFEST}",
            hint="import a directory written by `artifacts fetch --out DIR`, or name the "
            "release with --distro, --version and --arch",
        ) from None
    except (ValueError, KeyError, TypeError) as error:
        raise ArtifactError(f"{path} is not a valid bundle manifest: {error}") from None


def import_bundle(source: Path, data_dir: Path, release: Release, *, airgap: bool) -> CachedRelease:
    """Verify the files in ``source`` and copy them into the cache."""
    verify(source, release, airgap=airgap)
    directory = cache_dir(data_dir, release)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name in wanted_files(release, airgap=airgap):
        shutil.copy2(source / name, directory / name)
    return verify(directory, release, airgap=airgap)
