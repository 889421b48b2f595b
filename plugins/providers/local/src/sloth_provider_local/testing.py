"""pytest plugin: real local hosts for tests (``local_hosts`` fixture factory).

Usage::

    @pytest.mark.hosts
    def test_something(local_hosts):
        a, b = local_hosts(2)                      # mode="fast" by default
        assert a.run("hostname").stdout.strip() == a.name

Each test gets its own network (bridge + free /24 from 10.251.0.0/16 — never the default
10.251.0.0/24, which `make demo` and a cluster without a cidr use), its own operator ed25519
key pair and a known_hosts file pinning every host key; everything is destroyed after the test,
even when it fails. Runs that crashed earlier are swept at first use (their owner process is gone).
The fixture skips, saying why, when not running as root on Linux.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import os
import re
import secrets
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import attrs
import pytest
from sloth_kubernetes.plugin import ProviderError

from ._runtime import network_lock, write_json
from ._system import is_alive, process_start_time, run
from .hosts import LocalHost, create_hosts, destroy_hosts, known_hosts_lines, list_hosts, sweep
from .network import ALIAS_PREFIX, NETNS_PREFIX, LocalNetwork, check_no_overlap, ensure_bridge
from .plugin import DEFAULT_CIDR
from .rootfs import PRELOADED

TEST_PREFIX = "slt"
TEST_RANGE = ipaddress.ip_network("10.251.0.0/16")
STATE_DIR = Path(tempfile.gettempdir()) / "sloth-local-test-hosts"
_run_id = secrets.token_hex(3)
_counter = itertools.count(1)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "hosts: needs root and Linux network namespaces")


@attrs.frozen
class HostHandle:
    """A test's view of one local host: where it is and how to reach it over pinned SSH."""

    name: str
    address: str
    port: int
    known_hosts: Path
    private_key: Path
    host: LocalHost

    def ssh_argv(self, command: str) -> list[str]:
        """argv for the system ssh client, strict host key checking against ``known_hosts``."""
        return [
            "ssh", "-i", str(self.private_key), "-p", str(self.port),
            "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={self.known_hosts}",
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=10",
            "-o", "LogLevel=ERROR",
            f"root@{self.address}", command,
        ]  # fmt: skip

    def run(
        self, command: str, *, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run ``command`` on the host over SSH; raise AssertionError with output on failure."""
        done = subprocess.run(
            self.ssh_argv(command), capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"`{command}` on {self.name} exited {done.returncode}:\n{done.stdout}{done.stderr}"
            )
        return done


class LocalHostsFactory:
    """Creates hosts for one test; ``factory(n, mode=...)`` may be called several times."""

    def __init__(self, workdir: Path) -> None:
        self.state_dir = STATE_DIR
        self.workdir = workdir
        self.private_key = workdir / "id_ed25519"
        self.known_hosts = workdir / "known_hosts"
        self.network: LocalNetwork | None = None
        self.networks: list[LocalNetwork] = []
        self.handles: list[HostHandle] = []
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "sloth-test-operator",
             "-f", str(self.private_key)],
            check=True, capture_output=True,
        )  # fmt: skip
        self.public_key = self.private_key.with_suffix(".pub").read_text().strip()

    def __call__(
        self,
        count: int,
        *,
        mode: str = "fast",
        names: list[str] | None = None,
        image: str | None = None,
        packages: Sequence[str] = (),
    ) -> list[HostHandle]:
        """``count`` new hosts. Systemd mode: ``image`` defaults to the **preloaded** (non-stock)
        image, whose hosts already have what the tool installs — right for tests about
        something else (distro twins, boot, supervision). Tests about what a fresh cloud machine
        lacks pass ``image=rootfs.STOCK`` and the ``packages`` its repository serves."""
        network = self.network or self._new_network()
        first = len(self.handles) + 1
        names = names or [f"h{i}" for i in range(first, first + count)]
        if mode == "systemd" and image is None:
            image = PRELOADED
        hosts = create_hosts(
            network, names, authorized_key=self.public_key, state_dir=self.state_dir, mode=mode,
            image=image, packages=packages,
        )  # fmt: skip
        self.refresh_known_hosts()
        created = [self.handle(h) for h in hosts]
        self.handles += created
        return created

    def handle(self, host: LocalHost) -> HostHandle:
        return HostHandle(
            host.name, host.address, host.port, self.known_hosts, self.private_key, host
        )

    def refresh_known_hosts(self) -> None:
        """Rewrite known_hosts from the hosts' *recorded* keys (what an operator would pin)."""
        assert self.network is not None
        hosts = list_hosts(self.network, state_dir=self.state_dir)
        self.known_hosts.write_text(known_hosts_lines(hosts))
        os.chmod(self.known_hosts, 0o600)

    def _new_network(self) -> LocalNetwork:
        self.network = self.extra_network()
        return self.network

    def extra_network(self) -> LocalNetwork:
        """Claim another free network (its bridge exists, no hosts); swept at teardown."""
        name = f"{TEST_PREFIX}{_run_id}-{next(_counter):03d}"  # fixed width: prefix-safe
        STATE_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Concurrent pytest sessions pick CIDRs under one lock; the bridge claims it at once.
        with network_lock(STATE_DIR, ".cidr"):
            for subnet in TEST_RANGE.subnets(new_prefix=24):
                if subnet == ipaddress.ip_network(DEFAULT_CIDR):
                    continue  # a demo cluster may be up while the tests run
                network = LocalNetwork(name, str(subnet))
                try:
                    check_no_overlap(network)
                except ProviderError:  # taken: try the next one
                    continue
                ensure_bridge(network)
                break
            else:
                pytest.fail(f"no free /24 left in {TEST_RANGE} for test hosts")
        self.networks.append(network)
        return network

    def teardown(self) -> None:
        try:
            if self.network is not None:
                names = [h.name for h in list_hosts(self.network, state_dir=self.state_dir)]
                destroy_hosts(self.network, names, state_dir=self.state_dir)
        finally:
            for network in self.networks:  # also whatever a test made outside the factory
                sweep(network.name, state_dir=self.state_dir)


def _owner_file(run_id: str) -> Path:
    return STATE_DIR / f".run-{run_id}.json"


def _run_id_of(rest: str) -> str:
    return re.split(r"[-:]", rest, maxsplit=1)[0]


def _run_is_live(run_id: str) -> bool:
    if run_id == _run_id:
        return True
    try:
        data = json.loads(_owner_file(run_id).read_text())
        return is_alive(int(data["pid"]), int(data["start"]))
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _sweep_stale_runs() -> None:
    """Remove leftovers of test runs whose pytest process is gone (crashed or killed).

    A run writes its owner file before it creates anything, so a run id seen on the machine
    without a live owner (checked at decision time) is stale.
    """
    seen: set[str] = set()
    for directory in STATE_DIR.iterdir():
        if directory.name.startswith(TEST_PREFIX):
            seen.add(_run_id_of(directory.name[len(TEST_PREFIX) :]))
    for namespace in run(["ip", "netns", "list"], what="listing netns").split():
        if namespace.startswith(NETNS_PREFIX + TEST_PREFIX):
            seen.add(_run_id_of(namespace[len(NETNS_PREFIX + TEST_PREFIX) :]))
    links = json.loads(run(["ip", "-j", "link", "show"], what="listing links") or "[]")
    for link in links:
        alias = str(link.get("ifalias", ""))
        if alias.startswith(ALIAS_PREFIX + TEST_PREFIX):
            seen.add(_run_id_of(alias[len(ALIAS_PREFIX + TEST_PREFIX) :]))
    for owner in STATE_DIR.glob(".run-*.json"):
        seen.add(owner.name[len(".run-") : -len(".json")])
    for run_id in sorted(seen):
        if not _run_is_live(run_id):
            sweep(f"{TEST_PREFIX}{run_id}-", state_dir=STATE_DIR)
            _owner_file(run_id).unlink(missing_ok=True)


@pytest.fixture(scope="session")
def _local_hosts_session() -> Iterator[str | None]:
    """Session setup: the reason hosts cannot run here (or None), stale-run sweep, owner file."""
    if not hasattr(os, "geteuid") or os.uname().sysname != "Linux":
        yield "local test hosts need Linux network namespaces"
        return
    if os.geteuid() != 0:
        yield "local test hosts need root (network namespaces, bridges, mounts)"
        return
    STATE_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_json(_owner_file(_run_id), {"pid": os.getpid(), "start": process_start_time(os.getpid())})
    _sweep_stale_runs()
    try:
        yield None
    finally:
        _owner_file(_run_id).unlink(missing_ok=True)


@pytest.fixture
def local_hosts(
    _local_hosts_session: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalHostsFactory]:
    """Factory creating real local hosts for this test; all destroyed at teardown."""
    if _local_hosts_session is not None:
        pytest.skip(_local_hosts_session)
    factory = LocalHostsFactory(tmp_path_factory.mktemp("local-hosts"))
    try:
        yield factory
    finally:
        factory.teardown()
