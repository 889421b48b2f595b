"""kubeadm's configuration documents for one node, rendered from the spec.

* first server: ``InitConfiguration`` + ``ClusterConfiguration`` + ``KubeletConfiguration``
  (+ ``KubeProxyConfiguration`` unless the CNI replaces kube-proxy) for ``kubeadm init``;
* further servers: ``JoinConfiguration`` with ``controlPlane`` (certificate key) for
  ``kubeadm join``; agents: ``JoinConfiguration`` without it.

The user's ``serverConfig``/``agentConfig`` (kinds → fields, checked by :mod:`.schema` when the
config is loaded) are merged over what the tool renders: mappings key by key, everything else
replaced. Secrets are the plan's (``SECRET_MARKER`` when rendering for review).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sloth_kubernetes.plugin import DistroPlan, NodeRecord

from . import join_secrets
from .schema import api_types

CRI_SOCKET = "unix:///run/containerd/containerd.sock"
BOOTSTRAP_TTL = "24h0m0s"
ETCD_DATA_DIR = "/var/lib/etcd"
#: what `render` shows where the cluster CA's pin will be (it needs the cluster secret)
CA_PIN_MARKER = "<sha256 pin of the cluster CA: derived from the cluster secret at `up`>"


def kind(name: str, body: Mapping[str, Any]) -> dict[str, Any]:
    return {"apiVersion": api_types().kinds[name], "kind": name, **body}


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` merged into ``base``: mappings key by key, lists and scalars replaced."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _secrets(plan: DistroPlan) -> tuple[str, str, str]:
    """Bootstrap token, certificate key and CA pin (markers when rendering for review)."""
    if not plan.reveal:
        marker = plan.secret(None)
        return marker, marker, CA_PIN_MARKER
    secret = plan.secret(plan.token)
    return (
        join_secrets.bootstrap_token(secret),
        join_secrets.certificate_key(secret),
        join_secrets.cluster_ca(secret)[2],
    )


def endpoint(plan: DistroPlan, port: int) -> str:
    host = plan.join_address
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def node_registration(plan: DistroPlan, node: NodeRecord, *, server: bool) -> dict[str, Any]:
    args = [{"name": "node-ip", "value": plan.addresses[node.name]}]
    labels = ",".join(f"{k}={v}" for k, v in sorted(node.labels.items()))
    if labels:
        args.append({"name": "node-labels", "value": labels})
    registration: dict[str, Any] = {
        "name": node.name,
        "criSocket": CRI_SOCKET,
        "kubeletExtraArgs": args,
    }
    if server and node.roles and "agent" in node.roles:
        registration["taints"] = []  # a server that is also an agent runs workloads
    return registration


def replaces_kube_proxy(plan: DistroPlan) -> bool:
    settings = getattr(plan.config.spec.kubernetes.cni, "settings", None)
    return bool(getattr(settings, "kube_proxy_replacement", False))


def user(plan: DistroPlan, where: str, name: str) -> Mapping[str, Any]:
    extra = (
        plan.kubernetes.server_config if where == "serverConfig" else plan.kubernetes.agent_config
    )
    body = extra.get(name) if isinstance(extra, Mapping) else None
    return body if isinstance(body, Mapping) else {}


def init_documents(plan: DistroPlan, node: NodeRecord, api_port: int) -> list[dict[str, Any]]:
    token, certificate_key, _pin = _secrets(plan)
    kubernetes = plan.kubernetes
    init = {
        "bootstrapTokens": [
            {
                "token": token,
                "description": "sloth-kubernetes join token (re-created before joins)",
                "ttl": BOOTSTRAP_TTL,
                "usages": ["signing", "authentication"],
                "groups": ["system:bootstrappers:kubeadm:default-node-token"],
            }
        ],
        "certificateKey": certificate_key,
        "localAPIEndpoint": {"advertiseAddress": plan.addresses[node.name], "bindPort": api_port},
        "nodeRegistration": node_registration(plan, node, server=True),
    }
    cluster: dict[str, Any] = {
        "clusterName": plan.config.metadata.name,
        "kubernetesVersion": plan.version,
        "controlPlaneEndpoint": endpoint(plan, api_port),
        "networking": {
            "podSubnet": kubernetes.pod_cidr,
            "serviceSubnet": kubernetes.service_cidr,
        },
        # the endpoint too: registrationAddress may be a load balancer in front of the servers
        "apiServer": {"certSANs": list(dict.fromkeys([*plan.tls_sans, plan.join_address]))},
        "etcd": {"local": {"dataDir": ETCD_DATA_DIR}},
    }
    if replaces_kube_proxy(plan):
        cluster["proxy"] = {"disabled": True}
    kubelet = {"cgroupDriver": "systemd", "rotateCertificates": True}
    documents = [
        kind("InitConfiguration", merge(init, user(plan, "serverConfig", "InitConfiguration"))),
        kind(
            "ClusterConfiguration",
            merge(cluster, user(plan, "serverConfig", "ClusterConfiguration")),
        ),
        kind(
            "KubeletConfiguration",
            merge(kubelet, user(plan, "serverConfig", "KubeletConfiguration")),
        ),
    ]
    if not replaces_kube_proxy(plan):
        proxy = {"clusterCIDR": kubernetes.pod_cidr}
        documents.append(
            kind(
                "KubeProxyConfiguration",
                merge(proxy, user(plan, "serverConfig", "KubeProxyConfiguration")),
            )
        )
    return documents


def join_document(
    plan: DistroPlan, node: NodeRecord, api_port: int, *, server: bool
) -> dict[str, Any]:
    token, certificate_key, pin = _secrets(plan)
    join: dict[str, Any] = {
        "discovery": {
            "bootstrapToken": {
                "token": token,
                "apiServerEndpoint": endpoint(plan, api_port),
                "caCertHashes": [pin],
            }
        },
        "nodeRegistration": node_registration(plan, node, server=server),
    }
    if server:
        join["controlPlane"] = {
            "localAPIEndpoint": {
                "advertiseAddress": plan.addresses[node.name],
                "bindPort": api_port,
            },
            "certificateKey": certificate_key,
        }
    where = "serverConfig" if server else "agentConfig"
    return kind("JoinConfiguration", merge(join, user(plan, where, "JoinConfiguration")))


def documents_for(plan: DistroPlan, node: NodeRecord, api_port: int) -> list[dict[str, Any]]:
    if node.name == plan.first_server:
        return init_documents(plan, node, api_port)
    return [join_document(plan, node, api_port, server=node.is_server)]
