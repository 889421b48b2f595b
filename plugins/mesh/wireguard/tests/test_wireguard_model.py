"""spec.mesh for type wireguard: defaults, camelCase keys, and the errors a user sees."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sloth_mesh_wireguard.model import FIELD_KEYS, WireGuardMeshSpec


def test_defaults_match_the_documented_ones() -> None:
    spec = WireGuardMeshSpec()
    assert spec.to_mapping() == {
        "type": "wireguard",
        "cidr": "10.100.0.0/16",
        "clientCidr": "10.101.0.0/24",
        "port": 51820,
        "mtu": 1420,
        "persistentKeepalive": 25,
        "interface": "wg-sloth",
        "topology": "full",
        "endpointPreference": {},
        "gatewaysPerLocation": 2,
        "failoverInterval": 5,
    }


def test_camel_case_keys_map_to_attributes_and_round_trip() -> None:
    data = {
        "type": "wireguard",
        "cidr": "172.20.0.0/16",
        "clientCidr": "172.21.0.0/24",
        "persistentKeepalive": 0,
        "topology": "location",
        "endpointPreference": {"edge": "public", "db": "private"},
    }
    spec = WireGuardMeshSpec.from_mapping(data)
    assert spec.client_cidr == "172.21.0.0/24"
    assert spec.persistent_keepalive == 0
    assert spec.preference_for("edge") == "public"
    assert spec.preference_for("workers") == "auto"
    assert WireGuardMeshSpec.from_mapping(spec.to_mapping()) == spec
    assert FIELD_KEYS["client_cidr"] == "clientCidr"
    assert FIELD_KEYS["endpoint_preference"] == "endpointPreference"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"cidr": "10.100.0.0/16", "clientCidr": "10.100.5.0/24"}, "overlap"),
        ({"cidr": "8.8.0.0/16"}, "not a private range"),
        ({"cidr": "10.100.0.1/16"}, "did you mean 10.100.0.0/16"),
        ({"cidr": "10.100.0.0/30"}, "too small"),
        ({"cidr": "banana"}, "not an IPv4 network"),
        ({"clientCidr": "fd00::/64"}, "clientCidr"),
        ({"port": 0}, "port must be between 1 and 65535"),
        ({"port": 65536}, "port must be between 1 and 65535"),
        ({"port": True}, "port must be a whole number"),
        ({"port": "51820"}, "port must be a whole number"),
        ({"mtu": 1279}, "mtu must be between 1280 and 9000"),
        ({"mtu": 9001}, "mtu must be between 1280 and 9000"),
        ({"persistentKeepalive": -1}, "persistentKeepalive must be between 0"),
        ({"interface": "wg-sloth-too-long"}, "1-15 characters"),
        ({"interface": "wg 0"}, "interface"),
        ({"interface": "wg0;reboot"}, "interface"),
        ({"interface": "-wg"}, "interface"),
        ({"topology": "star"}, "topology must be one of full, location"),
        ({"type": "tailscale"}, "type must be one of wireguard"),
        ({"endpointPreference": {"edge": "nearest"}}, "endpointPreference.edge must be one of"),
        ({"endpointPreference": ["edge"]}, "must map node pool names"),
        ({"gatewaysPerLocation": 1}, "gatewaysPerLocation must be between 2"),
        ({"clientCIDR": "10.101.0.0/24"}, "did you mean clientCidr"),
    ],
)
def test_invalid_values_are_refused_with_a_message_naming_the_key(
    data: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        WireGuardMeshSpec.from_mapping(data)


@given(
    port=st.integers(1, 65535),
    mtu=st.integers(1280, 9000),
    keepalive=st.integers(0, 65535),
    interface=st.from_regex(r"\A[a-z][a-z0-9_.-]{0,14}\Z"),
)
def test_every_value_in_range_is_accepted(
    port: int, mtu: int, keepalive: int, interface: str
) -> None:
    spec = WireGuardMeshSpec(
        port=port, mtu=mtu, persistent_keepalive=keepalive, interface=interface
    )
    assert (spec.port, spec.mtu, spec.interface) == (port, mtu, interface)
