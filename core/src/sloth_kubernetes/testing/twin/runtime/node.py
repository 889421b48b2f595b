"""A node registering itself and posting its status, as the kubelet does (kubernetes v1.31
``pkg/kubelet/kubelet_node_status.go``), with the labels K3s/RKE2 add.

Labels: ``kubernetes.io/hostname``, ``kubernetes.io/os``, ``kubernetes.io/arch`` and their beta
forms (kubelet); ``node.kubernetes.io/instance-type`` = ``k3s``/``rke2`` (k3s-io/k3s
``pkg/cloudprovider``); servers ``node-role.kubernetes.io/control-plane`` and ``master`` (K3s
``pkg/agent/run.go``) and ``etcd`` (``pkg/etcd/metadata_controller.go``), all ``"true"``;
``node-label``/``node-taint`` from the config. InternalIP = the first ``node-ip``.
The Ready condition is posted every 10 s (``node-status-update-frequency``); the servers' node
lifecycle controller marks a node whose posts stopped for 40 s (``node-monitor-grace-period``)
``Unknown`` with reason ``NodeStatusUnknown`` (``pkg/controller/nodelifecycle``).
Nothing runs on the node: no kubelet, no containerd, no pods.
"""

from __future__ import annotations

import calendar
import json
import os
import ssl
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

from .config import as_list
from .facts import Facts
from .store import now

HEARTBEAT_SECONDS = 10.0
BOOT_ID = str(uuid.uuid4())  # a new one per start, as the kernel's boot id per boot
GRACE_SECONDS = 40.0


def node_object(facts: Facts, config: dict[str, Any], *, server: bool) -> dict[str, Any]:
    name = str(config["node-name"])
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": facts.distro,
    }
    if server:
        for role in ("control-plane", "master", "etcd"):
            labels[f"node-role.kubernetes.io/{role}"] = "true"
    for label in as_list(config, "node-label"):
        key, _, value = label.partition("=")
        labels[key] = value
    taints = []
    for taint in as_list(config, "node-taint"):
        key_value, _, effect = taint.partition(":")
        key, _, value = key_value.partition("=")
        taints.append(
            {"key": key, "value": value, "effect": effect}
            if value
            else {"key": key, "effect": effect}
        )
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {"sloth.twin/not-a-real-kubelet": "true"},
        },
        "spec": {"taints": taints} if taints else {},
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": as_list(config, "node-ip")[0]},
                {"type": "Hostname", "address": name},
            ],
            "conditions": [ready_condition(network=False)],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                # every field the kubelet posts (clients such as lightkube require them)
                "machineID": _machine_id(),
                "systemUUID": _machine_id(),
                "bootID": BOOT_ID,
                "kernelVersion": os.uname().release,
                "kubeletVersion": facts.version,
                "kubeProxyVersion": facts.version,
                "containerRuntimeVersion": "none://sloth-twin",
                "osImage": "sloth twin (no containers run)",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    }


NOT_READY_MESSAGE = (
    "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
    "message:Network plugin returns error: cni plugin not initialized"
)


def ready_condition(network: bool) -> dict[str, str]:
    """The kubelet's Ready condition (kubernetes v1.31 ``pkg/kubelet/nodestatus/setters.go``,
    ReadyCondition): not Ready while the runtime reports no pod network — a K3s node with
    ``flannel-backend: none`` or an RKE2 node with ``cni: none`` until a CNI runs."""
    stamp = now()
    ready = {
        "status": "True",
        "reason": "KubeletReady",
        "message": "kubelet is posting ready status",
    }
    not_ready = {"status": "False", "reason": "KubeletNotReady", "message": NOT_READY_MESSAGE}
    return {
        "type": "Ready",
        **(ready if network else not_ready),
        "lastHeartbeatTime": stamp,
        "lastTransitionTime": stamp,
    }


class ApiClient:
    """HTTPS to the API with a client certificate (as the kubelet uses its own)."""

    def __init__(self, url: str, ca: str, cert: str, key: str) -> None:
        self.url = url.rstrip("/")
        context = ssl.create_default_context(cafile=ca)
        context.check_hostname = False  # the kubelet checks the CA, the address is any server's
        context.load_cert_chain(cert, key)
        self.context = context

    def call(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=10, context=self.context) as reply:
                return reply.status, json.loads(reply.read() or b"null")
        except urllib.error.HTTPError as error:
            text = error.read()
            try:
                return error.code, json.loads(text)
            except ValueError:
                return error.code, text.decode(errors="replace")


def register(client: ApiClient, node: dict[str, Any]) -> bool:
    """Create the Node, or post its status when it exists (a restarted kubelet)."""
    try:
        code, _ = client.call("POST", "/api/v1/nodes", node)
        if code == 201:
            return True
        if code == 409:
            return heartbeat(client, node["metadata"]["name"])
    except OSError:
        pass
    return False


def heartbeat(client: ApiClient, name: str) -> bool:
    """Post the node's status again: a new ``lastHeartbeatTime``; whether the pod network is
    ready is kept as the servers last judged it (see :func:`network_verdict`)."""
    try:
        code, node = client.call("GET", f"/api/v1/nodes/{name}")
        if code != 200:
            return False
        for condition in node.get("status", {}).get("conditions") or []:
            if condition.get("type") == "Ready":
                if condition.get("status") == "Unknown":  # posting again after a silence
                    condition.update(ready_condition(network=False))
                condition["lastHeartbeatTime"] = now()
        code, _ = client.call("PUT", f"/api/v1/nodes/{name}/status", node)
    except OSError:
        return False
    return code == 200


def network_verdict(node: dict[str, Any], network: bool) -> dict[str, Any] | None:
    """The node with its Ready condition set for ``network`` (None when nothing changes or the
    node is silent). In a real cluster each kubelet asks its own container runtime; the twin
    has none, so the servers decide from the model whether a CNI runs in the cluster."""
    for condition in node.get("status", {}).get("conditions") or []:
        if condition.get("type") != "Ready" or condition.get("status") == "Unknown":
            continue
        if (condition.get("status") == "True") == network:
            return None
        beat = condition.get("lastHeartbeatTime")
        condition.update(ready_condition(network))
        condition["lastHeartbeatTime"] = beat
        return node
    return None


def stale(node: dict[str, Any]) -> bool:
    for condition in node.get("status", {}).get("conditions") or []:
        if condition.get("type") == "Ready" and condition.get("status") != "Unknown":
            beat = calendar.timegm(
                time.strptime(condition["lastHeartbeatTime"], "%Y-%m-%dT%H:%M:%SZ")
            )
            return time.time() - beat > GRACE_SECONDS
    return False


def unknown(node: dict[str, Any]) -> dict[str, Any]:
    for condition in node["status"]["conditions"]:
        if condition.get("type") == "Ready":
            condition.update(
                status="Unknown",
                reason="NodeStatusUnknown",
                message="Kubelet stopped posting node status.",
                lastTransitionTime=now(),
            )
    return node


def _machine_id() -> str:
    try:
        with open("/etc/machine-id", encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return ""
