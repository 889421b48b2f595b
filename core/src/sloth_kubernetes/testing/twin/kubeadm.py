"""What kubeadm v1.31.4 runs on its own, for the model (standard library only).

kubeadm starts the control plane (static pods: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler) and two add-ons (``cmd/kubeadm/app/phases/addons``): **CoreDNS** and
**kube-proxy** — kube-proxy not when ``ClusterConfiguration.proxy.disabled`` (v1beta4). No CNI, no
helm-controller, no storage, no manifests directory: everything else is what the tool applies
through the API. A HelmChart does something only when a helm-controller runs, and before any
CNI only one that needs no pod network can run (host network, tolerating the not-ready taint:
:func:`runs_without_pod_network`) — the standalone helm-controller add-on of the kubeadm
plugin is rendered that way.

Not modelled here (the runtime twin does it, ``runtime/kubeadm``): that helm-controller's
``bootstrap`` jobs also need a node labelled ``node-role.kubernetes.io/control-plane: "true"``
(the kubeadm distro sets it), and PodSecurity: kubeadm configures no admission configuration, so
every namespace is ``privileged`` unless labelled otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .model import Component, Deployment, Finding

NOT_READY = "node.kubernetes.io/not-ready"


def runs_without_pod_network(deployment: Mapping[str, Any]) -> bool:
    """A Deployment's pods can run while every node is NotReady and no CNI runs: host network
    and a toleration of the not-ready taint (NotReady nodes carry it with NoSchedule)."""
    spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    tolerated = any(
        (t.get("operator") == "Exists" and not t.get("key")) or t.get("key") == NOT_READY
        for t in spec.get("tolerations") or []
    )
    return bool(spec.get("hostNetwork")) and tolerated


def kubeadm_deployment(
    version: str,
    config: Mapping[str, Any],
    manifests: Mapping[str, Sequence[Any]],
    node_name: str,
) -> Deployment:
    deployment = Deployment("kubeadm", version, node_name, dict(config))
    cluster = config.get("ClusterConfiguration")
    if not isinstance(cluster, Mapping) or "InitConfiguration" not in config:
        deployment.starts = False
        deployment.refused.append(
            Finding("kubeadm.yaml", "no InitConfiguration/ClusterConfiguration for kubeadm init")
        )
        return deployment
    deployment.components.append(Component("coredns", "dns", "kubeadm add-on"))
    if not (cluster.get("proxy") or {}).get("disabled"):
        deployment.components.append(Component("kube-proxy", "service-proxy", "kubeadm add-on"))
    for name, documents in manifests.items():
        for body in documents:
            if (
                isinstance(body, Mapping)
                and body.get("kind") == "Deployment"
                and (body.get("metadata") or {}).get("name") == "helm-controller"
                and runs_without_pod_network(body)
            ):
                deployment.components.append(
                    Component("helm-controller", "helm-controller", f"addon:{name}")
                )
    return deployment
