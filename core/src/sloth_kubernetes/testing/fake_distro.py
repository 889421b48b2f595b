"""A FAKE distribution binary (``fake_distro.sh``) for testing distro plugins on real test hosts.

No K3s or RKE2 binary can be had on a test machine, so the distro phase is tested against a fake
that is as strict as the real one about what the tool controls (arguments, config file keys and
value types from the plugin's ``flags.yaml``, registration port, token) and writes what the real
one writes (node token, admin kubeconfig, kubectl). It reaches the hosts the way a real release
does: :func:`fake_bundle` writes a release bundle with its checksum file, ``artifacts import``
puts it in the operator's cache, and the distro phase uploads it.

On every host the fake records in :data:`RECORDS`: ``invocations.log`` (every call and start,
with a hash prefix of the token, never the token) and, on the first server, ``joins.log``.
:class:`DistroOnHosts` runs the distro phase on a set of hosts for a test.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import attrs

from ..model import NodeRecord

#: The fake itself (substituted per distribution by :func:`fake_binary`).
SCRIPT = Path(__file__).with_name("fake_distro.sh")
#: Where the fake records what happened, on every host.
RECORDS = "/var/lib/sloth-fake"


def _binary_path(installer: Any) -> str:
    return str(installer.version_command().split()[0])


def fake_binary(installer: Any, version: str | None = None) -> str:
    """The fake script for ``installer``'s distribution: its keys, paths, ports and habits."""
    flags = installer.flags
    binary = _binary_path(installer)
    return (
        SCRIPT.read_text(encoding="utf-8")
        .replace("@DISTRO@", installer.name)
        .replace("@VERSION@", version or installer.default_version())
        .replace("@SERVER_KEYS@", " ".join(f"{k}:{t}" for k, t in flags.server.items()))
        .replace("@AGENT_KEYS@", " ".join(f"{k}:{t}" for k, t in flags.agent.items()))
        .replace("@CONFIG@", installer.config_path)
        .replace("@KUBECONFIG@", installer.kubeconfig_path)
        .replace("@JOIN_PORT@", str(installer.join_port))
        .replace("@API_PORT@", str(installer.api_port))
        # K3s documents cluster-init; RKE2 has none: its first server is the one without server:
        .replace("@INIT@", "cluster-init" if "cluster-init" in flags.server else "without-server")
        .replace(
            "@KUBECTL@",
            "subcommand" if installer.kubectl("").startswith(f"{binary} kubectl") else "data-dir",
        )
    )


def fake_bundle(
    installer: Any, out: Path, *, version: str | None = None, arch: str = "amd64"
) -> Path:
    """A release bundle (as ``artifacts fetch --out`` writes one) whose binary is the fake.

    A release file that is a tarball (RKE2's ``rke2.linux-<arch>.tar.gz``, extracted under
    ``/usr/local``) holds the fake as ``bin/<name>``; any other file is the fake itself.
    """
    version = version or installer.default_version()
    release = installer.release(version, arch)
    script = fake_binary(installer, version).encode()
    out.mkdir(parents=True, exist_ok=True)
    sums = []
    for artifact in release.files(airgap=False):
        content = (
            _tarball(_binary_path(installer), script)
            if artifact.name.endswith(".tar.gz")
            else script
        )
        (out / artifact.name).write_bytes(content)
        sums.append(f"{hashlib.sha256(content).hexdigest()}  {artifact.name}\n")
    (out / release.checksum_file).write_text("".join(sums), encoding="utf-8")
    manifest = {
        "distro": release.distro,
        "version": version,
        "arch": arch,
        "files": [a.name for a in release.files(airgap=False)],
    }
    (out / "sloth-bundle.json").write_text(json.dumps(manifest), encoding="utf-8")
    return out


def _tarball(binary: str, script: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        member = tarfile.TarInfo(f"bin/{binary.rsplit('/', 1)[-1]}")
        member.size, member.mode, member.mtime = len(script), 0o755, int(time.time())
        tar.addfile(member, io.BytesIO(script))
    return buffer.getvalue()


@attrs.frozen
class Join:
    """One registration the first server accepted, in order."""

    node: str
    role: str
    members_before: int
    port: int


def join_log(first: Any) -> list[str]:
    """Every line of the first server's ``joins.log`` (JOIN, and CONCURRENT/DENIED/WRONGPORT)."""
    text: str = first.run(f"cat {RECORDS}/joins.log").stdout
    return [line.split(" ", 1)[1] for line in text.splitlines() if line]


def joins(first: Any) -> list[Join]:
    """The accepted registrations; :func:`join_log` also shows the refused or concurrent ones."""
    found = []
    for line in join_log(first):
        words = line.split()
        if words[0] == "JOIN":
            fields = dict(w.split("=", 1) for w in words[3:])
            found.append(
                Join(words[1], words[2], int(fields["members_before"]), int(fields["port"]))
            )
    return found


def invocations(host: Any) -> str:
    """The host's ``invocations.log``."""
    return str(host.run(f"cat {RECORDS}/invocations.log").stdout)


def starts(host: Any) -> list[dict[str, str]]:
    """Each start of the fake on ``host``: role, name, token_sha, server, config_mode…"""
    found = []
    for line in invocations(host).splitlines():
        words = line.split()
        if len(words) > 2 and words[1] == "START":
            found.append({"role": words[2], **dict(w.split("=", 1) for w in words[3:])})
    return found


def host_records(
    cluster: str, handles: Sequence[Any], pools: Sequence[tuple[str, int, str]]
) -> list[NodeRecord]:
    """Node records for ``handles`` in order, named ``<cluster>-<pool>-<n>`` after ``pools``
    (``(pool, count, role)``); the mesh address is the host's address."""
    names = [(pool, i, role) for pool, count, role in pools for i in range(1, count + 1)]
    return [
        NodeRecord(
            cluster=cluster,
            name=f"{cluster}-{pool}-{index}",
            pool=pool,
            provider="local",
            roles=(role,),
            public_address=handle.address,
            mesh_address=handle.address,
            host_key=handle.host.host_public_key,
            ssh_port=handle.port,
        )
        for (pool, index, role), handle in zip(names, handles, strict=True)
    ]


def token_exposures(
    token: str, handles: Sequence[Any], config_path: str, events: Sequence[Any]
) -> list[str]:
    """Where the cluster token shows outside 0600 files: argv, the fakes' logs, events.

    Also names config files that are not 0600. An empty list is the expected answer.
    """
    found = []
    for handle in handles:
        if token in invocations(handle):
            found.append(f"{handle.name}: token in the fake's invocation log")
        if token in handle.run("ps -eo args").stdout:
            found.append(f"{handle.name}: token in a process's argv")
        mode = handle.run(f"stat -c %a {config_path}").stdout.strip()
        if mode != "600":
            found.append(f"{handle.name}: {config_path} has mode {mode}")
        if token in handle.run("journalctl --no-pager 2>/dev/null || true").stdout:
            found.append(f"{handle.name}: token in the journal")
    if token in json.dumps(list(events), default=str):
        found.append("token in the events of the run")
    return found


@attrs.frozen
class Kubeconfig:
    """What ``kubeconfig NAME -o FILE`` did: exit code, its output, the file's mode and text."""

    exit_code: int
    output: str
    mode: int | None
    text: str


@attrs.define
class DistroOnHosts:
    """The distro phase of cluster ``config_text`` on ``records`` (real hosts), for one test.

    Enter it to open a state store under ``work`` and one SSH session; :meth:`install` runs the
    ``install_distro`` hook and returns the updated records (and :attr:`seconds` it took).
    """

    manager: Any
    handles: Sequence[Any]
    records: Sequence[NodeRecord]
    config_text: str
    work: Path
    events: list[dict[str, Any]] = attrs.field(factory=list)
    seconds: float = 0.0
    store: Any = None
    context: Any = None
    _stack: ExitStack = attrs.field(factory=ExitStack)

    @classmethod
    def on_new_hosts(
        cls,
        local_hosts: Any,
        manager: Any,
        installer: Any,
        config_text: str,
        pools: Sequence[tuple[str, int, str]],
        work: Path,
        *,
        cluster: str = "demo",
    ) -> DistroOnHosts:
        """Import a fake release of ``installer`` (as ``artifacts import`` does), create systemd
        hosts for ``pools`` (``local_hosts`` fixture) and name them ``<cluster>-<pool>-<n>``."""
        from ..api_distro import artifacts_import

        artifacts_import(fake_bundle(installer, work / "bundle"), manager=manager)
        handles = local_hosts(sum(count for _pool, count, _role in pools), mode="systemd")
        records = host_records(cluster, handles, pools)
        return cls(manager, handles, records, config_text, work)

    @property
    def state_url(self) -> str:
        return f"sqlite:///{self.work / 'state.db'}"

    @property
    def cluster(self) -> str:
        return str(self.records[0].cluster)

    def token(self) -> str:
        """The cluster token the distro phase generated (revealed, for leak checks)."""
        from ..distro import credentials

        secret = self.store.get_secret(self.cluster, credentials.TOKEN_SECRET)
        return str(secret.reveal())

    def kubeconfig(self, sloth_cli: Any, out: Path) -> Kubeconfig:
        """Run ``kubeconfig <cluster> -o out`` through the CLI and describe what it wrote."""
        result = sloth_cli("--state", self.state_url, "kubeconfig", self.cluster, "-o", str(out))
        exists = out.exists()
        return Kubeconfig(
            result.exit_code,
            result.stdout + result.stderr,
            out.stat().st_mode & 0o777 if exists else None,
            out.read_text(encoding="utf-8") if exists else "",
        )

    def __enter__(self) -> DistroOnHosts:
        from .. import api
        from ..context import ClusterContext
        from ..paths import data_dir
        from ..remote import RemoteSession
        from ..state import open_store

        config_file = self.work / "cluster.yaml"
        config_file.write_text(self.config_text, encoding="utf-8")
        config = api.load([config_file], manager=self.manager)
        self.store = self._stack.enter_context(open_store(self.state_url))
        session = self._stack.enter_context(
            RemoteSession(
                list(self.records),
                private_key_path=self.handles[0].private_key,
                work_dir=self.work / "remote",
            )
        )
        failures = session.connect()
        if failures:
            self._stack.close()
            raise AssertionError(f"cannot reach the test hosts: {failures}")
        emit: Callable[[dict[str, Any]], None] = self.events.append
        self.context = ClusterContext(
            config=config, state=self.store, data_dir=data_dir(), remote=session, emit=emit
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def install(self, nodes: Sequence[NodeRecord] | None = None) -> list[NodeRecord]:
        distro = self.context.config.spec.kubernetes.distribution
        started = time.monotonic()
        updated: list[NodeRecord] = self.manager.hooks.install_distro(
            self.context, distro, list(nodes if nodes is not None else self.records)
        )
        self.seconds = time.monotonic() - started
        return updated

    def start_counts(self) -> list[int]:
        """How many times the fake started on each host (unchanged on a converged re-run)."""
        return [len(starts(h)) for h in self.handles]
