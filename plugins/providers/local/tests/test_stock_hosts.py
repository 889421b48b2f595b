"""Stock machines: local hosts whose root filesystem is what Debian 12's genericcloud cloud image
contains (images/debian-12-genericcloud.txt), with empty apt lists and archives, and no route
to any mirror but the repository this machine serves them (built with this machine's apt).

Everything the tool needs on a node is then installed by the tool, with the host's own apt:
`up --until mesh` through the real CLI, then dpkg and apt's history on each host say who
installed what; a package the repository lacks fails prepare naming node, package and fix.
The stock root filesystem and the downloaded .deb files are cached on this machine (built once).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from sloth_provider_local.hosts import list_hosts
from sloth_provider_local.mirror import MOUNT_POINT, repository_size
from sloth_provider_local.rootfs import STOCK, ensure_rootfs, image_data

pytestmark = pytest.mark.hosts

#: What the tool installs on a stock Debian 12 node for `up --until mesh` (checked on the hosts).
INSTALLED_BY_THE_TOOL = ("wireguard-tools", "wireguard-go", "nftables", "conntrack", "kmod")


def _dpkg_has(root: Path, package: str) -> bool:
    status = (root / "var/lib/dpkg/status").read_text()
    return any(
        f"Package: {package}\n" in stanza and "Status: install ok installed" in stanza
        for stanza in status.split("\n\n")
    )


@pytest.fixture(scope="module")
def stock_root() -> Path:
    if os.geteuid() != 0 or shutil.which("debootstrap") is None:
        pytest.skip("needs root and debootstrap")
    started = time.monotonic()
    root = ensure_rootfs(STOCK)  # cached after the first build on this machine
    print(f"stock rootfs ready in {time.monotonic() - started:.1f} s: {root}")
    return root


def test_the_stock_image_has_what_the_cloud_image_has_and_nothing_the_tool_needs(
    stock_root: Path,
) -> None:
    listed = [p for p in image_data(STOCK) if not p.excluded]
    assert all(_dpkg_has(stock_root, p.name) for p in listed), [
        p.name for p in listed if not _dpkg_has(stock_root, p.name)
    ]
    for package in INSTALLED_BY_THE_TOOL:  # the cloud image lacks them, so does the host
        assert not _dpkg_has(stock_root, package), package
    assert _dpkg_has(stock_root, "iptables")  # the image has it (SYSTEM_BOOT): nothing to do
    lists = stock_root / "var/lib/apt/lists"
    assert [p.name for p in lists.iterdir()] == ["partial"]  # no package index yet
    assert not list((stock_root / "var/cache/apt/archives").glob("*.deb"))


def test_up_until_mesh_on_stock_debian_installs_everything_with_the_hosts_apt(
    stock_root: Path, local_hosts: Any, sloth_cli: Any, tmp_path: Path
) -> None:
    network = local_hosts.extra_network()  # a free /24 and a unique name, swept at teardown
    config = tmp_path / "cluster.yaml"
    config.write_text(
        json.dumps(
            {
                "apiVersion": "sloth-kubernetes.io/v1beta1",
                "kind": "Cluster",
                "metadata": {"name": network.name},
                "spec": {
                    "providers": {
                        "local": {"mode": "systemd", "image": STOCK, "cidr": network.cidr}
                    },
                    "nodePools": [
                        {"name": "server", "provider": "local", "count": 1, "roles": ["server"]},
                        {"name": "agent", "provider": "local", "count": 2, "roles": ["agent"]},
                    ],
                    "mesh": {"type": "wireguard"},
                },
            }
        )
    )
    state = ("--state", f"sqlite:///{tmp_path / 'state.db'}")
    started = time.monotonic()
    up = sloth_cli(*state, "up", "-f", str(config), "--yes", "--no-progress", "--until", "mesh")
    took = time.monotonic() - started
    try:
        assert up.exit_code == 0, up.stdout + up.stderr
        check = sloth_cli(*state, "-o", "json", "mesh", "check", network.name)
        assert check.exit_code == 0, check.stdout + check.stderr
        assert json.loads(check.stdout)["ok"] is True

        state_dir = Path(os.environ["SLOTH_DATA_DIR"]) / "clusters" / network.name / "local"
        repository = state_dir / network.name / "apt"
        print(f"up --until mesh on 3 stock hosts: {took:.1f} s; served repository "
              f"{repository_size(repository) / 2**20:.1f} MiB")  # fmt: skip
        hosts = list_hosts(network, state_dir=state_dir)
        assert len(hosts) == 3
        for host in hosts:
            script = (
                "dpkg -l " + " ".join(INSTALLED_BY_THE_TOOL)
                + "; cat /var/log/apt/history.log; apt-cache policy wireguard-tools"
            )  # fmt: skip
            ran = sloth_cli(*state, "nodes", "exec", network.name, host.name, "--", script)
            assert ran.exit_code == 0, ran.stdout + ran.stderr
            for package in INSTALLED_BY_THE_TOOL:
                assert re.search(rf"\] ii +{re.escape(package)}[ :]", ran.stdout), (
                    host.name, package, ran.stdout,
                )  # fmt: skip
            # apt on the host installed them (one `apt-get install` per package), from the
            # repository served to it
            for package in INSTALLED_BY_THE_TOOL:
                line = rf"Commandline: apt-get install .*recommends {re.escape(package)}$"
                assert re.search(line, ran.stdout, re.MULTILINE), package
            assert f"file:{MOUNT_POINT}/current" in ran.stdout
    finally:
        sloth_cli(*state, "--yes", "destroy", network.name)


def test_a_package_the_repository_lacks_fails_prepare_naming_node_package_and_fix(
    stock_root: Path,
    local_hosts: Any,
    config_factory: Any,
    sloth_manager: Any,
    dummy_provider: Any,
    tmp_path: Path,
) -> None:
    from sloth_kubernetes import api
    from sloth_kubernetes.context import ClusterContext
    from sloth_kubernetes.model import NodeRecord
    from sloth_kubernetes.remote import RemoteSession
    from sloth_kubernetes.remote.prepare import installable_packages, prepare_nodes

    config = api.load([config_factory({})], manager=sloth_manager)
    context = ClusterContext(config=config)
    probe = NodeRecord(cluster="test", name="h1")
    needed = sloth_manager.hooks.node_packages(context, probe)  # the mesh's, among others
    assert "wireguard-tools" in {p.name for p in needed}
    served = [p for p in installable_packages(needed) if p != "wireguard-tools"]
    (host,) = local_hosts(1, mode="systemd", image=STOCK, packages=served)

    node = NodeRecord(cluster="test", name=host.name, public_address=host.address,
                      host_key=host.host.host_public_key, ssh_port=host.port)  # fmt: skip
    with RemoteSession([node], private_key_path=host.private_key,
                       work_dir=tmp_path / "remote") as session:  # fmt: skip
        result = prepare_nodes(session, config, [node], require_cgroups=False,
                               packages={node.name: needed})  # fmt: skip
    error = result.nodes[host.name].error
    assert error is not None
    assert error.message == (
        f"node {host.name}: apt could not install wireguard-tools: "
        "wireguard-tools: E: Unable to locate package wireguard-tools"
    )  # the others were installed
    assert error.hint is not None
    assert f"file:{MOUNT_POINT}/current" in error.hint
    assert "re-run `up`" in error.hint
    installed = host.run("dpkg-query -W -f='${db:Status-Abbrev}' wireguard-go nftables").stdout
    assert installed.split() == ["ii", "ii"]
