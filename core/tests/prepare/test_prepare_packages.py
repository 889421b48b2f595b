"""Packages add-ons need on the nodes (``node_packages``), through the prepare phase on real
fast-mode local hosts: longhorn's requested, what apt can install installed, what it cannot
reported as the machine's, and a second run changing nothing."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sloth_kubernetes.context import ClusterContext
from sloth_kubernetes.hookspecs import hookimpl
from sloth_kubernetes.model import NodeRecord
from sloth_kubernetes.remote import RemoteSession
from sloth_kubernetes.remote.prepare import MACHINE, PrepareResult, prepare_nodes

pytestmark = pytest.mark.hosts

LONGHORN = ("open-iscsi", "nfs-common")
LOCAL = "sloth-test-local-pkg"  # built here, served from a file: apt source on the host
ABSENT = "sloth-test-no-such-package"  # in no archive: apt cannot install it anywhere


@pytest.fixture
def repo() -> Iterator[Path]:
    """A flat apt repository with one tiny package, in a directory the hosts see (the machine's
    /var, not /tmp, which hosts get fresh). Created before the hosts start."""
    for stale in Path("/var/tmp").glob("sloth-test-repo-*"):
        shutil.rmtree(stale, ignore_errors=True)
    root = Path("/var/tmp") / f"sloth-test-repo-{uuid.uuid4().hex[:8]}"
    build = root / "build"
    (build / "DEBIAN").mkdir(parents=True)
    (build / "usr/share/doc" / LOCAL).mkdir(parents=True)
    (build / "usr/share/doc" / LOCAL / "README").write_text("test package\n")
    control = (f"Package: {LOCAL}\nVersion: 1.0\nArchitecture: all\n"
               "Maintainer: sloth tests <t@example.org>\nDescription: test package\n")  # fmt: skip
    (build / "DEBIAN" / "control").write_text(control)
    deb = root / f"{LOCAL}_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(build), str(deb)],
                   check=True, capture_output=True)  # fmt: skip
    data = deb.read_bytes()
    (root / "Packages").write_text(
        control + f"Filename: ./{deb.name}\nSize: {len(data)}\n"
        f"SHA256: {hashlib.sha256(data).hexdigest()}\n"
    )
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def packages(config_factory: Any, sloth_manager: Any, register_plugin: Any, dummy_provider: Any):
    """What the engine passes: ``node_packages`` for a spec with longhorn storage, plus a test
    plugin asking for the local package and one no archive has."""
    from sloth_kubernetes import api

    class Extra:
        @hookimpl
        def node_packages(self, context: Any, node: Any) -> list[str]:
            return [LOCAL, ABSENT]

    register_plugin(Extra(), "extra-packages")
    storage = [{"type": "longhorn", "classes": [{"name": "replicated", "default": True}]}]
    config = api.load([config_factory({"spec": {"storage": storage}})], manager=sloth_manager)
    context = ClusterContext(config=config)

    def for_nodes(nodes: list[NodeRecord]) -> dict[str, list[str]]:
        return {n.name: sloth_manager.hooks.node_packages(context, n) for n in nodes}

    return config, for_nodes


def _on_machine(package: str) -> bool:
    done = subprocess.run(["dpkg", "-s", package], check=False, capture_output=True)
    return done.returncode == 0


def _prepare(host: Any, config: Any, wanted: Any, tmp_path: Path) -> PrepareResult:
    node = NodeRecord(cluster="test", name=host.name, public_address=host.address,
                      host_key=host.host.host_public_key, ssh_port=host.port)  # fmt: skip
    with RemoteSession([node], private_key_path=host.private_key,
                       work_dir=tmp_path / "remote") as session:  # fmt: skip
        return prepare_nodes(session, config, [node], require_cgroups=False,
                             packages=wanted([node]))  # fmt: skip


def test_node_packages_are_installed_or_reported_and_a_rerun_changes_nothing(
    repo: Path, packages: Any, local_hosts: Any, tmp_path: Path
) -> None:
    config, wanted = packages
    (host,) = local_hosts(1)
    # The host's system is the machine's: prepare installs from the lists and archives it has
    # (no download). Give this host's own view of them the test package.
    source = "/etc/apt/sources.list.d/sloth-test.list"
    host.run(
        f"echo 'deb [trusted=yes] file:{repo} ./' > {source} && "
        f"apt-get update -qq -o Dir::Etc::sourcelist={source} -o Dir::Etc::sourceparts=- "
        f"-o APT::Get::List-Cleanup=0 && cp {repo}/*.deb /var/cache/apt/archives/"
    )
    machine_has = {p: _on_machine(p) for p in LONGHORN}
    node = NodeRecord(cluster="test", name=host.name)
    assert {p.name for p in wanted([node])[host.name]} >= {*LONGHORN, LOCAL, ABSENT}

    first = _prepare(host, config, wanted, tmp_path / "1")
    outcome = first.nodes[host.name]
    assert outcome.error is None, outcome.error
    assert "packages" in outcome.changed  # the local package was installed
    status = host.run(f"dpkg-query -W -f='${{Status}}' {LOCAL}").stdout
    assert status == "install ok installed"
    reported = {line.split(":")[0] for line in outcome.machine if line.startswith("package ")}
    expected = {f"package {ABSENT}"} | {f"package {p}" for p in LONGHORN if not machine_has[p]}
    assert reported == expected
    absent = next(line for line in outcome.machine if ABSENT in line)
    assert MACHINE in absent
    assert "Unable to locate package" in absent
    assert not _on_machine(LOCAL)  # installed in the host's own /usr overlay only

    second = _prepare(host, config, wanted, tmp_path / "2")
    again = second.nodes[host.name]
    assert again.error is None, again.error
    assert again.changed == ()
    assert {line.split(":")[0] for line in again.machine if line.startswith("package ")} == expected
