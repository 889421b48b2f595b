"""Systemd mode: systemd as PID 1 in ``systemd-nspawn`` over a per-host overlay of a cached
debootstrap'd Debian (:mod:`.rootfs`), joined to the host's netns. ~0.5 s per host to reach
``running``; use it where systemd matters (services, distro installs).

Conditions on machines without systemd (see TESTING.md): each host takes its own cgroup directory
before nspawn starts; CAP_NET_ADMIN, a writable /proc/sys/net and /dev/net/tun are given back; and
``fs.inotify.max_user_instances`` is raised while systemd hosts run (each systemd uses several
inotify instances; the default 128 stops at ~19 hosts), restored when the last one goes.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from sloth_kubernetes.plugin import ProviderError

from ._runtime import HostRecord, make_private_dir, spawn_detached, wait_for_ssh
from ._system import PROVIDER, process_start_time, require_tools, run
from .keys import write_private
from .mirror import MOUNT_POINT, SOURCE_LINE, ensure_repository
from .rootfs import PRELOADED, STOCK, cache_dir, ensure_rootfs

TOOLS = {
    "ip": "iproute2",
    "unshare": "util-linux",
    "mount": "mount",
    "systemd-nspawn": "systemd-container",
    "nsenter": "util-linux",
    "debootstrap": "debootstrap",
}
CGROUP_PARENT = "sloth-local"
INOTIFY = Path("/proc/sys/fs/inotify/max_user_instances")
INOTIFY_WANTED = 8192
_NSPAWN_MARK = "--network-namespace-path=/run/netns/sloth-"
_rootfs: dict[str, Path] = {}  # image -> rootfs, located once per create (asks apt-cache)

SSHD_DROP_IN = """\
# Written by sloth-kubernetes (local provider). Root by key only.
HostKey /etc/ssh/ssh_host_ed25519_key
ListenAddress {address}:{port}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
MaxStartups 200:30:400
MaxSessions 64
"""

# Units that only make sense on a real console or real hardware.
MASKED_UNITS = (
    "console-getty.service", "getty@.service", "container-getty@.service",
    "systemd-timesyncd.service", "apt-daily.timer", "apt-daily-upgrade.timer",
)  # fmt: skip


def check_tools() -> None:
    require_tools(TOOLS)


def _cgroup_name(record: HostRecord) -> str:
    return f"{CGROUP_PARENT}/{record.network}/{record.name}"


def _hierarchies() -> list[Path]:
    root = Path("/sys/fs/cgroup")
    if (root / "cgroup.controllers").exists():
        return [root]
    return [h for h in (root / "systemd", root / "unified") if h.is_dir()]


def before_start(state_dir: Path, records: Sequence[HostRecord]) -> None:
    """Build/locate the rootfs once and lift the inotify limit before any systemd boots."""
    del state_dir
    for image in {r.image or PRELOADED for r in records}:
        _rootfs[image] = ensure_rootfs(image)
    _raise_inotify()


def _rootfs_of(record: HostRecord) -> Path:
    image = record.image or PRELOADED
    if image not in _rootfs:
        _rootfs[image] = ensure_rootfs(image)
    return _rootfs[image]


def repository_dir(state_dir: Path, network: str) -> Path:
    """Where the network's package repository lives (bound into its stock-image hosts)."""
    return state_dir / network / "apt"


def ensure_packages(
    state_dir: Path, network: str, image: str, packages: Sequence[str]
) -> list[str]:
    """Serve ``packages`` (with what they need) to the network's ``image`` hosts; return the
    names this machine's apt does not know. Stock images only: the preloaded one has them."""
    if image != STOCK:
        return []
    root = ensure_rootfs(image)
    return ensure_repository(repository_dir(state_dir, network), root, packages)


def prepare_files(host_dir: Path, record: HostRecord, public_key: str, authorized_key: str) -> None:
    for part in ("upper", "work"):
        (host_dir / "ovl" / "root" / part).mkdir(parents=True, exist_ok=True)
    (host_dir / "merged").mkdir(exist_ok=True)
    upper = host_dir / "ovl" / "root" / "upper"
    etc = upper / "etc"
    ssh = etc / "ssh"
    (ssh / "sshd_config.d").mkdir(parents=True, exist_ok=True)
    write_private(ssh / "ssh_host_ed25519_key", (host_dir / "ssh_host_ed25519_key").read_bytes())
    (ssh / "ssh_host_ed25519_key.pub").write_text(public_key + "\n")
    (ssh / "sshd_config.d" / "sloth.conf").write_text(
        SSHD_DROP_IN.format(address=record.address, port=record.port)
    )
    (etc / "hostname").write_text(record.name + "\n")
    (etc / "hosts").write_text(
        f"127.0.0.1\tlocalhost\n{record.address}\t{record.name}\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
    )
    if (record.image or PRELOADED) == STOCK:
        # As a cloud points a fresh machine's apt at its own mirror: the provider's repository.
        (etc / "apt").mkdir(exist_ok=True)
        (etc / "apt" / "sources.list").write_text(
            "# Written by sloth-kubernetes (local provider): this machine's package repository\n"
            f"{SOURCE_LINE}\n"
        )
    machine_id = etc / "machine-id"
    if not machine_id.exists():
        machine_id.write_text(secrets.token_hex(16) + "\n")
    units = etc / "systemd" / "system"
    units.mkdir(parents=True, exist_ok=True)
    for unit in MASKED_UNITS:
        link = units / unit
        if not link.is_symlink():
            link.symlink_to("/dev/null")
    root = make_private_dir(upper / "root")
    dot_ssh = make_private_dir(root / ".ssh")
    write_private(dot_ssh / "authorized_keys", (authorized_key.strip() + "\n").encode())


def spawn(host_dir: Path, record: HostRecord, state_dir: Path) -> None:
    record.cgroup = _cgroup_name(record)
    script = Path(str(resources.files(__package__).joinpath("nspawn-launch.sh")))
    argv = [
        "unshare", "--mount", "--propagation", "private",
        "/bin/sh", str(script), record.name, str(host_dir), str(_rootfs_of(record)),
        record.netns, record.cgroup,
    ]  # fmt: skip
    if (record.image or PRELOADED) == STOCK:
        repository = repository_dir(state_dir, record.network)
        repository.mkdir(parents=True, exist_ok=True)
        argv += [str(repository), MOUNT_POINT]
    record.launcher_pid = spawn_detached(argv, host_dir / "console.log")
    record.launcher_start = process_start_time(record.launcher_pid) or 0


def _container_init(netns: str) -> int:
    """The machine-side pid of the container's PID 1 (the process whose innermost pid is 1)."""
    out = run(["ip", "netns", "pids", netns], what=f"listing processes in {netns}")
    for pid in out.split():
        with contextlib.suppress(OSError):
            status = Path(f"/proc/{pid}/status").read_text()
            for line in status.splitlines():
                if line.startswith("NSpid:"):
                    ids = line.split()[1:]
                    if len(ids) > 1 and ids[-1] == "1":
                        return int(pid)
    return 0


def wait_ready(host_dir: Path, record: HostRecord, deadline: float) -> None:
    """Ready = sshd answers and systemd reports running (or degraded)."""
    log = host_dir / "console.log"
    wait_for_ssh(record, log, deadline)
    pid = _container_init(record.netns)
    argv = ["nsenter", "-t", str(pid), "-m", "-u", "-i", "-n", "-p",
            "systemctl", "is-system-running", "--wait"]  # fmt: skip
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            check=False,
            timeout=max(1.0, deadline - time.monotonic()),
        )
        state = done.stdout.strip()
    except subprocess.TimeoutExpired:
        state = "timeout"
    if state not in ("running", "degraded"):
        raise ProviderError(
            f"systemd on local host {record.name} did not finish booting (state: {state})",
            hint=f"inspect it: nsenter -t {pid} -a systemctl --failed; output in {log}",
            provider=PROVIDER,
        )


def read_init_pid(host_dir: Path, record: HostRecord) -> None:
    pid = _container_init(record.netns)
    start = process_start_time(pid) if pid else None
    if start is None:
        raise ProviderError(
            f"local host {record.name} has no visible systemd PID 1",
            hint=f"see {host_dir / 'console.log'}",
            provider=PROVIDER,
        )
    record.init_pid, record.init_start = pid, start


def _remove_cgroup(name: str) -> None:
    """Kill anything left in the cgroup tree, then remove its directories bottom-up."""
    for hierarchy in _hierarchies():
        top = hierarchy / name
        if not top.is_dir():
            continue
        dirs = sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
        for directory in [*dirs, top]:
            with contextlib.suppress(OSError):
                for pid in (directory / "cgroup.procs").read_text().split():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), 9)
        for directory in [*dirs, top]:
            for _ in range(200):
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # EBUSY until the killed processes are gone
                    time.sleep(0.01)
        for parent in (top.parent, top.parent.parent):  # sloth-local/<network>, sloth-local
            with contextlib.suppress(OSError):
                parent.rmdir()


def after_stop(state_dir: Path, records: Sequence[HostRecord]) -> None:
    del state_dir
    for record in records:
        _remove_cgroup(record.cgroup or _cgroup_name(record))
    _restore_inotify_if_idle()


def sweep_machine(prefix: str) -> list[str]:
    """Remove cgroup directories of networks named ``prefix…`` (their processes are killed)."""
    removed: list[str] = []
    for hierarchy in _hierarchies():
        parent = hierarchy / CGROUP_PARENT
        if parent.is_dir():
            for network in parent.iterdir():
                if network.is_dir() and network.name.startswith(prefix):
                    for host in [p for p in network.iterdir() if p.is_dir()]:
                        _remove_cgroup(f"{CGROUP_PARENT}/{network.name}/{host.name}")
                        removed.append(f"cgroup {hierarchy.name}:{network.name}/{host.name}")
    if removed:
        _restore_inotify_if_idle()
    return removed


def _saved_inotify() -> Path:
    return cache_dir().parent / "inotify-max-user-instances.orig"


def _raise_inotify() -> None:
    current = int(INOTIFY.read_text())
    if current >= INOTIFY_WANTED:
        return
    saved = _saved_inotify()
    saved.parent.mkdir(parents=True, exist_ok=True)
    if not saved.exists():
        saved.write_text(f"{current}\n")
    INOTIFY.write_text(f"{INOTIFY_WANTED}\n")


def _restore_inotify_if_idle() -> None:
    saved = _saved_inotify()
    if not saved.exists() or _any_systemd_host_running():
        return
    INOTIFY.write_text(saved.read_text())
    saved.unlink()


def _any_systemd_host_running() -> bool:
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if argv[0].endswith(b"systemd-nspawn") and any(
                arg.startswith(_NSPAWN_MARK.encode()) for arg in argv
            ):
                return True
    return False
