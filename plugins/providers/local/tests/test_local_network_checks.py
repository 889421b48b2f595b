"""A local cidr someone else uses is refused at plan time naming the owner; a bridge left with
another range is made again (no hosts on it) or refused (hosts recorded), never a timeout."""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sloth_kubernetes.errors import ProviderError
from sloth_provider_local import LocalNetwork, create_hosts, sweep
from sloth_provider_local.network import bridge_addresses, check_no_overlap
from sloth_provider_local.testing import TEST_RANGE

pytestmark = pytest.mark.hosts

CONFIG = """\
apiVersion: sloth-kubernetes.io/v1beta1
kind: Cluster
metadata:
  name: {name}
spec:
  providers:
    local:
      cidr: {cidr}
  nodePools:
    - {{name: server, provider: local, count: 1, roles: [server]}}
"""


def _free_range() -> str:
    for subnet in reversed(list(TEST_RANGE.subnets(new_prefix=24))):
        try:
            check_no_overlap(LocalNetwork("probe", str(subnet)))
        except ProviderError:
            continue
        return str(subnet)
    pytest.skip(f"no free /24 left in {TEST_RANGE}")


def test_plan_refuses_a_cidr_of_another_clusters_bridge_naming_it(
    local_hosts: Any, sloth_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = local_hosts.extra_network()  # another cluster's bridge, no hosts yet
    monkeypatch.setenv("SLOTH_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "cluster.yaml"
    inside = ipaddress.ip_network(other.cidr).subnets(new_prefix=25)
    path.write_text(CONFIG.format(name="plancheck", cidr=next(inside)))

    result = sloth_cli("plan", "-f", str(path))

    assert result.exit_code == 1, result.stdout + result.stderr
    assert f"overlaps the route {other.cidr} on the local network {other.name!r}" in (result.stderr)
    assert f"bridge {other.bridge}; another cluster's hosts" in result.stderr
    assert "choose another cidr for spec.providers.local" in result.stderr
    assert bridge_addresses(LocalNetwork("plancheck", other.cidr)) is None  # nothing made


def test_a_leftover_bridge_with_another_range_is_made_again(local_hosts: Any) -> None:
    stale = local_hosts.extra_network()  # the bridge exists with this range, no host on it
    moved = LocalNetwork(stale.name, _free_range())

    (host,) = create_hosts(moved, ["s1"], authorized_key=local_hosts.public_key,
                           state_dir=local_hosts.state_dir)  # fmt: skip

    assert bridge_addresses(moved) == [f"{moved.gateway}/24"]
    assert ipaddress.ip_address(host.address) in ipaddress.ip_network(moved.cidr)
    ping = subprocess.run(["ping", "-c1", "-W2", host.address], capture_output=True, check=False)
    assert ping.returncode == 0  # reachable at once, not after a timeout
    sweep(moved.name, state_dir=local_hosts.state_dir)


def test_a_bridge_with_another_range_under_recorded_hosts_is_refused_at_plan(
    local_hosts: Any, sloth_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a cluster's hosts recorded on its bridge; then its cidr is changed in the config
    monkeypatch.setenv("SLOTH_DATA_DIR", str(tmp_path / "data"))
    old = local_hosts.extra_network()
    name = f"{old.name}r"  # swept with old's prefix at teardown, whatever happens
    state = tmp_path / "data" / "clusters" / name / "local"
    network = LocalNetwork(name, old.cidr)
    sweep(old.name, state_dir=local_hosts.state_dir)  # hand its range over
    create_hosts(network, ["s1"], authorized_key=local_hosts.public_key, state_dir=state)
    new = _free_range()
    path = tmp_path / "cluster.yaml"
    path.write_text(CONFIG.format(name=name, cidr=new))
    try:
        result = sloth_cli("plan", "-f", str(path))
    finally:
        sweep(name, state_dir=state)

    assert result.exit_code == 1, result.stdout + result.stderr
    assert f"has {network.gateway}/24, not {ipaddress.ip_network(new)[1]}/24" in result.stderr
    assert "its hosts were made with another cidr" in result.stderr
    assert "put the cidr back, or destroy the cluster" in result.stderr
