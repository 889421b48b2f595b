"""Minimal network-namespace "hosts" for the real-tunnel test of this plugin.

Each host is a netns on a shared bridge, plus a supervised anchor process (``sleep``) living in
its own mount namespace with private tmpfs on /run/wireguard (wireguard-go's control sockets) and
/etc/wireguard (keys, configs). Commands run inside with ``nsenter`` into the anchor, exactly as a
remote shell would run them. Everything is named ``slwgt-<runid>…`` and swept at start, so a
crashed run never breaks the next. (The project's real test hosts live in the ``local`` provider;
this lab is deliberately tiny and only what the WireGuard test needs.)
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import time

import attrs

PREFIX = "slwgt-"
UNDERLAY = "10.252.77"  # /24 on the lab bridge; only exists inside the lab's namespaces


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True, timeout=30)


def _netns_pids(namespace: str) -> list[int]:
    result = _ip("netns", "pids", namespace, check=False)
    return [int(pid) for pid in result.stdout.split()]


def _kill_namespace(namespace: str) -> None:
    for pid in _netns_pids(namespace):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _ip("netns", "del", namespace, check=False)


def sweep() -> None:
    """Remove every lab namespace and link left by any earlier run."""
    for line in _ip("netns", "list").stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith(PREFIX):
            _kill_namespace(name)
    for line in _ip("-o", "link", "show").stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        if name.startswith(PREFIX):
            _ip("link", "del", name, check=False)


@attrs.define
class LabHost:
    name: str
    namespace: str
    underlay_address: str
    anchor: subprocess.Popen[bytes]

    def run(self, script: str, *, stdin: str | None = None, timeout: float = 30) -> str:
        """Run ``sh -c script`` inside the host; raise with its stderr on failure."""
        result = subprocess.run(
            ["nsenter", "-t", str(self.anchor.pid), "-m", "-n", "--", "sh", "-c", script],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"{self.name}: exit {result.returncode} for {script!r}\n{result.stderr}"
            )
        return result.stdout

    def start(self, argv: list[str]) -> subprocess.Popen[str]:
        """Start a long-running command inside the host (caller waits for it)."""
        return subprocess.Popen(
            ["nsenter", "-t", str(self.anchor.pid), "-m", "-n", "--", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


class Lab:
    """A bridge and a few hosts; use as a context manager (teardown even on failure)."""

    def __init__(self, bridge: str | None = None, *, prefix_length: int = 24) -> None:
        """A lab on its own bridge, or (``bridge``) attached to an existing one, e.g. a local
        cluster's, to play an operator's laptop next to real nodes."""
        self.run_id = secrets.token_hex(2)
        self.prefix = f"{PREFIX}{self.run_id}"
        self.own_bridge = bridge is None
        self.bridge = bridge or f"{self.prefix}br"
        self.prefix_length = prefix_length
        self.hosts: list[LabHost] = []

    def __enter__(self) -> Lab:
        sweep()
        os.makedirs("/run/wireguard", exist_ok=True)  # mount points for the private tmpfs
        os.makedirs("/etc/wireguard", exist_ok=True)
        if self.own_bridge:
            _ip("link", "add", self.bridge, "type", "bridge")
            _ip("link", "set", self.bridge, "up")
        return self

    def add_host(self, address: str | None = None) -> LabHost:
        number = len(self.hosts) + 1
        namespace = f"{self.prefix}-h{number}"
        outside, inside = f"{self.prefix}v{number}", f"{self.prefix}i{number}"
        address = address or f"{UNDERLAY}.{10 + number}"
        _ip("netns", "add", namespace)
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", outside, "master", self.bridge, "up")
        _ip("link", "set", inside, "netns", namespace)
        _ip("-n", namespace, "link", "set", inside, "name", "eth0")
        _ip("-n", namespace, "address", "add", f"{address}/{self.prefix_length}", "dev", "eth0")
        _ip("-n", namespace, "link", "set", "eth0", "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        setup = (
            "mount -t tmpfs -o mode=0700 tmpfs /run/wireguard && "
            "mount -t tmpfs -o mode=0700 tmpfs /etc/wireguard && exec sleep 3600"
        )
        anchor = subprocess.Popen(
            [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "--",
                "ip",
                "netns",
                "exec",
                namespace,
                "sh",
                "-c",
                setup,
            ],
        )
        host = LabHost(f"h{number}", namespace, address, anchor)
        self.hosts.append(host)
        deadline = time.monotonic() + 10
        while True:  # wait until the private mounts are in place
            try:
                host.run("mountpoint -q /etc/wireguard")
                break
            except AssertionError:
                if time.monotonic() > deadline or anchor.poll() is not None:
                    raise
                time.sleep(0.05)
        return host

    def __exit__(self, *exc: object) -> None:
        for host in self.hosts:
            _kill_namespace(host.namespace)  # kills the anchor and the detached wireguard-go
            if host.anchor.poll() is None:
                host.anchor.kill()
            host.anchor.wait(timeout=10)
        if self.own_bridge:
            _ip("link", "del", self.bridge, check=False)
        sweep()
