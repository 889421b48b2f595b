"""Join order: the first server is deterministic (or the recorded one); agents in batches."""

from __future__ import annotations

import attrs
from hypothesis import given
from hypothesis import strategies as st
from sloth_kubernetes import api
from sloth_kubernetes.distro.endpoint import tls_sans
from sloth_kubernetes.distro.topology import EXTRA_KEY, plan_topology
from sloth_kubernetes.model import NodeRecord


def _config(config_factory, sloth_manager, **kubernetes):  # needs dummy_provider
    path = config_factory(
        {
            "spec": {
                "nodePools": [
                    {"name": "workers", "provider": "dummy", "count": 2, "roles": ["agent"]},
                    {"name": "cp", "provider": "dummy", "count": 3, "roles": ["server"]},
                    {"name": "cp2", "provider": "dummy", "count": 2, "roles": ["server"]},
                ],
                "kubernetes": kubernetes,
            }
        }
    )
    return api.load([path], manager=sloth_manager)


def _nodes():
    def node(pool, index, role, **extra):
        return NodeRecord(
            cluster="test",
            name=f"test-{pool}-{index}",
            pool=pool,
            roles=(role,),
            mesh_address=f"10.0.{index}.{len(pool)}",
            public_address=f"203.0.113.{index * 10 + len(pool)}",
            **extra,
        )

    return [
        node("cp2", 1, "server"),
        node("workers", 2, "agent"),
        node("cp", 11, "server"),
        node("cp", 2, "server"),
        node("workers", 1, "agent"),
        node("cp", 3, "server"),
        node("cp2", 2, "server"),
    ]


def test_first_server_is_first_server_pool_lowest_index(
    config_factory, sloth_manager, dummy_provider
):
    config = _config(config_factory, sloth_manager)
    topology = plan_topology(config, _nodes())
    assert [n.name for n in topology.servers] == [
        "test-cp-2", "test-cp-3", "test-cp-11", "test-cp2-1", "test-cp2-2",
    ]  # fmt: skip
    assert [n.name for n in topology.agents] == ["test-workers-1", "test-workers-2"]


def test_the_recorded_first_server_stays_first(config_factory, sloth_manager, dummy_provider):
    config = _config(config_factory, sloth_manager)
    nodes = [
        attrs.evolve(n, extra={EXTRA_KEY: {"init": True}}) if n.name == "test-cp2-1" else n
        for n in _nodes()
    ]
    assert plan_topology(config, nodes).first.name == "test-cp2-1"
    assert plan_topology(config, nodes).initialises


def test_a_lost_initialiser_is_never_replaced_by_a_second_init(
    config_factory, sloth_manager, dummy_provider
):
    """The server that initialised the cluster is gone (its machine lost) while the others
    were installed: no server initialises again (that would start a second, empty cluster)."""
    config = _config(config_factory, sloth_manager)
    installed = [
        attrs.evolve(n, extra={EXTRA_KEY: {"role": n.roles[0], "init": n.name == "test-cp-2"}})
        for n in _nodes()
    ]
    remaining = [n for n in installed if n.name != "test-cp-2"]
    topology = plan_topology(config, remaining)
    assert not topology.initialises
    assert topology.first.name == "test-cp-3"  # asked first, but joins like the others
    assert plan_topology(config, _nodes()).initialises  # a new cluster: the first initialises


def test_sans_hold_the_endpoint_and_every_server_address(
    config_factory, sloth_manager, dummy_provider
):
    config = _config(config_factory, sloth_manager, apiEndpoint="k8s.example.com")
    topology = plan_topology(config, _nodes())
    sans = tls_sans(config, topology.servers)
    assert sans[:2] == ("k8s.example.com", "127.0.0.1")  # 127.0.0.1: the node-local balancer
    for server in topology.servers:
        assert server.mesh_address in sans
        assert server.public_address in sans
    assert len(sans) == len(set(sans))


@given(agents=st.integers(0, 400), size=st.integers(1, 120))
def test_batches_cover_every_agent_once_and_are_bounded(agents, size):
    from sloth_kubernetes.distro.topology import Topology

    nodes = tuple(NodeRecord(cluster="c", name=f"a{i}", roles=("agent",)) for i in range(agents))
    server = NodeRecord(cluster="c", name="s", roles=("server",))
    batches = Topology((server,), nodes).agent_batches(size)
    assert [n for batch in batches for n in batch] == list(nodes)
    assert all(0 < len(batch) <= size for batch in batches)


def _security_config(config_factory, sloth_manager, security, **kubernetes):
    path = config_factory(
        {
            "spec": {
                "nodePools": [{"name": "cp", "provider": "dummy", "count": 1, "roles": ["server"]}],
                "kubernetes": kubernetes,
                "security": security,
            }
        },
        name=f"security-{len(str(security))}-{len(kubernetes)}.yaml",
    )
    return api.load([path], manager=sloth_manager)


def test_the_api_address_is_one_the_firewall_lets_this_machine_reach(
    config_factory, sloth_manager, dummy_provider
):
    from types import SimpleNamespace

    from sloth_kubernetes.distro.orchestrate import api_access, api_url

    k3s = SimpleNamespace(api_port=6443, name="k3s")
    server = NodeRecord(
        cluster="test", name="test-cp-1", pool="cp", roles=("server",),
        mesh_address="10.0.0.1", public_address="203.0.113.1",
    )  # fmt: skip

    def address_and_cause(security, **kubernetes):
        config = _security_config(config_factory, sloth_manager, security, **kubernetes)
        context = SimpleNamespace(config=config)
        topology = plan_topology(config, [server])
        return api_url(context, k3s, topology), api_access(context, k3s)[0]

    url, cause = address_and_cause({"apiAllowedCIDRs": ["198.51.100.0/24", "192.0.2.7/32"]})
    assert url == "https://203.0.113.1:6443"
    assert "spec.security.apiAllowedCIDRs (198.51.100.0/24, 192.0.2.7/32)" in cause
    # kept on the mesh: the kubeconfig and the readiness gate use the mesh address
    url, cause = address_and_cause({"apiAllowedCIDRs": []})
    assert url == "https://10.0.0.1:6443"
    assert "apiAllowedCIDRs is empty: port 6443 is open on the mesh only" in cause
    # no host firewall: the public address, and the cause is elsewhere
    url, cause = address_and_cause({"apiAllowedCIDRs": [], "firewall": False})
    assert url == "https://203.0.113.1:6443"
    assert "the host firewall is off" in cause
    url, cause = address_and_cause({}, apiEndpoint="k8s.example.com")
    assert url == "https://k8s.example.com:6443"
    assert "apiEndpoint must lead to port 6443" in cause
