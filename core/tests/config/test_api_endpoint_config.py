"""``spec.kubernetes.apiEndpoint``: its modes, the shorthand, and what is refused (located)."""

from __future__ import annotations

import pytest
from sloth_kubernetes import api
from sloth_kubernetes.errors import ConfigError
from sloth_kubernetes.model import ApiEndpoint, api_endpoint_of


def _load(config_factory, sloth_manager, endpoint, distribution="k3s"):
    path = config_factory(
        {"spec": {"kubernetes": {"distribution": distribution, "apiEndpoint": endpoint}}}
    )
    return api.load([path], manager=sloth_manager)


def _issue(config_factory, sloth_manager, endpoint, distribution="k3s"):
    with pytest.raises(ConfigError) as caught:
        _load(config_factory, sloth_manager, endpoint, distribution)
    (issue,) = [i for i in caught.value.issues if "apiEndpoint" in i.path]
    return issue


def test_the_default_is_node_local_and_a_string_is_the_client_address(
    config_factory, sloth_manager, dummy_provider
):
    default = api_endpoint_of(_load(config_factory, sloth_manager, None).spec.kubernetes)
    assert default == ApiEndpoint(mode="nodeLocal", address=None)
    short = _load(config_factory, sloth_manager, "k8s.example.com").spec.kubernetes
    assert api_endpoint_of(short) == ApiEndpoint(mode="nodeLocal", address="k8s.example.com")
    dns = {"mode": "dns", "address": "k8s.example.com", "sans": ["10.0.0.100"]}
    loaded = api_endpoint_of(_load(config_factory, sloth_manager, dns).spec.kubernetes)
    assert (loaded.mode, loaded.address, loaded.sans) == ("dns", "k8s.example.com", ["10.0.0.100"])


@pytest.mark.parametrize(
    ("endpoint", "key", "message", "hint"),
    [
        ({"mode": "dns"}, "address", "mode dns needs the address", "address: k8s.example.com"),
        (
            {"mode": "dns", "address": "k8s.example.com", "records": True},
            "records",
            "DNS records for every server are not made yet",
            "bring your own `address:`",
        ),
        (
            {"mode": "loadBalancer"},
            "mode",
            "libcloud has a load-balancer API for aws and gcp only",
            "use mode nodeLocal",
        ),
        ({"mode": "dsn"}, "mode", "is not one of: nodeLocal, loadBalancer, dns", "'dns'"),
    ],
)
def test_refused_modes_are_located_with_a_fix(
    config_factory, sloth_manager, dummy_provider, endpoint, key, message, hint
):
    issue = _issue(config_factory, sloth_manager, endpoint)
    assert issue.path == f"spec.kubernetes.apiEndpoint.{key}"
    assert issue.line is not None
    assert message in issue.message
    assert hint in (issue.hint or "")


def test_node_local_is_refused_for_a_distribution_without_it(
    config_factory, sloth_manager, dummy_provider
):
    """kubeadm does not take the node-local balancer yet: asked for explicitly, it is refused;
    by default kubeadm's nodes keep registering with the first server."""
    issue = _issue(config_factory, sloth_manager, {"mode": "nodeLocal"}, "kubeadm")
    assert issue.path == "spec.kubernetes.apiEndpoint.mode"
    assert "kubeadm does not support mode nodeLocal yet" in issue.message
    found = []
    try:
        _load(config_factory, sloth_manager, None, "kubeadm")  # the default is accepted
    except ConfigError as error:  # (the test config may not suit kubeadm otherwise)
        found = [i for i in error.issues if "apiEndpoint" in i.path]
    assert found == []
