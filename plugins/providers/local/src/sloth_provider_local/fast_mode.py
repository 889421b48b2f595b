"""Fast mode: the machine's own filesystem under per-host overlays, tini + sshd as the only
processes. ~0.1 s per host; no systemd, no cgroups.

The host's files are prepared in the overlay *upper* layers before it starts (sshd config, host
key, hostname, machine-id), so the init script only mounts and execs.
"""

from __future__ import annotations

import os
import secrets
import stat
import time
from importlib import resources
from pathlib import Path

from sloth_kubernetes.plugin import ProviderError

from ._runtime import HostRecord, make_private_dir, spawn_detached, wait_for_ssh
from ._system import FAST_TOOLS, PROVIDER, process_start_time, require_tools
from .keys import write_private

OVERLAY_DIRS = ("etc", "var", "usr", "opt", "home", "srv")
TOOLS = FAST_TOOLS

SSHD_CONFIG = """\
# Written by sloth-kubernetes (local provider). Root by key only.
Port {port}
ListenAddress {address}
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AuthorizedKeysFile .ssh/authorized_keys
PidFile /run/sshd.pid
PrintMotd no
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
# many parallel connections from one operator (pyinfra) are normal
MaxStartups 200:30:400
MaxSessions 64
"""


def _whiteout(path: Path) -> None:
    """Hide a lower-layer file from the host (overlayfs whiteout: a 0/0 character device)."""
    if not path.exists() and not path.is_symlink():
        os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))


def prepare_files(host_dir: Path, record: HostRecord, public_key: str, authorized_key: str) -> None:
    """Lay out upper/work dirs and the files a host needs before its first (or next) boot."""
    for name in OVERLAY_DIRS:
        for part in ("upper", "work"):
            (host_dir / "ovl" / name / part).mkdir(parents=True, exist_ok=True)
    etc = host_dir / "ovl" / "etc" / "upper"
    ssh = etc / "ssh"
    ssh.mkdir(mode=0o755, exist_ok=True)
    key_source = host_dir / "ssh_host_ed25519_key"
    write_private(ssh / "ssh_host_ed25519_key", key_source.read_bytes())
    (ssh / "ssh_host_ed25519_key.pub").write_text(public_key + "\n")
    # The machine's other host keys must not be readable inside the host (or offered by it).
    for lower in Path("/etc/ssh").glob("ssh_host_*"):
        if not lower.name.startswith("ssh_host_ed25519_key"):
            _whiteout(ssh / lower.name)
    (ssh / "sshd_config").write_text(SSHD_CONFIG.format(port=record.port, address=record.address))
    (etc / "hostname").write_text(record.name + "\n")
    (etc / "hosts").write_text(
        f"127.0.0.1\tlocalhost\n{record.address}\t{record.name}\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
    )
    machine_id = etc / "machine-id"
    if not machine_id.exists():  # stable across restarts, unique per host
        machine_id.write_text(secrets.token_hex(16) + "\n")
    _unlock_root(etc)
    root = make_private_dir(host_dir / "root")
    dot_ssh = make_private_dir(root / ".ssh")
    write_private(dot_ssh / "authorized_keys", (authorized_key.strip() + "\n").encode())


def _unlock_root(etc_upper: Path) -> None:
    """sshd without PAM refuses accounts whose password starts with '!' (locked); key login
    needs root unlocked, so give the host a shadow file where root has no password at all."""
    target = etc_upper / "shadow"
    if target.exists():
        return
    try:
        lines = Path("/etc/shadow").read_text().splitlines()
    except FileNotFoundError:
        return
    if not any(line.startswith("root:!") for line in lines):
        return
    fixed = [
        "root:*:" + line.split(":", 2)[2] if line.startswith("root:!") else line for line in lines
    ]
    write_private(target, ("\n".join(fixed) + "\n").encode())


def init_script() -> Path:
    return Path(str(resources.files(__package__).joinpath("hostinit.sh")))


def check_tools() -> None:
    require_tools(TOOLS)


def spawn(host_dir: Path, record: HostRecord, state_dir: Path) -> None:
    """Start the host detached; fills in the launcher pid. PID 1 is read after readiness."""
    (host_dir / "init.pid").unlink(missing_ok=True)
    argv = [
        "ip", "netns", "exec", record.netns,
        "unshare", "--mount", "--uts", "--pid", "--fork", "--propagation", "private",
        "/bin/sh", str(init_script()), record.name, str(host_dir), str(state_dir),
    ]  # fmt: skip
    record.launcher_pid = spawn_detached(argv, host_dir / "console.log")
    record.launcher_start = process_start_time(record.launcher_pid) or 0


def read_init_pid(host_dir: Path, record: HostRecord) -> None:
    """Fill in PID 1's machine-side pid (written by the init script before it hid the state)."""
    deadline = time.monotonic() + 5
    while True:
        try:
            pid = int((host_dir / "init.pid").read_text())
        except (FileNotFoundError, ValueError):
            pid = 0
        start = process_start_time(pid) if pid else None
        if start is not None:
            record.init_pid, record.init_start = pid, start
            return
        if time.monotonic() > deadline:
            raise ProviderError(
                f"local host {record.name} started but its PID 1 is not visible",
                hint=f"see {host_dir / 'console.log'}",
                provider=PROVIDER,
            )
        time.sleep(0.01)


def wait_ready(host_dir: Path, record: HostRecord, deadline: float) -> None:
    """The host is ready when its sshd answers."""
    wait_for_ssh(record, host_dir / "console.log", deadline)
