"""A package repository for stock-image local hosts, built from this machine's apt.

Local hosts have no route off their bridge, so their apt cannot reach a Debian mirror the way a
cloud machine reaches its cloud's. The provider gives them one: the packages the cluster's nodes
need (prepare's baseline and the plugins' ``node_packages``) plus every dependency the image
lacks — resolved by this machine's apt against the image's own dpkg status, downloaded with
``apt-get download`` into a cache shared by all networks, indexed with ``dpkg-scanpackages``.
Each network has one repository directory, bound read-only into its hosts at
:data:`MOUNT_POINT`; the hosts' apt sources name only it (:data:`SOURCE_LINE`). What prepare or a
plugin installs is then a real ``apt-get update`` + ``apt-get install`` on the host, with the
host's apt resolving dependencies. A package this machine's apt does not know is left out (the
host's apt then reports it, and prepare names node, package and fix).

The repository is a flat, unsigned one (``[trusted=yes]``): it never leaves this machine, and
the packages in it were verified by this machine's apt against Debian's signed indexes.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from sloth_kubernetes.plugin import ProviderError

from ._runtime import network_lock
from ._system import PROVIDER, require_tools
from .rootfs import cache_dir

MOUNT_POINT = "/srv/sloth-apt"
SOURCE_LINE = f"deb [trusted=yes] file:{MOUNT_POINT}/current ./"
CURRENT = "current"
_INST = re.compile(r"^Inst (\S+) (?:\[[^\]]*\] )?\((\S+) .*\[([a-z0-9]+)\]\)")
_UNKNOWN = re.compile(r"Unable to locate package (\S+)|Package '?(\S+?)'? has no installation")
TOOLS = {"apt-get": "apt", "dpkg-scanpackages": "dpkg-dev"}


def deb_cache() -> Path:
    """Downloaded ``.deb`` files, shared by every network (and test session) on this machine."""
    return cache_dir().parent / "debs"


def _apt(argv: list[str], *, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
    return subprocess.run(
        argv, capture_output=True, text=True, check=False, cwd=cwd, env=env, timeout=900
    )


Plan = list[tuple[str, str, str]]  # (name, version, arch) per package apt would install


def resolve(image_root: Path, packages: Iterable[str]) -> tuple[Plan, list[str]]:
    """What a host of ``image_root`` must download to install ``packages``: (name, version,
    arch) per package apt would install, and the names this machine's apt does not know."""
    wanted = sorted(set(packages))
    unknown: list[str] = []
    status = image_root / "var" / "lib" / "dpkg" / "status"
    while wanted:
        done = _apt(
            ["apt-get", "-s", "-q", "-o", f"Dir::State::status={status}",
             "-o", "Debug::NoLocking=1", "install", "--no-install-recommends", *wanted]
        )  # fmt: skip
        if done.returncode == 0:
            plan = [m.groups() for m in map(_INST.match, done.stdout.splitlines()) if m]
            return [(n, v, a) for n, v, a in plan], unknown
        missing = {a or b for a, b in _UNKNOWN.findall(done.stdout + done.stderr)} & set(wanted)
        if not missing:
            raise ProviderError(
                "this machine's apt cannot resolve the hosts' packages: "
                + (done.stderr.strip().splitlines() or ["?"])[-1],
                hint="check `apt-get update` on this machine; packages: " + " ".join(wanted),
                provider=PROVIDER,
            )
        unknown += sorted(missing)
        wanted = [p for p in wanted if p not in missing]
    return [], unknown


def _deb_name(name: str, version: str, arch: str) -> str:
    return f"{name}_{version.replace(':', '%3a')}_{arch}.deb"


def _download(plan: Plan) -> list[Path]:
    cache = deb_cache()
    cache.mkdir(parents=True, exist_ok=True, mode=0o755)
    with network_lock(cache.parent, ".debs"):
        missing = [(n, v, a) for n, v, a in plan if not (cache / _deb_name(n, v, a)).exists()]
        if missing:
            done = _apt(["apt-get", "download", "-q", *(f"{n}:{a}={v}" for n, v, a in missing)],
                        cwd=cache)  # fmt: skip
            if done.returncode != 0:
                raise ProviderError(
                    "downloading the hosts' packages with this machine's apt failed: "
                    + (done.stderr.strip().splitlines() or ["?"])[-1],
                    hint="check that `apt-get download` works on this machine",
                    provider=PROVIDER,
                )
    return [cache / _deb_name(n, v, a) for n, v, a in plan]


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another filesystem
        shutil.copy2(source, target)


def ensure_repository(root: Path, image_root: Path, packages: Iterable[str]) -> list[str]:
    """Make ``root/current`` the repository for ``packages`` on hosts of ``image_root``; return
    the packages this machine's apt does not know (left out). Idempotent and cheap when the
    repository already serves this list."""
    require_tools(TOOLS)
    wanted = sorted(set(packages))
    root.mkdir(parents=True, exist_ok=True, mode=0o755)
    tag = hashlib.sha256(f"{image_root}\n{' '.join(wanted)}".encode()).hexdigest()[:12]
    with network_lock(root, ".build"):
        target = root / tag
        unknown_file = target / "unknown.txt"
        if (target / "Packages").exists() and (root / CURRENT).resolve() == target.resolve():
            return unknown_file.read_text().split()
        plan, unknown = resolve(image_root, wanted)
        debs = _download(plan)
        partial = root / f"{tag}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(mode=0o755)
        for deb in debs:
            _link(deb, partial / deb.name)
        index = subprocess.run(
            ["dpkg-scanpackages", "--multiversion", ".", "/dev/null"],
            capture_output=True, text=True, check=False, cwd=partial,
        )  # fmt: skip
        if index.returncode != 0:
            raise ProviderError(
                f"dpkg-scanpackages failed: {index.stderr.strip()[-300:]}",
                hint=f"remove {root} and retry",
                provider=PROVIDER,
            )
        (partial / "Packages").write_text(index.stdout)
        (partial / "unknown.txt").write_text("\n".join(unknown) + "\n")
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
        link = root / f"{CURRENT}.new"
        link.unlink(missing_ok=True)
        link.symlink_to(tag)  # relative: resolves inside the hosts too
        os.replace(link, root / CURRENT)
        for old in root.iterdir():
            if old.is_dir() and not old.is_symlink() and old.name != tag:
                shutil.rmtree(old, ignore_errors=True)
    return unknown


def repository_size(root: Path) -> int:
    """Bytes of the packages ``root/current`` serves."""
    current = root / CURRENT
    return sum(p.stat().st_size for p in current.glob("*.deb")) if current.exists() else 0
