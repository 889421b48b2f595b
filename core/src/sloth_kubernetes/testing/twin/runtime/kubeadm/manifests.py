"""The static pod manifests kubeadm writes to ``/etc/kubernetes/manifests``.

Commands and flags from kubernetes/kubernetes ``cmd/kubeadm/app/phases/controlplane/manifests.go``
(``getAPIServerCommand``, ``getControllerManagerCommand``, ``getSchedulerCommand``) and
``cmd/kubeadm/app/phases/etcd/local.go`` (``getEtcdCommand``, the
``kubeadm.kubernetes.io/etcd.advertise-client-urls`` annotation joining control-plane nodes
read), v1.31 line. ``extraArgs`` of ``apiServer``/``controllerManager``/``scheduler``/
``etcd.local`` replace or add flags by name. Images: ``<imageRepository>/<component>:<version>``,
etcd ``3.5.15-0``. The twin's kubelet runs the etcd command with the real etcd; it runs its own
stand-ins for the others with the flags below.
"""

from __future__ import annotations

from typing import Any

from . import constants as c
from .configs import extra_args


def _command(binary: str, defaults: dict[str, str], extra: Any) -> list[str]:
    flags = {**defaults, **extra_args(extra)}
    return [binary, *(f"--{name}={value}" for name, value in sorted(flags.items()))]


def _pod(name: str, image: str, command: list[str], annotations: dict[str, str],
         volumes: list[tuple[str, str]], port: int | None = None) -> dict[str, Any]:  # fmt: skip
    live = {"host": "127.0.0.1", "path": "/livez", "port": port, "scheme": "HTTPS"}
    probe = {"livenessProbe": {"httpGet": live}} if port else {}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "kube-system",
            "labels": {"component": name, "tier": "control-plane"},
            "annotations": annotations,
        },
        "spec": {
            "hostNetwork": True,
            "priority": 2000001000,
            "priorityClassName": "system-node-critical",
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": name,
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "command": command,
                    "volumeMounts": [{"name": v, "mountPath": p} for v, p in volumes],
                    **probe,
                }
            ],
            "volumes": [
                {"name": v, "hostPath": {"path": p, "type": "DirectoryOrCreate"}}
                for v, p in volumes
            ],
        },
    }


def etcd(cluster: dict[str, Any], node: str, advertise: str,
         initial_cluster: str | None = None) -> dict[str, Any]:  # fmt: skip
    """``etcd.yaml``; ``initial_cluster`` (``name=peerURL,...``) when joining an existing one."""
    local = cluster["etcd"]["local"]
    pki = f"{cluster['certificatesDir']}/etcd"
    client, peer = f"https://{advertise}:2379", f"https://{advertise}:2380"
    flags = {
        "name": node, "data-dir": str(local["dataDir"]),
        "advertise-client-urls": client, "initial-advertise-peer-urls": peer,
        "listen-client-urls": f"https://127.0.0.1:2379,{client}", "listen-peer-urls": peer,
        "listen-metrics-urls": "http://127.0.0.1:2381",
        "cert-file": f"{pki}/server.crt", "key-file": f"{pki}/server.key",
        "trusted-ca-file": f"{pki}/ca.crt", "client-cert-auth": "true",
        "peer-cert-file": f"{pki}/peer.crt", "peer-key-file": f"{pki}/peer.key",
        "peer-trusted-ca-file": f"{pki}/ca.crt", "peer-client-cert-auth": "true",
        "snapshot-count": "10000", "experimental-initial-corrupt-check": "true",
        "experimental-watch-progress-notify-interval": "5s",
        "initial-cluster": initial_cluster or f"{node}={peer}",
    }  # fmt: skip
    if initial_cluster:
        flags["initial-cluster-state"] = "existing"
    image = f"{cluster['imageRepository']}/etcd:{c.ETCD_VERSION}"
    return _pod("etcd", image, _command("etcd", flags, local.get("extraArgs")),
                {c.ETCD_ADVERTISE_ANNOTATION: client},
                [("etcd-data", str(local["dataDir"])), ("etcd-certs", pki)])  # fmt: skip


def kube_apiserver(cluster: dict[str, Any], advertise: str, port: int,
                   version: str) -> dict[str, Any]:  # fmt: skip
    pki = str(cluster["certificatesDir"])
    networking = cluster["networking"]
    flags = {
        "advertise-address": advertise, "allow-privileged": "true",
        "authorization-mode": "Node,RBAC", "client-ca-file": f"{pki}/ca.crt",
        "enable-admission-plugins": "NodeRestriction", "enable-bootstrap-token-auth": "true",
        "etcd-cafile": f"{pki}/etcd/ca.crt", "etcd-certfile": f"{pki}/apiserver-etcd-client.crt",
        "etcd-keyfile": f"{pki}/apiserver-etcd-client.key",
        "etcd-servers": "https://127.0.0.1:2379",
        "kubelet-client-certificate": f"{pki}/apiserver-kubelet-client.crt",
        "kubelet-client-key": f"{pki}/apiserver-kubelet-client.key",
        "kubelet-preferred-address-types": "InternalIP,ExternalIP,Hostname",
        "proxy-client-cert-file": f"{pki}/front-proxy-client.crt",
        "proxy-client-key-file": f"{pki}/front-proxy-client.key",
        "requestheader-allowed-names": "front-proxy-client",
        "requestheader-client-ca-file": f"{pki}/front-proxy-ca.crt",
        "requestheader-extra-headers-prefix": "X-Remote-Extra-",
        "requestheader-group-headers": "X-Remote-Group",
        "requestheader-username-headers": "X-Remote-User",
        "secure-port": str(port),
        "service-account-issuer": f"https://kubernetes.default.svc.{networking['dnsDomain']}",
        "service-account-key-file": f"{pki}/sa.pub",
        "service-account-signing-key-file": f"{pki}/sa.key",
        "service-cluster-ip-range": str(networking["serviceSubnet"]),
        "tls-cert-file": f"{pki}/apiserver.crt", "tls-private-key-file": f"{pki}/apiserver.key",
    }  # fmt: skip
    image = f"{cluster['imageRepository']}/kube-apiserver:{version}"
    api = cluster.get("apiServer") or {}
    return _pod("kube-apiserver", image, _command("kube-apiserver", flags, api.get("extraArgs")),
                {c.API_ADVERTISE_ANNOTATION: f"{advertise}:{port}"},
                [("k8s-certs", pki), ("ca-certs", "/etc/ssl/certs")], port)  # fmt: skip


def kube_controller_manager(cluster: dict[str, Any], version: str) -> dict[str, Any]:
    pki = str(cluster["certificatesDir"])
    networking = cluster["networking"]
    conf = c.CONTROLLER_MANAGER_CONF
    flags = {
        "authentication-kubeconfig": conf, "authorization-kubeconfig": conf,
        "bind-address": "127.0.0.1", "client-ca-file": f"{pki}/ca.crt",
        "cluster-name": str(cluster["clusterName"]),
        "cluster-signing-cert-file": f"{pki}/ca.crt", "cluster-signing-key-file": f"{pki}/ca.key",
        "controllers": "*,bootstrapsigner,tokencleaner", "kubeconfig": conf,
        "leader-elect": "true", "requestheader-client-ca-file": f"{pki}/front-proxy-ca.crt",
        "root-ca-file": f"{pki}/ca.crt", "service-account-private-key-file": f"{pki}/sa.key",
        "use-service-account-credentials": "true",
    }  # fmt: skip
    if networking.get("podSubnet"):
        flags["allocate-node-cidrs"] = "true"
        flags["cluster-cidr"] = str(networking["podSubnet"])
        flags["service-cluster-ip-range"] = str(networking["serviceSubnet"])
    image = f"{cluster['imageRepository']}/kube-controller-manager:{version}"
    extra = (cluster.get("controllerManager") or {}).get("extraArgs")
    return _pod("kube-controller-manager", image,
                _command("kube-controller-manager", flags, extra), {},
                [("k8s-certs", pki), ("kubeconfig", conf)])  # fmt: skip


def kube_scheduler(cluster: dict[str, Any], version: str) -> dict[str, Any]:
    conf = c.SCHEDULER_CONF
    flags = {"authentication-kubeconfig": conf, "authorization-kubeconfig": conf,
             "bind-address": "127.0.0.1", "kubeconfig": conf, "leader-elect": "true"}  # fmt: skip
    image = f"{cluster['imageRepository']}/kube-scheduler:{version}"
    extra = (cluster.get("scheduler") or {}).get("extraArgs")
    return _pod("kube-scheduler", image, _command("kube-scheduler", flags, extra), {},
                [("kubeconfig", conf)])  # fmt: skip


def flags_of(pod: dict[str, Any]) -> dict[str, str]:
    """``--name=value`` flags of a static pod's first container."""
    found: dict[str, str] = {}
    for arg in pod["spec"]["containers"][0].get("command", [])[1:]:
        name, _, value = str(arg).removeprefix("--").partition("=")
        found[name] = value
    return found
