"""Address allocation: unique, inside the CIDR, stable per owner, and a clear error when full."""

from __future__ import annotations

import ipaddress
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sloth_kubernetes.errors import StateError
from sloth_kubernetes.state import StateStore

_clusters = itertools.count()
OWNERS = [f"node-{i}" for i in range(18)]
# (allocate?, owner index): 18 owners contend for the 14 host addresses of a /28
actions = st.lists(st.tuples(st.booleans(), st.integers(0, len(OWNERS) - 1)), max_size=40)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=actions, cidr=st.sampled_from(["10.44.0.0/28", "fd00:44::/124"]))
def test_allocations_are_unique_inside_the_cidr_and_stable(
    store: StateStore, steps: list[tuple[bool, int]], cidr: str
) -> None:
    cluster = f"prop-{next(_clusters)}"  # each example gets a clean pool
    network = ipaddress.ip_network(cidr)
    capacity = len(list(network.hosts()))
    held: dict[str, str] = {}  # what the owners currently hold
    previous: dict[str, str] = {}  # the last address each owner ever had
    for allocate, index in steps:
        owner = OWNERS[index]
        if allocate:
            if owner not in held and len(held) == capacity:
                with pytest.raises(StateError, match="is full"):
                    store.allocate_address(cluster, "mesh", owner, cidr)
                continue
            address = store.allocate_address(cluster, "mesh", owner, cidr)
            if owner in held:
                assert address == held[owner]  # same owner, same address
            elif owner in previous and previous[owner] not in held.values():
                assert address == previous[owner]  # back again: its old address
            held[owner] = previous[owner] = address
        else:
            assert store.release_address(cluster, "mesh", owner) is (owner in held)
            held.pop(owner, None)
        current = store.list_allocations(cluster, "mesh")
        assert current == held  # nobody else's address moved
        addresses = [ipaddress.ip_address(a) for a in current.values()]
        assert len(set(addresses)) == len(addresses)
        for address in addresses:
            assert address in network
            assert address not in (network.network_address, network.broadcast_address)


def test_the_first_addresses_skip_the_network_address(store: StateStore) -> None:
    assert store.allocate_address("demo", "mesh", "a", "10.8.0.0/30") == "10.8.0.1"
    assert store.allocate_address("demo", "mesh", "b", "10.8.0.0/30") == "10.8.0.2"
    with pytest.raises(StateError) as caught:
        store.allocate_address("demo", "mesh", "c", "10.8.0.0/30")
    assert "address pool 'mesh' of cluster 'demo' (10.8.0.0/30) is full" in str(caught.value)
    assert caught.value.hint
    # pools and clusters are independent
    assert store.allocate_address("demo", "pods", "c", "10.8.0.0/30") == "10.8.0.1"
    assert store.allocate_address("other", "mesh", "c", "10.8.0.0/30") == "10.8.0.1"


def test_freed_addresses_are_reused_only_when_the_range_has_no_fresh_one(store: StateStore) -> None:
    cidr = "10.8.0.0/29"  # .1 - .6
    for owner in "abc":
        store.allocate_address("demo", "mesh", owner, cidr)
    store.release_address("demo", "mesh", "a")  # frees .1
    assert store.allocate_address("demo", "mesh", "d", cidr) == "10.8.0.4"
    assert store.allocate_address("demo", "mesh", "e", cidr) == "10.8.0.5"
    assert store.allocate_address("demo", "mesh", "f", cidr) == "10.8.0.6"
    assert store.allocate_address("demo", "mesh", "g", cidr) == "10.8.0.1"
    # a's old address is taken now: a comes back with a different one only if one is free
    with pytest.raises(StateError, match="is full"):
        store.allocate_address("demo", "mesh", "a", cidr)


def test_bad_cidrs_and_a_changed_cidr_are_reported(store: StateStore) -> None:
    with pytest.raises(StateError, match="not a valid CIDR"):
        store.allocate_address("demo", "mesh", "a", "10.8.0.0/33")
    assert store.allocate_address("demo", "mesh", "a", "10.8.0.9/24") == "10.8.0.1"
    with pytest.raises(StateError, match=r"outside 10\.9\.0\.0/24"):
        store.allocate_address("demo", "mesh", "a", "10.9.0.0/24")
