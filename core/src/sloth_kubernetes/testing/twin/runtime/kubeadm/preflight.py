"""kubeadm's preflight checks, as v1.31 runs them before ``init`` and ``join``.

From kubernetes/kubernetes ``cmd/kubeadm/app/preflight/checks.go`` and ``checks_linux.go``
(stored copies 00b6a4c / 039c72e, the v1.31 to v1.32 line; ``bridge-nf-call-iptables`` is no
longer checked since v1.30, kubernetes/kubernetes#123464):

* errors: not root; fewer than 2 CPUs or less than 1700 MB of memory (control plane); a port
  in use (API bindPort, 10259, 10257, 10250, etcd 2379/2380); a static pod manifest already in
  ``/etc/kubernetes/manifests``; a non-empty etcd data directory; ``/proc/sys/net/ipv4/ip_forward``
  not ``1``; no container runtime answering on the CRI socket; a missing ``conntrack``, ``ip``,
  ``iptables``, ``mount`` or ``nsenter``; a kubelet newer than the control plane; ``join``: an
  existing ``kubelet.conf``/``bootstrap-kubelet.conf``, and for workers ``pki/ca.crt``;
* warnings: swap on (the *kubelet* refuses it, so ``init`` then fails waiting for it), the
  kubelet service not enabled, optional tools missing.

Not run here: the system verification (kernel config, cgroups), the hostname lookup and the
image pull (no registry is reachable: the twin runs no images). A failure prints kubeadm's own
lines (``[ERROR Name]: …``) and exits 1; ``--ignore-preflight-errors`` is not supported.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable

from . import constants as c

Problem = tuple[str, str]  # (check name, message)


class PreflightFailed(Exception):
    pass


def _port(port: int) -> Problem | None:
    probe = socket.socket(socket.AF_INET6 if socket.has_ipv6 else socket.AF_INET)
    try:
        probe.bind(("", port))
    except OSError:
        return f"Port-{port}", f"Port {port} is in use"
    finally:
        probe.close()
    return None


def _file_available(path: str) -> Problem | None:
    if os.path.exists(path):
        return f"FileAvailable-{path.replace('/', '-')}", f"{path} already exists"
    return None


def _dir_available(path: str) -> Problem | None:
    if os.path.isdir(path) and os.listdir(path):
        return f"DirAvailable-{path.replace('/', '-')}", f"{path} is not empty"
    return None


def _ip_forward() -> Problem | None:
    path = "/proc/sys/net/ipv4/ip_forward"
    name = f"FileContent-{path.replace('/', '-')}"
    try:
        with open(path, encoding="utf-8") as handle:
            content = handle.read(1)
    except OSError:
        return name, f"{path} does not exist"
    return None if content == "1" else (name, f"{path} contents are not set to 1")


def _cri(socket_url: str) -> Problem | None:
    path = socket_url.removeprefix("unix://")
    probe = socket.socket(socket.AF_UNIX)
    probe.settimeout(2)
    try:
        probe.connect(path)
    except OSError as error:
        return "CRI", (
            'container runtime is not running: output: time="" level=fatal msg="validate '
            f'service connection: validate CRI v1 runtime API for endpoint \\"{socket_url}\\": '
            f"rpc error: code = Unavailable desc = connection error: dial unix {path}: "
            f'connect: {error.strerror or error}"\n, error: exit status 1'
        )
    finally:
        probe.close()
    return None


def _resources() -> list[Problem]:
    problems = []
    cpus = os.cpu_count() or 1
    if cpus < c.CONTROL_PLANE_CPUS:
        problems.append(("NumCPU", f"the number of available CPUs {cpus} is less than the "
                                   f"required {c.CONTROL_PLANE_CPUS}"))  # fmt: skip
    with open("/proc/meminfo", encoding="utf-8") as handle:
        total_kb = int(handle.readline().split()[1])
    if total_kb // 1024 < c.CONTROL_PLANE_MEMORY:
        problems.append(("Mem", f"the system RAM ({total_kb // 1024} MB) is less than the "
                                f"minimum {c.CONTROL_PLANE_MEMORY} MB"))  # fmt: skip
    return problems


def _tools(warnings: list[Problem]) -> list[Problem]:
    problems = []
    for tool in ("conntrack", "ip", "iptables", "mount", "nsenter"):  # conntrack: before v1.32
        if shutil.which(tool) is None:
            problems.append((f"FileExisting-{tool}", f"{tool} not found in system path"))
    for tool in ("ebtables", "ethtool", "socat", "tc", "touch"):
        if shutil.which(tool) is None:
            warnings.append((f"FileExisting-{tool}", f"{tool} not found in system path"))
    return problems


def _swap(warnings: list[Problem]) -> None:
    try:
        with open("/proc/swaps", encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return
    if len(lines) > 1:
        warnings.append(("Swap", "swap is supported for cgroup v2 only. The kubelet must be "
                         "properly configured to use swap. Please refer to https://kubernetes.io/"
                         "docs/concepts/architecture/nodes/#swap-memory, or disable swap on the "
                         "node"))  # fmt: skip


def _kubelet_service(warnings: list[Problem]) -> None:
    enabled = subprocess.run(["systemctl", "is-enabled", "kubelet"], capture_output=True,
                             text=True, check=False)  # fmt: skip
    if enabled.stdout.strip() != "enabled":
        warnings.append(("Service-Kubelet", "kubelet service is not enabled, please run "
                                            "'systemctl enable kubelet.service'"))  # fmt: skip


def _common(cri_socket: str, warnings: list[Problem]) -> list[Problem]:
    problems = [p for p in [_cri(cri_socket)] if p]
    _swap(warnings)
    problems += _tools(warnings)
    _kubelet_service(warnings)
    problems += [p for p in [_port(c.KUBELET_PORT), _ip_forward()] if p]
    return problems


def control_plane(cri_socket: str, bind_port: int, etcd_dir: str, *, secondary: bool) -> None:
    """``RunInitNodeChecks`` (``secondary``: a control-plane node joining)."""
    warnings: list[Problem] = []
    checks: list[Callable[[], Problem | None]] = [
        lambda: _port(bind_port),
        lambda: _port(c.SCHEDULER_PORT),
        lambda: _port(c.CONTROLLER_MANAGER_PORT),
        *[
            (lambda p=f"{c.MANIFESTS}/{name}.yaml": _file_available(p))
            for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd")
        ],
    ]
    problems = _resources() + [p for p in (check() for check in checks) if p]
    if not secondary:
        problems += _common(cri_socket, warnings)
    problems += [p for p in (_port(c.ETCD_CLIENT_PORT), _port(c.ETCD_PEER_PORT),
                             _dir_available(etcd_dir)) if p]  # fmt: skip
    _report(problems, warnings)


def join(cri_socket: str, *, worker: bool, ca_path: str) -> None:
    """``RunJoinNodeChecks``."""
    warnings: list[Problem] = []
    problems = [p for p in (_file_available(c.KUBELET_CONF),
                            _file_available(c.BOOTSTRAP_KUBELET_CONF)) if p]  # fmt: skip
    problems += _common(cri_socket, warnings)
    if worker:
        problems += [p for p in [_file_available(ca_path)] if p]
    _report(problems, warnings)


def _report(problems: list[Problem], warnings: list[Problem]) -> None:
    print("[preflight] Running pre-flight checks", flush=True)
    for name, message in warnings:
        print(f"\t[WARNING {name}]: {message}", file=sys.stderr)
    if os.geteuid() != 0:
        problems.insert(0, ("IsPrivilegedUser", "user is not running as root"))
    if problems:
        lines = "".join(f"\t[ERROR {name}]: {message}\n" for name, message in problems)
        print("[preflight] Some fatal errors occurred:\n" + lines + "[preflight] If you know "
              "what you are doing, you can make a check non-fatal with "
              "`--ignore-preflight-errors=...`", file=sys.stderr)  # fmt: skip
        raise PreflightFailed("preflight checks failed")
