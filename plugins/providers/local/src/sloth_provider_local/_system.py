"""Small wrappers over the machine: privileged commands, tool checks, process identity.

Everything here runs on the operator's machine (never inside a host). Commands are argv lists,
never shell strings, and carry no secrets.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import time
from collections.abc import Sequence

from sloth_kubernetes.plugin import ProviderError

PROVIDER = "local"

#: tool -> Debian package that ships it (named in the error when the tool is missing).
FAST_TOOLS = {
    "ip": "iproute2",
    "unshare": "util-linux",
    "setpriv": "util-linux",
    "mount": "mount",
    "tini": "tini",
    "sshd": "openssh-server",
}

_SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def which(tool: str) -> str | None:
    """Find ``tool`` on PATH plus the sbin directories (root's PATH is not always complete)."""
    return shutil.which(tool, path=os.environ.get("PATH", "") + ":" + _SEARCH_PATH)


def require_linux_root() -> None:
    """Refuse early, with a hint, on a machine that cannot run local hosts."""
    if not os.uname().sysname == "Linux":
        raise ProviderError(
            "local hosts need Linux network namespaces",
            hint="use a Linux machine (or VM) for the local provider",
            provider=PROVIDER,
        )
    if os.geteuid() != 0:
        raise ProviderError(
            "local hosts need root (network namespaces, bridges and mounts are privileged)",
            hint="run the command as root, e.g. with sudo",
            provider=PROVIDER,
        )


def require_tools(tools: dict[str, str]) -> dict[str, str]:
    """Return tool -> absolute path, or raise naming every missing tool and its package."""
    found: dict[str, str] = {}
    missing: list[str] = []
    for tool, package in tools.items():
        path = which(tool)
        if path is None:
            missing.append(f"{tool} (Debian package {package})")
        else:
            found[tool] = path
    if missing:
        packages = sorted({tools[m.split()[0]] for m in missing})
        raise ProviderError(
            "missing tools for local hosts: " + ", ".join(missing),
            hint="install them: apt-get install -y " + " ".join(packages),
            provider=PROVIDER,
        )
    return found


def run(
    argv: Sequence[str],
    *,
    what: str,
    input_text: str | None = None,
    ok_errors: Sequence[str] = (),
    timeout: float = 60,
) -> str:
    """Run a machine command; return stdout. Stderr containing one of ``ok_errors`` is success."""
    try:
        done = subprocess.run(
            list(argv),
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as error:
        raise ProviderError(
            f"{what}: {argv[0]} not found", hint="install iproute2/util-linux", provider=PROVIDER
        ) from error
    except subprocess.TimeoutExpired as error:
        raise ProviderError(
            f"{what}: `{' '.join(argv[:3])} …` did not finish in {timeout:.0f} s",
            hint="the machine may be overloaded; retry",
            provider=PROVIDER,
        ) from error
    if done.returncode != 0 and not any(e in done.stderr for e in ok_errors):
        detail = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        raise ProviderError(
            f"{what} failed: {detail[0]}",
            hint=f"command was: {' '.join(argv)}",
            provider=PROVIDER,
        )
    return done.stdout


def process_start_time(pid: int) -> int | None:
    """The kernel start time of ``pid`` (clock ticks since boot), or None if it is gone/zombie.

    Recorded next to every pid so a recycled pid is never mistaken for our host.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as stat:
            text = stat.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()
    state, start = fields[0], fields[19]
    if state in ("Z", "X"):
        return None
    return int(start)


def is_alive(pid: int, start_time: int) -> bool:
    """True when ``pid`` is running and is the same process that was recorded."""
    return pid > 0 and process_start_time(pid) == start_time


def kill_and_wait(pids: Sequence[tuple[int, int]], *, timeout: float = 10) -> None:
    """SIGKILL each (pid, start_time) still alive, then wait until all are gone."""
    for pid, start in pids:
        if is_alive(pid, start):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
    deadline = time.monotonic() + timeout
    while any(is_alive(pid, start) for pid, start in pids):
        if time.monotonic() > deadline:
            raise ProviderError(
                "host processes did not exit after SIGKILL",
                hint="check `ps` for processes stuck in D state, then retry",
                provider=PROVIDER,
            )
        time.sleep(0.01)


def reap(pid: int) -> None:
    """Collect the exit status of ``pid`` if it is our child, so it does not stay a zombie.

    Only the process that started a host (or a subreaper above it) can do this; a host destroyed
    from another process leaves its launcher to the machine's init, which normally reaps it.
    """
    if pid <= 0:
        return
    deadline = time.monotonic() + 2
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        except OSError as error:  # pragma: no cover - defensive
            if error.errno == errno.EINTR:
                continue
            return
        if done or time.monotonic() > deadline:
            return
        time.sleep(0.01)
