"""The rendered nftables ruleset: derived from the spec, accepted by `nft -c`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sloth_kubernetes.remote.prepare.firewall import FirewallSpec, lockout_risk, render

SPEC = FirewallSpec(
    ssh_port=2222,
    ssh_allowed_cidrs=("203.0.113.0/24", "10.0.0.0/8", "10.1.0.0/16", "2001:db8::/32"),
    mesh_port=51999,
    mesh_interface="wg-test",
)


def test_ruleset_is_derived_from_the_spec() -> None:
    text = render(SPEC)
    assert "policy drop;" in text
    # overlapping CIDRs are merged (an nft interval set rejects overlaps)
    assert "ip saddr { 10.0.0.0/8, 203.0.113.0/24 } tcp dport 2222 accept" in text
    assert "ip6 saddr { 2001:db8::/32 } tcp dport 2222 accept" in text
    assert "udp dport 51999 accept" in text
    assert 'iifname "wg-test" tcp dport { 179, 2379-2380,' in text
    assert "6443" in text
    assert 'iifname "wg-test" udp dport { 4789, 6081, 8472,' in text
    assert "dport 22 " not in text  # the node's port, not a default
    # the whole table is replaced in one transaction, other tables untouched
    assert text.index("table inet sloth\n") < text.index("delete table inet sloth\n")
    assert "flush ruleset" not in text


def test_ssh_from_anywhere_and_no_ipv6_cidr() -> None:
    text = render(FirewallSpec())
    assert "meta nfproto ipv4 tcp dport 22 accept" in text
    assert "ip6 saddr" not in text.split("# SSH")[1].split("# the mesh")[0]


def test_the_api_port_is_public_only_to_its_cidrs_and_only_when_given() -> None:
    server = render(FirewallSpec(api_allowed_cidrs=("198.51.100.0/24", "2001:db8::/48")))
    api = server.split("# the Kubernetes API")[1].split("# the mesh")[0]
    assert "ip saddr { 198.51.100.0/24 } tcp dport 6443 accept" in api
    assert "ip6 saddr { 2001:db8::/48 } tcp dport 6443 accept" in api
    anywhere = render(FirewallSpec(api_allowed_cidrs=("0.0.0.0/0",)))
    assert "meta nfproto ipv4 tcp dport 6443 accept" in anywhere
    # an agent (or `apiAllowedCIDRs: []`): 6443 stays in the mesh-only set, nowhere else
    agent = render(FirewallSpec())
    assert "# the Kubernetes API" not in agent
    assert [line for line in agent.splitlines() if "6443" in line] == [
        line for line in agent.splitlines() if line.strip().startswith('iifname "wg-sloth" tcp')
    ]


def test_lockout_risk() -> None:
    spec = FirewallSpec(ssh_allowed_cidrs=("10.0.0.0/8",))
    assert lockout_risk(spec, "192.0.2.7")
    assert not lockout_risk(spec, "10.2.3.4")
    assert not lockout_risk(spec, "")  # unknown (sudo resets the environment): no refusal


needs_nft = pytest.mark.skipif(
    shutil.which("nft") is None or os.geteuid() != 0, reason="`nft -c` needs nftables and root"
)


def _nft_check(text: str, path: Path) -> subprocess.CompletedProcess[str]:
    path.write_text(text)
    return subprocess.run(
        ["nft", "-c", "-f", str(path)], capture_output=True, text=True, check=False
    )


@needs_nft
def test_nft_accepts_the_ruleset(tmp_path: Path) -> None:
    done = _nft_check(render(SPEC), tmp_path / "sloth.nft")
    assert done.returncode == 0, done.stderr
    server = attrs.evolve(SPEC, api_allowed_cidrs=("198.51.100.0/24", "2001:db8::/48"))
    done = _nft_check(render(server), tmp_path / "server.nft")
    assert done.returncode == 0, done.stderr


cidrs = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)).flatmap(
    lambda a: st.integers(0, 32 if a.version == 4 else 128).map(lambda prefix: f"{a}/{prefix}")
)


@needs_nft
@settings(max_examples=25, deadline=None)
@given(
    allowed=st.lists(cidrs, min_size=1, max_size=6),
    api=st.lists(cidrs, max_size=6),
    port=st.integers(1, 65535),
    interface=st.from_regex(r"\A[a-z][a-z0-9-]{0,14}\Z"),
)
def test_nft_accepts_any_valid_spec(
    allowed: list[str],
    api: list[str],
    port: int,
    interface: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    spec = FirewallSpec(
        ssh_port=port,
        ssh_allowed_cidrs=tuple(allowed),
        mesh_interface=interface,
        api_allowed_cidrs=tuple(api),
    )
    done = _nft_check(render(spec), tmp_path_factory.mktemp("nft") / "sloth.nft")
    assert done.returncode == 0, done.stderr
