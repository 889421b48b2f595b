"""A Debian root filesystem for systemd-mode hosts: built once with debootstrap, cached.

The tarball lives under ``user_cache_dir("sloth-kubernetes")/rootfs/`` and is unpacked next to it
once; hosts use the unpacked tree read-only as their overlay's lower layer. The mirror and suite
are this machine's own apt sources, so the build works wherever ``apt-get`` works.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

from sloth_kubernetes.plugin import ProviderError

from ._runtime import network_lock
from ._system import PROVIDER, require_tools

PACKAGES = (
    "systemd", "systemd-sysv", "dbus", "openssh-server", "iproute2", "nftables",
    "wireguard-tools", "iputils-ping", "procps", "ca-certificates",
    # what the prepare phase installs on a Kubernetes node (hosts have no internet to fetch them)
    "conntrack", "curl", "iptables", "kmod", "socat", "systemd-timesyncd",
    # python3 (in every stock Debian cloud image, with cloud-init) runs the distribution twin
    "python3",
)  # fmt: skip
OPTIONAL_PACKAGES = ("wireguard-go",)  # a universe-less mirror may not carry it
DEFAULT_MIRROR = ("http://deb.debian.org/debian", "bookworm")


def cache_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("sloth-kubernetes")) / "rootfs"


def apt_source() -> tuple[str, str]:
    """(mirror URI, suite) of this machine's main Debian source."""
    candidates: list[tuple[str, str]] = []
    sources_dir = Path("/etc/apt/sources.list.d")
    for path in sorted(sources_dir.glob("*.sources")) if sources_dir.is_dir() else []:
        for stanza in path.read_text().split("\n\n"):
            fields = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in stanza.splitlines())
                if not k.startswith("#") and v
            }
            if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
                for uri in fields.get("uris", "").split():
                    candidates += [(uri, suite) for suite in fields.get("suites", "").split()]
    list_file = Path("/etc/apt/sources.list")
    if list_file.exists():
        for line in list_file.read_text().splitlines():
            match = re.match(r"^\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)", line)
            if match:
                candidates.append((match.group(1), match.group(2)))
    for uri, suite in candidates:
        secondary = "security" in uri or re.search(r"-(updates|security|backports)$", suite)
        if "debian" in uri and not secondary:
            return uri.rstrip("/"), suite
    return DEFAULT_MIRROR


@functools.cache
def _package_available(name: str) -> bool:
    done = subprocess.run(
        ["apt-cache", "show", "--no-all-versions", name], capture_output=True, check=False
    )
    return done.returncode == 0 and bool(done.stdout.strip())


def ensure_rootfs() -> Path:
    """Return the unpacked rootfs directory, building and caching it first if needed (~1-2 min)."""
    mirror, suite = apt_source()
    packages = list(PACKAGES) + [p for p in OPTIONAL_PACKAGES if _package_available(p)]
    tag = hashlib.sha256(f"{mirror} {suite} {' '.join(packages)} v1".encode()).hexdigest()[:10]
    base = cache_dir()
    tarball = base / f"debian-{suite}-{tag}.tar"
    unpacked = base / f"debian-{suite}-{tag}"
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    with network_lock(base, ".build"):
        if (unpacked / ".complete").exists():
            return unpacked
        if not tarball.exists():
            _debootstrap(mirror, suite, packages, tarball)
        partial = unpacked.with_name(unpacked.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(mode=0o755)
        # tar(1), not tarfile: it keeps xattrs (file capabilities) and device nodes
        _tar(["-C", str(partial), "-xpf", str(tarball)])
        (partial / ".complete").touch()
        shutil.rmtree(unpacked, ignore_errors=True)
        partial.rename(unpacked)
    return unpacked


def _debootstrap(mirror: str, suite: str, packages: list[str], tarball: Path) -> None:
    require_tools({"debootstrap": "debootstrap"})
    build = tarball.with_name(tarball.stem + ".build")
    shutil.rmtree(build, ignore_errors=True)
    argv = [
        "debootstrap", "--variant=minbase", "--include=" + ",".join(packages),
        suite, str(build), mirror,
    ]  # fmt: skip
    log = tarball.with_suffix(".log")
    with open(log, "w") as out:
        done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        shutil.rmtree(build, ignore_errors=True)
        raise ProviderError(
            f"building the Debian root filesystem with debootstrap failed (see {log})",
            hint=f"check that {mirror} ({suite}) is reachable: apt-get update should work",
            provider=PROVIDER,
        )
    _generalise(build)
    partial = tarball.with_suffix(".tar.partial")
    _tar(["-C", str(build), "-cpf", str(partial), "."])
    os.replace(partial, tarball)
    shutil.rmtree(build, ignore_errors=True)


def _tar(args: list[str]) -> None:
    done = subprocess.run(
        ["tar", "--xattrs", "--xattrs-include=*", "--numeric-owner", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise ProviderError(
            f"tar failed on the cached root filesystem: {done.stderr.strip()[-300:]}",
            hint=f"remove {cache_dir()} and retry",
            provider=PROVIDER,
        )


def _generalise(root: Path) -> None:
    """Remove per-machine identity baked in by package scripts: each host gets its own."""
    for key in (root / "etc" / "ssh").glob("ssh_host_*"):
        key.unlink()
    for path in (root / "etc" / "machine-id", root / "var" / "lib" / "dbus" / "machine-id"):
        if path.exists() or path.is_symlink():
            path.unlink()
    (root / "etc" / "machine-id").write_text("")  # empty: systemd treats the host as new
    shutil.rmtree(root / "var" / "cache" / "apt" / "archives", ignore_errors=True)
    (root / "var" / "cache" / "apt" / "archives" / "partial").mkdir(parents=True)
