"""Debian root filesystems for systemd-mode hosts: built once with debootstrap, cached.

Two images (``IMAGES``):

* ``debian-12-genericcloud`` (:data:`STOCK`) — what Debian's 12 "genericcloud" cloud image
  contains: ``debootstrap --variant minbase`` plus the packages its build installs, read from
  ``images/debian-12-genericcloud.txt`` (which cites the Debian Cloud Team's build configuration).
  Nothing the tool needs is added: prepare and the plugins install it with the host's own apt.
* ``debian-12-preloaded`` (:data:`PRELOADED`) — **not a stock image**: minbase plus what the tool
  installs on a node, pre-installed. For tests about something other than installing (the
  distribution twin, boot and supervision tests), where a package install per host is only cost.

The tarball lives under ``user_cache_dir("sloth-kubernetes")/rootfs/`` and is unpacked next to it
once; hosts use the unpacked tree read-only as their overlay's lower layer. The mirror is this
machine's own Debian source, so the build works wherever ``apt-get`` works. Package lists and
downloaded archives are emptied, as on a freshly booted cloud machine.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path
from typing import IO

import attrs
from sloth_kubernetes.plugin import ProviderError

from ._runtime import network_lock
from ._system import PROVIDER, require_tools

STOCK = "debian-12-genericcloud"
PRELOADED = "debian-12-preloaded"
IMAGES = (STOCK, PRELOADED)
#: Debian release of each image (its suite on the mirror).
SUITES = {STOCK: "bookworm", PRELOADED: "bookworm"}

#: The preloaded image's packages: systemd, sshd and what prepare and the mesh install.
PACKAGES = (
    "systemd", "systemd-sysv", "dbus", "openssh-server", "iproute2", "nftables",
    "wireguard-tools", "iputils-ping", "procps", "ca-certificates",
    "conntrack", "curl", "iptables", "kmod", "socat", "systemd-timesyncd",
    # the node-local API balancer (apiEndpoint mode nodeLocal, the default with K3s and RKE2)
    "haproxy",
    # python3 (in every stock Debian cloud image, with cloud-init) runs the distribution twin
    "python3",
    # the kubeadm distribution's node runtime (its plugin's node_packages)
    "containerd", "runc", "containernetworking-plugins",
)  # fmt: skip
OPTIONAL_PACKAGES = ("wireguard-go",)  # a universe-less mirror may not carry it
DEFAULT_MIRROR = ("http://deb.debian.org/debian", "bookworm")


@attrs.frozen
class ImagePackage:
    """One line of an image's package list: ``excluded`` says why local hosts lack it."""

    name: str
    image_class: str
    excluded: str = ""


def image_data(image: str) -> list[ImagePackage]:
    """The package list of a stock image (``images/<image>.txt``), with its exclusions."""
    text = resources.files(__package__).joinpath("images", f"{image}.txt").read_text()
    entries = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split(None, 2) if not line.startswith("#") else []
        if len(words) < 2:
            continue
        name, image_class = words[0], words[1]
        if name.startswith("!"):
            entries.append(ImagePackage(name[1:], image_class, words[2] if len(words) > 2 else "-"))
        else:
            entries.append(ImagePackage(name, image_class))
    return entries


def image_packages(image: str) -> list[str]:
    """What ``debootstrap --include`` adds to minbase for ``image``."""
    if image == PRELOADED:
        return list(PACKAGES) + [p for p in OPTIONAL_PACKAGES if _package_available(p)]
    if image == STOCK:
        return [p.name for p in image_data(image) if not p.excluded]
    raise ProviderError(
        f"unknown local host image {image!r}",
        hint="use one of: " + ", ".join(IMAGES),
        provider=PROVIDER,
    )


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


def check_suite(image: str) -> tuple[str, str]:
    """(mirror, suite) to build ``image`` from; the machine's apt must serve the image's release
    (the hosts' packages come from this machine's apt too)."""
    mirror, suite = apt_source()
    wanted = SUITES[image]
    if suite != wanted:
        raise ProviderError(
            f"local host image {image} is Debian {wanted}, but this machine's apt serves {suite}",
            hint=f"run the local provider on a Debian {wanted} machine, or use mode: fast",
            provider=PROVIDER,
        )
    return mirror, suite


def ensure_rootfs(image: str = PRELOADED) -> Path:
    """Return the unpacked rootfs of ``image``, building and caching it first if needed
    (~1-3 min)."""
    packages = image_packages(image)
    mirror, suite = check_suite(image)
    version = "v1" if image == PRELOADED else f"{image} v2"
    tag = hashlib.sha256(f"{mirror} {suite} {' '.join(packages)} {version}".encode()).hexdigest()
    name = f"debian-{suite}-{tag[:10]}" if image == PRELOADED else f"{image}-{tag[:10]}"
    base = cache_dir()
    tarball = base / f"{name}.tar"
    unpacked = base / name
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    if (unpacked / ".complete").exists():  # built: no need to wait for another image's build
        return unpacked
    with network_lock(base, ".build"):
        if (unpacked / ".complete").exists():
            return unpacked
        if not tarball.exists():
            _debootstrap(mirror, suite, packages, tarball, with_apt=image == STOCK)
        partial = unpacked.with_name(unpacked.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(mode=0o755)
        # tar(1), not tarfile: it keeps xattrs (file capabilities) and device nodes
        _tar(["-C", str(partial), "-xpf", str(tarball)])
        (partial / ".complete").touch()
        shutil.rmtree(unpacked, ignore_errors=True)
        partial.rename(unpacked)
    return unpacked


def _debootstrap(
    mirror: str, suite: str, packages: list[str], tarball: Path, *, with_apt: bool = False
) -> None:
    """minbase, then ``packages``: by debootstrap itself, or (``with_apt``, as the cloud image
    build does) by apt inside the new system — debootstrap's resolver does not know virtual
    packages (``dbus-system-bus``, ``python3-cffi-backend-api-*``), which cloud-init needs."""
    require_tools({"debootstrap": "debootstrap", "chroot": "coreutils"})
    build = tarball.with_name(tarball.stem + ".build")
    shutil.rmtree(build, ignore_errors=True)
    include = [] if with_apt else ["--include=" + ",".join(packages)]
    argv = ["debootstrap", "--variant=minbase", *include, suite, str(build), mirror]
    log = tarball.with_suffix(".log")
    with open(log, "w") as out:
        done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, text=True, check=False)
        if done.returncode == 0 and with_apt:
            done = _apt_install(build, packages, out)
    if done.returncode != 0:
        shutil.rmtree(build, ignore_errors=True)
        raise ProviderError(
            f"building the Debian root filesystem failed (see {log})",
            hint=f"check that {mirror} ({suite}) is reachable: apt-get update should work",
            provider=PROVIDER,
        )
    _generalise(build)
    partial = tarball.with_suffix(".tar.partial")
    _tar(["-C", str(build), "-cpf", str(partial), "."])
    os.replace(partial, tarball)
    shutil.rmtree(build, ignore_errors=True)


def _apt_install(root: Path, packages: list[str], out: IO[str]) -> subprocess.CompletedProcess[str]:
    """``apt-get install --no-install-recommends packages`` inside ``root`` (FAI's
    install-norec); no service starts (policy-rc.d), DNS from this machine while it runs."""
    policy = root / "usr" / "sbin" / "policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    resolv = root / "etc" / "resolv.conf"
    saved = resolv.read_bytes() if resolv.is_file() and not resolv.is_symlink() else None
    if Path("/etc/resolv.conf").exists() and not resolv.is_symlink():
        shutil.copyfile("/etc/resolv.conf", resolv)
    script = (
        "export DEBIAN_FRONTEND=noninteractive; apt-get update -q && "
        "apt-get install -y -q --no-install-recommends " + " ".join(packages) + " && apt-get clean"
    )
    try:
        return subprocess.run(
            ["chroot", str(root), "/bin/sh", "-c", script],
            stdout=out, stderr=subprocess.STDOUT, text=True, check=False,
        )  # fmt: skip
    finally:
        policy.unlink(missing_ok=True)
        if not resolv.is_symlink():  # systemd-resolved links it to its stub: keep that
            resolv.write_bytes(saved or b"")


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
    # An empty package cache, as on a fresh cloud machine: apt-get update comes first.
    for state in ("var/cache/apt/archives", "var/lib/apt/lists"):
        shutil.rmtree(root / state, ignore_errors=True)
        (root / state / "partial").mkdir(parents=True)
    for cache in (root / "var" / "cache" / "apt").glob("*.bin"):
        cache.unlink()
