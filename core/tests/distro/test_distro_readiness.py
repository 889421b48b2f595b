"""Waiting for Ready nodes through the Kubernetes API (lightkube) against the kmock stand-in."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from sloth_kubernetes.distro.kubeconfig import dump
from sloth_kubernetes.distro.readiness import wait_ready
from sloth_kubernetes.errors import RemoteError
from sloth_kubernetes.secrets import Secret

_ADDONS_CONFTEST = Path(__file__).parents[1] / "addons" / "conftest.py"


@pytest.fixture
def kube_api():
    """The project's kmock-based API stand-in (shared with the add-on tests)."""
    spec = importlib.util.spec_from_file_location("addons_stand_in", _ADDONS_CONFTEST)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    api = module._stand_in()().start()
    try:
        yield api
    finally:
        api.close()


def _node(client, name: str, status: str, reason: str, message: str | None = None) -> None:
    from lightkube.models.core_v1 import NodeCondition, NodeStatus
    from lightkube.models.meta_v1 import ObjectMeta
    from lightkube.resources.core_v1 import Node

    condition = NodeCondition(type="Ready", status=status, reason=reason, message=message)
    client.create(Node(metadata=ObjectMeta(name=name), status=NodeStatus(conditions=[condition])))


def test_waits_until_ready_and_names_the_stragglers_with_their_logs(kube_api):
    from lightkube import Client, KubeConfig

    text = dump(kube_api.kubeconfig)
    client = Client(config=KubeConfig.from_dict(kube_api.kubeconfig), trust_env=False)
    try:
        _node(client, "n1", "True", "KubeletReady")
        _node(client, "n2", "False", "KubeletNotReady")
    finally:
        client.close()
    progress: list[str] = []
    wait_ready(text, ["n1"], timeout=5, progress=progress.append)
    assert progress[-1] == "all 1 nodes Ready"

    leaked = Secret("token-in-a-log-line-1234")
    with pytest.raises(RemoteError) as caught:
        wait_ready(
            text,
            ["n1", "n2", "n3"],
            timeout=0.5,
            log_tail=lambda name: f"{name}: starting with token {leaked.reveal()}",
        )
    error = caught.value
    assert "2 node(s) not Ready" in str(error)
    assert "n2, n3" in str(error)
    assert "--- n2: Ready=False KubeletNotReady" in error.output
    assert "--- n3: Ready=absent not registered with the API" in error.output
    assert "n2: starting with token ***" in error.output
    assert leaked.reveal() not in error.output


def test_registered_is_enough_while_the_cni_is_an_addon_and_the_reason_is_kept(kube_api):
    """A kubelet without a CNI posts Ready=False: registered, not Ready; absent is neither."""
    from lightkube import Client, KubeConfig

    text = dump(kube_api.kubeconfig)
    client = Client(config=KubeConfig.from_dict(kube_api.kubeconfig), trust_env=False)
    try:
        _node(client, "n1", "False", "KubeletNotReady", "cni plugin not initialized")
    finally:
        client.close()
    progress: list[str] = []
    seen = wait_ready(text, ["n1"], timeout=5, progress=progress.append, until="registered")
    assert progress[-1] == "all 1 nodes registered"
    assert seen["n1"].describe() == "Ready=False KubeletNotReady cni plugin not initialized"
    with pytest.raises(RemoteError) as caught:
        wait_ready(text, ["n1"], timeout=0.5)
    assert "--- n1: Ready=False KubeletNotReady cni plugin not initialized" in caught.value.output
    with pytest.raises(RemoteError, match=r"1 node\(s\) not registered after 0.5s: n9"):
        wait_ready(text, ["n1", "n9"], timeout=0.5, until="registered")
