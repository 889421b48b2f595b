"""Pieces shared by both host modes: on-disk records, the host's network plumbing, detached
launching, readiness and teardown.

State directory layout (all 0700 / 0600)::

    STATE/<network>/network.json       name + cidr
    STATE/<network>/lock               serialises creators/destroyers of this network
    STATE/<network>/hosts/<host>/      record.json, ssh_host_ed25519_key(.pub), console.log,
                                       init.pid, root/ (the host's /root), ovl/<dir>/{upper,work}
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import attrs
from sloth_kubernetes.plugin import ProviderError

from ._system import PROVIDER, is_alive, kill_and_wait, process_start_time, reap, run, which
from .network import LocalNetwork

HOST_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
}


@attrs.define
class HostRecord:
    """What the provider remembers about one host (``record.json``)."""

    name: str
    network: str
    address: str
    mode: str
    netns: str
    veth: str
    port: int = 22
    init_pid: int = 0
    init_start: int = 0
    launcher_pid: int = 0
    launcher_start: int = 0
    cgroup: str = ""  # systemd mode: the host's own cgroup directory name
    image: str = ""  # systemd mode: the root filesystem's image (rootfs.IMAGES)

    def alive(self) -> bool:
        return is_alive(self.init_pid, self.init_start)

    def processes(self) -> list[tuple[int, int]]:
        return [(self.init_pid, self.init_start), (self.launcher_pid, self.launcher_start)]


def network_dir(state_dir: Path, network_name: str) -> Path:
    return state_dir / network_name


def host_dir(state_dir: Path, network_name: str, host: str) -> Path:
    return state_dir / network_name / "hosts" / host


def make_private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def write_json(path: Path, data: dict[str, object]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out, indent=1, sort_keys=True)
    os.replace(tmp, path)


def load_record(path: Path) -> HostRecord | None:
    try:
        data = json.loads((path / "record.json").read_text())
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None
    fields = {a.name for a in attrs.fields(HostRecord)}
    return HostRecord(**{k: v for k, v in data.items() if k in fields})


def save_record(path: Path, record: HostRecord) -> None:
    write_json(path / "record.json", attrs.asdict(record))


def load_records(state_dir: Path, network_name: str) -> dict[str, HostRecord]:
    hosts = network_dir(state_dir, network_name) / "hosts"
    records: dict[str, HostRecord] = {}
    if hosts.is_dir():
        for child in sorted(hosts.iterdir()):
            record = load_record(child)
            if record is not None:
                records[record.name] = record
    return records


@contextlib.contextmanager
def network_lock(state_dir: Path, network_name: str) -> Iterator[None]:
    """Hold the network's lock: one creator/destroyer at a time, across processes."""
    directory = make_private_dir(network_dir(state_dir, network_name))
    fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def plumb(network: LocalNetwork, record: HostRecord) -> None:
    """Create the host's netns and veth pair (``eth0`` inside), address and routes."""
    prefix = network.network.prefixlen
    run(["ip", "netns", "add", record.netns], what=f"creating netns {record.netns}")
    run(
        ["ip", "-batch", "-"],
        what=f"creating veth for {record.name}",
        input_text=(
            f"link add {record.veth} type veth peer name eth0"
            f" address {network.mac(record.address)} netns {record.netns}\n"
            f'link set {record.veth} alias "{network.host_alias(record.name)}"\n'
            f"link set {record.veth} master {network.bridge}\n"
            f"link set {record.veth} up\n"
        ),
    )
    # A default route via the bridge: nothing is forwarded beyond it, but software that picks
    # "the interface with the default route" (k3s, kubelet) then finds eth0.
    run(
        ["ip", "-n", record.netns, "-batch", "-"],
        what=f"configuring eth0 of {record.name}",
        input_text=(
            "link set lo up\n"
            f"addr add {record.address}/{prefix} dev eth0\n"
            "link set eth0 up\n"
            f"route add default via {network.gateway}\n"
        ),
    )


def unplumb(records: Sequence[HostRecord]) -> None:
    """Delete veths and netns of ``records`` (missing ones are fine), then verify they are gone."""
    if not records:
        return
    lines = [f"link del {r.veth}" for r in records] + [f"netns del {r.netns}" for r in records]
    run(
        ["ip", "-force", "-batch", "-"],
        what="removing host network namespaces",
        input_text="\n".join(lines) + "\n",
        ok_errors=("Cannot find device", "No such file or directory"),
    )
    left = set(run(["ip", "netns", "list"], what="listing netns").split())
    stuck = [r.netns for r in records if r.netns in left]
    if stuck:
        raise ProviderError(
            f"network namespaces still present after removal: {', '.join(stuck)}",
            hint="something still holds them (`ip netns pids NAME`); stop it and retry",
            provider=PROVIDER,
        )


def stop(records: Sequence[HostRecord]) -> None:
    """Kill each host's PID 1 (which ends its whole pid namespace) and reap our launchers.

    Whatever else still runs inside a host's netns (a host whose PID 1 was never recorded, e.g.
    its creator was killed mid-way) is killed too, so deleting the netns cannot orphan it.
    """
    # PID 1 first: its launcher (`unshare`, its parent) then reaps it and exits by itself. Killing
    # the launcher first would orphan PID 1, and an orphan's zombie is left to the machine's init.
    kill_and_wait([(r.init_pid, r.init_start) for r in records if r.init_pid > 0])
    launchers = [(r.launcher_pid, r.launcher_start) for r in records if r.launcher_pid > 0]
    deadline = time.monotonic() + 2
    while any(is_alive(*p) for p in launchers) and time.monotonic() < deadline:
        time.sleep(0.01)
    existing = set(run(["ip", "netns", "list"], what="listing netns").split())
    for record in records:
        if record.netns in existing:
            kill_netns_processes(record.netns)
    kill_and_wait(launchers)
    for record in records:
        reap(record.launcher_pid)


def netns_busy(netns: str) -> bool:
    """Whether network namespace ``netns`` exists and a process runs in it."""
    if not (Path("/run/netns") / netns).exists():
        return False
    out = run(
        ["ip", "netns", "pids", netns],
        what=f"listing processes in {netns}",
        ok_errors=("No such file or directory", "Invalid argument"),
    )
    return any(p.isdigit() and process_start_time(int(p)) for p in out.split())


def kill_netns_processes(netns: str) -> None:
    """SIGKILL every process whose network namespace is ``netns`` and wait for them."""
    out = run(
        ["ip", "netns", "pids", netns],
        what=f"listing processes in {netns}",
        ok_errors=("No such file or directory", "Invalid argument"),
    )
    found = [(int(p), process_start_time(int(p)) or 0) for p in out.split() if p.isdigit()]
    kill_and_wait([p for p in found if p[1]])


def spawn_detached(argv: Sequence[str], log_path: Path) -> int:
    """Start ``argv`` in its own session with stdin=/dev/null, output to ``log_path`` (0600) and
    no other inherited descriptors, so it outlives us and never holds a caller's pipe open.

    The child stays our child (not double-forked) so that destroying it from this process can
    reap it; after we exit, the machine's init adopts it.
    """
    executable = which(argv[0]) or argv[0]
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    null_fd = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
    actions: list[tuple[int, ...]] = [
        (os.POSIX_SPAWN_DUP2, null_fd, 0),
        (os.POSIX_SPAWN_DUP2, log_fd, 1),
        (os.POSIX_SPAWN_DUP2, log_fd, 2),
    ]
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in (log_fd, null_fd):
            with contextlib.suppress(OSError):
                if os.get_inheritable(fd):
                    actions.append((os.POSIX_SPAWN_CLOSE, fd))
    try:
        return os.posix_spawn(executable, list(argv), HOST_ENV, file_actions=actions, setsid=True)
    finally:
        os.close(log_fd)
        os.close(null_fd)


def log_tail(log_path: Path, lines: int = 8) -> str:
    try:
        text = log_path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no output)"
    return "\n".join(text.rstrip().splitlines()[-lines:]) or "(no output)"


def wait_for_ssh(record: HostRecord, log_path: Path, deadline: float) -> None:
    """Wait until the host's sshd answers with its banner on address:port."""
    while True:
        try:
            with socket.create_connection((record.address, record.port), timeout=0.5) as conn:
                conn.settimeout(2)
                if conn.recv(8).startswith(b"SSH-"):
                    return
        except OSError:
            pass
        if record.launcher_pid and not is_alive(record.launcher_pid, record.launcher_start):
            raise ProviderError(
                f"local host {record.name} stopped while booting:\n{log_tail(log_path)}",
                hint=f"full output in {log_path}",
                provider=PROVIDER,
            )
        if time.monotonic() > deadline:
            raise ProviderError(
                f"local host {record.name} did not answer SSH on {record.address}:{record.port}"
                f" in time:\n{log_tail(log_path)}",
                hint=f"full output in {log_path}; the machine may be overloaded (lower parallel)",
                provider=PROVIDER,
            )
        time.sleep(0.02)


def remove_tree(path: Path) -> None:
    """Remove a host's directory; overlay work dirs contain 0000 directories, root copes."""
    shutil.rmtree(path, ignore_errors=True)
    if path.exists():
        raise ProviderError(
            f"could not remove {path}",
            hint="a mount may still use it (`grep sloth /proc/*/mountinfo`); retry after that",
            provider=PROVIDER,
        )
