"""What kubeadm writes through the API (v1.31 line; kubernetes/kubernetes
``cmd/kubeadm/app/phases``):

* ``uploadconfig``: ConfigMaps ``kube-system/kubeadm-config`` (``ClusterConfiguration``) and
  ``kubelet-config`` (``kubelet``), each with a Role/RoleBinding letting bootstrap tokens and
  nodes read it (``kubeadm:nodes-kubeadm-config``, ``kubeadm:kubelet-config``);
* ``copycerts`` (``upload-certs``): Secret ``kube-system/kubeadm-certs``, the shared CAs, service
  account keys and front-proxy/etcd CAs, each encrypted with the certificate key; Role and
  RoleBinding ``kubeadm:kubeadm-certs`` for the bootstrap token group. kubeadm encrypts with
  AES-GCM; the twin (standard library + ``openssl`` CLI, which has no GCM) with AES-256-CTR plus
  an HMAC-SHA256 tag — same key, authenticated; a wrong key fails either way;
* ``markcontrolplane``: label ``node-role.kubernetes.io/control-plane: ""`` and
  ``node.kubernetes.io/exclude-from-external-load-balancers: ""``, taint
  ``node-role.kubernetes.io/control-plane:NoSchedule`` (or ``nodeRegistration.taints``);
* ``bootstraptoken``: Secret ``bootstrap-token-<id>`` (type ``bootstrap.kubernetes.io/token``,
  ``expiration`` from the TTL); ClusterRoleBindings ``kubeadm:kubelet-bootstrap``,
  ``kubeadm:node-autoapprove-bootstrap``, ``kubeadm:node-autoapprove-certificate-rotation``,
  ``kubeadm:get-nodes``; ConfigMap ``kube-public/cluster-info`` (a kubeconfig with the CA and
  the control-plane endpoint) readable by ``system:anonymous``;
* the ClusterRoleBinding ``kubeadm:cluster-admins`` (made with ``super-admin.conf``);
* ``addons``: CoreDNS and kube-proxy (objects only; nothing runs in the twin).

``kubeadm token create`` fails when a token with that id exists (``CreateNewTokens`` →
``UpdateOrCreateTokens(failIfExists=true)``, ``phases/bootstraptoken/node/token.go``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from typing import Any

from . import certs
from . import constants as c
from .client import ApiError, Client

RBAC = "rbac.authorization.k8s.io"
SHARED_CERTS = ("ca.crt", "ca.key", "sa.key", "sa.pub", "front-proxy-ca.crt",
                "front-proxy-ca.key", "etcd/ca.crt", "etcd/ca.key")  # fmt: skip


def _yaml(document: Any) -> str:
    return json.dumps(document, indent=2)  # JSON is YAML: kubeadm reads either


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def role(client: Client, namespace: str, name: str, rules: list[dict[str, Any]],
         subjects: list[dict[str, Any]]) -> None:  # fmt: skip
    base = f"/apis/{RBAC}/v1/namespaces/{namespace}"
    client.create_or_update(f"{base}/roles", {"apiVersion": f"{RBAC}/v1", "kind": "Role",
                                              "metadata": {"name": name, "namespace": namespace},
                                              "rules": rules})  # fmt: skip
    client.create_or_update(
        f"{base}/rolebindings",
        {
            "apiVersion": f"{RBAC}/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": namespace},
            "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": name},
            "subjects": subjects,
        },
    )


def cluster_binding(client: Client, name: str, cluster_role: str,
                    subjects: list[dict[str, Any]]) -> None:  # fmt: skip
    client.create_or_update(
        f"/apis/{RBAC}/v1/clusterrolebindings",
        {
            "apiVersion": f"{RBAC}/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": cluster_role},
            "subjects": subjects,
        },
    )


def group(name: str) -> dict[str, str]:
    return {"apiGroup": RBAC, "kind": "Group", "name": name}


def cluster_admins(super_admin: Client) -> None:
    cluster_binding(super_admin, "kubeadm:cluster-admins", "cluster-admin",
                    [group(c.CLUSTER_ADMINS_GROUP)])  # fmt: skip


def upload_config(client: Client, cluster: dict[str, Any], kubelet: dict[str, Any]) -> None:
    readers = [group(c.NODE_BOOTSTRAP_TOKEN_GROUP), group("system:nodes")]
    for name, key, document in ((c.KUBEADM_CONFIG_MAP, "ClusterConfiguration", cluster),
                                (c.KUBELET_CONFIG_MAP, "kubelet", kubelet)):  # fmt: skip
        client.create_or_update(
            "/api/v1/namespaces/kube-system/configmaps",
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": "kube-system"},
                "data": {key: _yaml(document)},
            },
        )
        role_name = ("kubeadm:nodes-kubeadm-config" if name == c.KUBEADM_CONFIG_MAP
                     else "kubeadm:kubelet-config")  # fmt: skip
        role(client, "kube-system", role_name,
             [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"],
               "resourceNames": [name]}], readers)  # fmt: skip


def _keystream_encrypt(key_hex: str, plain: bytes) -> str:
    iv = os.urandom(16)
    cipher = certs.openssl("enc", "-aes-256-ctr", "-K", key_hex, "-iv", iv.hex(), stdin=plain)
    tag = hmac.new(bytes.fromhex(key_hex), iv + cipher, hashlib.sha256).digest()
    return base64.b64encode(iv + cipher + tag).decode()


def _keystream_decrypt(key_hex: str, sealed: str) -> bytes:
    raw = base64.b64decode(sealed)
    iv, cipher, tag = raw[:16], raw[16:-32], raw[-32:]
    expected = hmac.new(bytes.fromhex(key_hex), iv + cipher, hashlib.sha256).digest()
    if not hmac.compare_digest(tag, expected):
        raise ValueError("cipher: message authentication failed")
    return certs.openssl("enc", "-d", "-aes-256-ctr", "-K", key_hex, "-iv", iv.hex(),
                         stdin=cipher)  # fmt: skip


def _check_key(key_hex: str) -> None:
    try:
        if len(bytes.fromhex(key_hex)) != 32:
            raise ValueError
    except ValueError:
        raise ValueError("error decoding certificate key: the key must be 32 bytes of hex "
                         "(kubeadm certs certificate-key)") from None  # fmt: skip


def upload_certs(client: Client, pki: str, key_hex: str) -> None:
    _check_key(key_hex)
    data = {}
    for name in SHARED_CERTS:
        with open(f"{pki}/{name}", "rb") as handle:
            data[name.replace("/", "-")] = base64.b64encode(
                _keystream_encrypt(key_hex, handle.read()).encode()
            ).decode()
    client.create_or_update(
        "/api/v1/namespaces/kube-system/secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": c.KUBEADM_CERTS_SECRET, "namespace": "kube-system"},
            "data": data,
        },
    )
    role(client, "kube-system", "kubeadm:kubeadm-certs",
         [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"],
           "resourceNames": [c.KUBEADM_CERTS_SECRET]}],
         [group(c.NODE_BOOTSTRAP_TOKEN_GROUP)])  # fmt: skip


def download_certs(client: Client, pki: str, key_hex: str) -> None:
    _check_key(key_hex)
    try:
        secret = client.get(f"/api/v1/namespaces/kube-system/secrets/{c.KUBEADM_CERTS_SECRET}")
    except ApiError as error:
        raise RuntimeError(f"error downloading the secret: {error} (the certificates are deleted "
                           "2 hours after upload: re-upload them with `kubeadm init phase "
                           "upload-certs --upload-certs`)") from None  # fmt: skip
    for name in SHARED_CERTS:
        sealed = base64.b64decode(secret["data"][name.replace("/", "-")]).decode()
        try:
            plain = _keystream_decrypt(key_hex, sealed)
        except ValueError as error:
            raise RuntimeError(f"error decoding secret data with provided key: {error}") from None
        certs.write(f"{pki}/{name}", plain, 0o600 if name.endswith((".key", ".pub")) else 0o644)


def _ttl_seconds(ttl: str) -> int:
    total, number = 0, ""
    for char in ttl:
        if char.isdigit() or char == ".":
            number += char
        else:
            total += int(float(number or 0) * {"h": 3600, "m": 60, "s": 1}[char])
            number = ""
    return total


def token_secret(token: dict[str, Any]) -> dict[str, Any]:
    token_id, secret = str(token["token"]).split(".")
    data = {"token-id": token_id, "token-secret": secret,
            "description": str(token.get("description", ""))}  # fmt: skip
    ttl = _ttl_seconds(str(token.get("ttl", "24h0m0s")))
    if ttl:
        data["expiration"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + ttl))
    for usage in token.get("usages") or ["signing", "authentication"]:
        data[f"usage-bootstrap-{usage}"] = "true"
    groups = token.get("groups") or [c.NODE_BOOTSTRAP_TOKEN_GROUP]
    data["auth-extra-groups"] = ",".join(groups)
    return {"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
            "metadata": {"name": f"bootstrap-token-{token_id}", "namespace": "kube-system"},
            "data": {k: _b64(v) for k, v in data.items()}}  # fmt: skip


def create_tokens(client: Client, tokens: list[dict[str, Any]], *, fail_if_exists: bool) -> None:
    collection = "/api/v1/namespaces/kube-system/secrets"
    for token in tokens:
        secret = token_secret(token)
        name = secret["metadata"]["name"]
        if fail_if_exists:
            try:
                client.get(f"{collection}/{name}")
            except ApiError as error:
                if error.code != 404:
                    raise
            else:
                raise RuntimeError(f"a token with id {name.removeprefix('bootstrap-token-')!r} "
                                   "already exists")  # fmt: skip
        client.create_or_update(collection, secret)


def bootstrap_token_rbac(client: Client, ca_pem: str, endpoint: str) -> None:
    bootstrappers = [group(c.NODE_BOOTSTRAP_TOKEN_GROUP)]
    cluster_binding(client, "kubeadm:kubelet-bootstrap", "system:node-bootstrapper", bootstrappers)
    cluster_binding(client, "kubeadm:node-autoapprove-bootstrap",
                    "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
                    bootstrappers)  # fmt: skip
    cluster_binding(client, "kubeadm:node-autoapprove-certificate-rotation",
                    "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
                    [group("system:nodes")])  # fmt: skip
    client.create_or_update(
        f"/apis/{RBAC}/v1/clusterroles",
        {
            "apiVersion": f"{RBAC}/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "kubeadm:get-nodes"},
            "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}],
        },
    )
    cluster_binding(client, "kubeadm:get-nodes", "kubeadm:get-nodes", bootstrappers)
    kubeconfig = (
        "apiVersion: v1\nclusters:\n- cluster:\n"
        f"    certificate-authority-data: {_b64(ca_pem)}\n    server: https://{endpoint}\n"
        '  name: ""\ncontexts: null\ncurrent-context: ""\nkind: Config\npreferences: {}\n'
        "users: null\n"
    )
    client.create_or_update(
        "/api/v1/namespaces/kube-public/configmaps",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": c.CLUSTER_INFO, "namespace": "kube-public"},
            "data": {"kubeconfig": kubeconfig},
        },
    )
    role(client, "kube-public", "kubeadm:bootstrap-signer-clusterinfo",
         [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"],
           "resourceNames": [c.CLUSTER_INFO]}],
         [{"apiGroup": RBAC, "kind": "User", "name": "system:anonymous"}])  # fmt: skip


def mark_control_plane(client: Client, node: str, taints: list[dict[str, Any]] | None) -> None:
    path = f"/api/v1/nodes/{node}"
    current = client.get(path)
    labels = {**(current["metadata"].get("labels") or {}), c.CONTROL_PLANE_LABEL: "",
              c.EXCLUDE_LB_LABEL: ""}  # fmt: skip
    wanted = [dict(c.CONTROL_PLANE_TAINT)] if taints is None else [dict(t) for t in taints]
    existing = (current.get("spec") or {}).get("taints") or []
    merged = existing + [t for t in wanted if t not in existing]
    client.patch(path, {"metadata": {"labels": labels}, "spec": {"taints": merged}})


def addons(client: Client, cluster: dict[str, Any], proxy: dict[str, Any] | None) -> None:
    """CoreDNS and (unless ``proxy.disabled``) kube-proxy, as objects."""
    import ipaddress

    service = ipaddress.ip_network(cluster["networking"]["serviceSubnet"].split(",")[0],
                                   strict=False)  # fmt: skip
    repo = cluster["imageRepository"]
    ns = "/api/v1/namespaces/kube-system"
    apps = "/apis/apps/v1/namespaces/kube-system"
    labels = {"k8s-app": "kube-dns"}
    client.create_or_update(
        f"{ns}/serviceaccounts",
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "coredns", "namespace": "kube-system"},
        },
    )
    client.create_or_update(
        f"{ns}/configmaps",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "coredns", "namespace": "kube-system"},
            "data": {
                "Corefile": f".:53 {{\n    kubernetes {cluster['networking']['dnsDomain']} "
                "in-addr.arpa ip6.arpa\n    forward . /etc/resolv.conf\n}\n"
            },
        },
    )
    client.create_or_update(
        f"{apps}/deployments",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "coredns", "namespace": "kube-system", "labels": labels},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": "coredns",
                        "priorityClassName": "system-cluster-critical",
                        "containers": [
                            {
                                "name": "coredns",
                                "image": f"{repo}/coredns/coredns:{c.COREDNS_VERSION}",
                            }
                        ],
                    },
                },
            },
        },
    )
    client.create_or_update(
        f"{ns}/services",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": labels},
            "spec": {
                "selector": labels,
                "clusterIP": str(service.network_address + 10),
                "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}],
            },
        },
    )
    if proxy is None:
        return
    proxy_labels = {"k8s-app": "kube-proxy"}
    client.create_or_update(
        f"{ns}/configmaps",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
            "data": {"config.conf": _yaml(proxy)},
        },
    )
    client.create_or_update(
        f"{apps}/daemonsets",
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "kube-proxy", "namespace": "kube-system", "labels": proxy_labels},
            "spec": {
                "selector": {"matchLabels": proxy_labels},
                "template": {
                    "metadata": {"labels": proxy_labels},
                    "spec": {
                        "hostNetwork": True,
                        "priorityClassName": "system-node-critical",
                        "tolerations": [{"operator": "Exists"}],
                        "containers": [
                            {
                                "name": "kube-proxy",
                                "image": f"{repo}/kube-proxy:{cluster['kubernetesVersion']}",
                            }
                        ],
                    },
                },
            },
        },
    )
