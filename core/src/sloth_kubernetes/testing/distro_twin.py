"""The distribution twin's release bundle, and helpers for host tests that run it.

No K3s or RKE2 binary can be had on a test machine; the **sloth twin** stands in for them — a
twin, not the real thing (see :mod:`sloth_kubernetes.testing.twin.runtime` for what it does and
does not do, and the upstream sources of each behaviour). :func:`twin_bundle` writes a release
bundle (as ``artifacts fetch --out`` writes one, with its checksum file) whose binary is the
twin: a Python zipapp carrying the twin's packages, ruamel.yaml (so the node needs only
``python3`` and ``openssl``, both in stock Debian cloud images) and a real etcd (Debian's
``etcd-server``), as K3s carries its embedded etcd. ``artifacts import`` puts it in the
operator's cache and the distro phase uploads it like a real release.

On every host the twin records in :data:`RECORDS`: ``invocations.log`` (every call and start,
with a hash prefix of the token, never the token) and, on the server asked, ``joins.log``.
:class:`DistroOnHosts` runs the distro phase on a set of hosts for a test.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
import tempfile
import time
import zipapp
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import attrs

from ..errors import SlothError
from ..model import NodeRecord

#: The twin's packages (model + runtime), shipped inside the bundle as ``sloth_twin``.
TWIN = Path(__file__).with_name("twin")
#: Where the twin records what happened, on every host.
RECORDS = "/var/lib/sloth-twin"


def _binary_path(installer: Any) -> str:
    return str(installer.version_command().split()[0])


def twin_facts(installer: Any, version: str | None = None) -> dict[str, Any]:
    """What the twin needs to know about ``installer``'s distribution: keys, paths, ports."""
    flags = installer.flags
    binary = _binary_path(installer)
    return {
        "distro": installer.name,
        "version": version or installer.default_version(),
        "server_keys": dict(flags.server),
        "agent_keys": dict(flags.agent),
        "config_path": installer.config_path,
        "kubeconfig_path": installer.kubeconfig_path,
        "join_port": installer.join_port,
        "api_port": installer.api_port,
        # K3s documents cluster-init; RKE2 has none: its first server is the one without server:
        "init": "cluster-init" if "cluster-init" in flags.server else "without-server",
        "kubectl": (
            "subcommand" if installer.kubectl("").startswith(f"{binary} kubectl") else "data-dir"
        ),
        "data_dir": installer.data_dir,
    }


def twin_binary(installer: Any, version: str | None = None) -> bytes:
    """The twin as ``installer``'s binary: a zipapp run by the node's ``python3``."""
    etcd = shutil.which("etcd")
    if etcd is None:
        raise SlothError(
            "the distribution twin carries a real etcd, and this machine has none",
            hint="install Debian's etcd-server (make debs installs it)",
        )
    import ruamel.yaml

    ruamel_dir = Path(ruamel.yaml.__file__).parent
    with tempfile.TemporaryDirectory() as work:
        root = Path(work) / "app"
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "README.md")
        shutil.copytree(TWIN, root / "sloth_twin", ignore=ignore)
        facts = json.dumps(twin_facts(installer, version), sort_keys=True)
        (root / "sloth_twin" / "runtime" / "facts.json").write_text(facts, encoding="utf-8")
        shutil.copytree(ruamel_dir, root / "ruamel" / "yaml", ignore=ignore)
        (root / "ruamel" / "__init__.py").write_text("", encoding="utf-8")
        (root / "bin").mkdir()
        shutil.copy(etcd, root / "bin" / "etcd")
        shutil.copy(TWIN / "runtime" / "launcher.py", root / "__main__.py")
        target = Path(work) / "twin.pyz"
        zipapp.create_archive(root, target, interpreter="/usr/bin/env python3", compressed=True)
        return target.read_bytes()


def twin_bundle(
    installer: Any, out: Path, *, version: str | None = None, arch: str = "amd64"
) -> Path:
    """A release bundle (as ``artifacts fetch --out`` writes one) whose binary is the twin.

    A release file that is a tarball (RKE2's ``rke2.linux-<arch>.tar.gz``, extracted under
    ``/usr/local``) holds the twin as ``bin/<name>``; any other file is the twin itself (kubeadm:
    ``kubeadm``, ``kubelet`` and ``kubectl`` are the same twin, each with its ``.sha256``).
    """
    version = version or installer.default_version()
    release = installer.release(version, arch)
    binary = twin_binary(installer, version)
    out.mkdir(parents=True, exist_ok=True)
    sums = []
    for artifact in release.files(airgap=False):
        content = (
            _tarball(_binary_path(installer), binary)
            if artifact.name.endswith(".tar.gz")
            else binary
        )
        (out / artifact.name).write_bytes(content)
        digest = hashlib.sha256(content).hexdigest()
        sums.append(f"{digest}  {artifact.name}\n")
        if artifact.checksum:  # its own checksum file (dl.k8s.io's <file>.sha256: the digest)
            (out / artifact.checksum).write_text(digest + "\n", encoding="utf-8")
    if release.checksum_file:
        (out / release.checksum_file).write_text("".join(sums), encoding="utf-8")
    manifest = {
        "distro": release.distro,
        "version": version,
        "arch": arch,
        "files": [a.name for a in release.files(airgap=False)],
        "twin": "sloth twin — not a real Kubernetes",
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


def ssh_cluster_config(
    name: str, hosts: Sequence[Any], pools: Sequence[tuple[str, int, str]], **spec: Any
) -> str:
    """A cluster config placing ``pools`` (``(pool, count, role)``) on test ``hosts`` through
    the ``ssh`` provider (pinned host keys); ``spec`` adds top-level spec keys."""
    from ruamel.yaml import YAML

    document = {
        "apiVersion": "sloth-kubernetes.io/v1beta1",
        "kind": "Cluster",
        "metadata": {"name": name},
        "spec": {
            "providers": {
                "ssh": {
                    "hosts": [
                        {"name": h.name, "address": h.address, "key": str(h.private_key)}
                        for h in hosts
                    ],
                    "knownHosts": str(hosts[0].known_hosts),
                }
            },
            "nodePools": [
                {"name": pool, "provider": "ssh", "count": count, "roles": [role]}
                for pool, count, role in pools
            ],
            **spec,
        },
    }
    stream = io.StringIO()
    YAML().dump(document, stream)
    return stream.getvalue()


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
    """Each start of the twin on ``host``: role, name, token_sha, server, config_mode…"""
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
    """Where the cluster token shows outside 0600 files: argv, the twins' logs, events.

    Also names config files that are not 0600. An empty list is the expected answer.
    """
    found = []
    for handle in handles:
        if token in invocations(handle):
            found.append(f"{handle.name}: token in the twin's invocation log")
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
        """Import a twin release of ``installer`` (as ``artifacts import`` does), create systemd
        hosts for ``pools`` (``local_hosts`` fixture) and name them ``<cluster>-<pool>-<n>``."""
        from ..api.distro import artifacts_import

        artifacts_import(twin_bundle(installer, work / "bundle"), manager=manager)
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
        """How many times the twin started on each host (unchanged on a converged re-run)."""
        return [len(starts(h)) for h in self.handles]
