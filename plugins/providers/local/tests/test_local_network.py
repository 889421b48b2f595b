"""Naming and validation rules of local networks (no root needed)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sloth_kubernetes.errors import ProviderError
from sloth_provider_local import LocalHost, LocalNetwork, known_hosts_lines
from sloth_provider_local._system import require_tools

names = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?", fullmatch=True)
hosts = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", fullmatch=True)


@given(names, hosts)
def test_interface_names_fit_the_kernel_limit(network_name, host):
    network = LocalNetwork(network_name, "10.250.0.0/24")
    assert len(network.bridge) <= 15
    assert len(network.veth(host)) <= 15
    assert network.veth(host) != network.bridge


def test_addresses_start_after_the_gateway():
    network = LocalNetwork("n1", "10.250.3.0/29")
    assert network.gateway == "10.250.3.1"
    assert network.host_addresses() == [f"10.250.3.{i}" for i in range(2, 7)]


def test_mac_follows_the_address_not_the_host():
    network = LocalNetwork("n1", "10.250.3.0/24")
    assert network.mac("10.250.3.2") == network.mac("10.250.3.2")
    assert network.mac("10.250.3.2") != network.mac("10.250.3.3")
    assert int(network.mac("10.250.3.2")[:2], 16) & 0b11 == 0b10  # local, unicast


@pytest.mark.parametrize(
    ("name", "cidr", "message"),
    [
        ("Bad_Name", "10.250.0.0/24", "invalid local network name"),
        ("ok", "10.250.0.1/24", "invalid local network CIDR"),
        ("ok", "fd00::/64", "must be IPv4"),
        ("ok", "10.250.0.0/30", "/29 or shorter"),
    ],
)
def test_invalid_networks_are_refused_with_a_hint(name, cidr, message):
    with pytest.raises(ProviderError, match=message) as caught:
        LocalNetwork(name, cidr)
    assert caught.value.hint


def test_missing_tools_name_their_debian_package():
    with pytest.raises(ProviderError, match=r"no-such-tool-x \(Debian package pkg-x\)") as caught:
        require_tools({"no-such-tool-x": "pkg-x", "sh": "dash"})
    assert caught.value.hint == "install them: apt-get install -y pkg-x"


def test_known_hosts_lines_use_brackets_off_port_22(tmp_path):
    host = LocalHost("a", "10.0.0.2", 2222, "ssh-ed25519 AAAAkey", 1, "ns", tmp_path, "fast")
    assert known_hosts_lines([host]) == "[10.0.0.2]:2222 ssh-ed25519 AAAAkey\n"
