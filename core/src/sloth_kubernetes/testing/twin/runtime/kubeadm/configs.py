"""``--config`` as kubeadm v1.31 reads it: a multi-document YAML file of configuration kinds.

From kubernetes/kubernetes ``cmd/kubeadm/app/util/config`` (``initconfiguration.go``,
``joinconfiguration.go``, ``common.go``) and the v1beta4 defaults
(``cmd/kubeadm/app/apis/kubeadm/v1beta4/defaults.go``), v1.31 line:

* every document needs ``apiVersion`` and ``kind``; a kind kubeadm does not know for that
  version is an error (``no kind "X" is registered for version "Y"``), as is an old
  ``kubeadm.k8s.io`` version v1.31 no longer reads (v1beta1/v1beta2);
* ``kubeadm init`` needs no document but uses InitConfiguration, ClusterConfiguration and the
  component configs; a JoinConfiguration there is ignored with a warning (and the other way
  round for ``kubeadm join``);
* defaults used here: ``bindPort`` 6443, ``serviceSubnet`` 10.96.0.0/12, ``dnsDomain``
  cluster.local, ``certificatesDir`` /etc/kubernetes/pki, ``etcd.local.dataDir``
  /var/lib/etcd, ``imageRepository`` registry.k8s.io, ``clusterName`` kubernetes, the CRI
  socket ``unix:///var/run/containerd/containerd.sock``.

Unknown *fields* are warnings in kubeadm (``strict decoding error``, printed and ignored); the
twin does not check fields — the plugin checks them against the same upstream types before
anything is written (``sloth_distro_kubeadm.schema``).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from ..config import ConfigRefused, parse_yaml_documents

KINDS = {
    "kubeadm.k8s.io/v1beta4": {"InitConfiguration", "ClusterConfiguration", "JoinConfiguration"},
    "kubeadm.k8s.io/v1beta3": {"InitConfiguration", "ClusterConfiguration", "JoinConfiguration"},
    "kubelet.config.k8s.io/v1beta1": {"KubeletConfiguration"},
    "kubeproxy.config.k8s.io/v1alpha1": {"KubeProxyConfiguration"},
}
OLD = ("kubeadm.k8s.io/v1beta1", "kubeadm.k8s.io/v1beta2")
INIT_KINDS = {"InitConfiguration", "ClusterConfiguration", "KubeletConfiguration",
              "KubeProxyConfiguration"}  # fmt: skip


def load(path: str, command: str) -> dict[str, dict[str, Any]]:
    """kind → document of ``path`` for ``command`` (``init`` or ``join``), with defaults."""
    if not os.path.exists(path):
        raise ConfigRefused(f"unable to read config from {path!r}: no such file or directory")
    with open(path, encoding="utf-8") as handle:
        try:
            documents = parse_yaml_documents(handle.read())
        except Exception as error:  # ruamel's message names line and column
            raise ConfigRefused(f"{path}: not valid YAML: {error}") from None
    found: dict[str, dict[str, Any]] = {}
    for document in documents:
        if not isinstance(document, dict):
            raise ConfigRefused(f"{path}: a document is not a mapping")
        version, kind = str(document.get("apiVersion", "")), str(document.get("kind", ""))
        if not version or not kind:
            raise ConfigRefused(f"{path}: Object 'Kind' or 'apiVersion' is missing in a document")
        if version in OLD:
            raise ConfigRefused(
                f"{path}: your configuration file uses an old API spec: {version!r}. Please use "
                "kubeadm v1.22 instead and run 'kubeadm config migrate --old-config old.yaml "
                "--new-config new.yaml', which will write the new, similar spec using a newer "
                "API version."
            )
        if kind not in KINDS.get(version, set()):
            raise ConfigRefused(
                f'{path}: no kind "{kind}" is registered for version "{version}" in scheme '
                '"k8s.io/kubernetes/cmd/kubeadm/app/util/config/strict/strict.go"'
            )
        if kind in found:
            raise ConfigRefused(f"{path}: more than one {kind} document")
        found[kind] = document
    wanted = INIT_KINDS if command == "init" else {"JoinConfiguration"}
    for kind in list(found):
        if kind not in wanted and not (command == "join" and kind in INIT_KINDS - {
                "InitConfiguration", "ClusterConfiguration"}):  # fmt: skip
            print(
                f"W0000 [config] WARNING: Ignored configuration document with GroupVersionKind "
                f"{found[kind]['apiVersion']}, Kind={kind}",
                file=sys.stderr,
            )
            del found[kind]
    if command == "join" and "JoinConfiguration" not in found:
        raise ConfigRefused(f"{path}: no JoinConfiguration document (kubeadm join needs one)")
    return _defaults(found, command)


def _defaults(found: dict[str, dict[str, Any]], command: str) -> dict[str, dict[str, Any]]:
    cluster_defaults(
        found.setdefault(
            "ClusterConfiguration",
            {"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "ClusterConfiguration"},
        )
    )
    if command == "init":
        init = found.setdefault(
            "InitConfiguration",
            {"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "InitConfiguration"},
        )
        endpoint = init.setdefault("localAPIEndpoint", {})
        endpoint.setdefault("bindPort", 6443)
        _registration(init)
        found.setdefault("KubeletConfiguration", {})
    else:
        join = found["JoinConfiguration"]
        _registration(join)
        if isinstance(join.get("controlPlane"), dict):
            join["controlPlane"].setdefault("localAPIEndpoint", {}).setdefault("bindPort", 6443)
    return found


def cluster_defaults(cluster: dict[str, Any]) -> dict[str, Any]:
    """ClusterConfiguration's defaults (also for the one ``kubeadm join`` reads from the
    ``kubeadm-config`` ConfigMap)."""
    networking = cluster.setdefault("networking", {})
    networking.setdefault("serviceSubnet", "10.96.0.0/12")
    networking.setdefault("dnsDomain", "cluster.local")
    cluster.setdefault("certificatesDir", "/etc/kubernetes/pki")
    cluster.setdefault("imageRepository", "registry.k8s.io")
    cluster.setdefault("clusterName", "kubernetes")
    cluster.setdefault("etcd", {}).setdefault("local", {}).setdefault("dataDir", "/var/lib/etcd")
    return cluster


def _registration(document: dict[str, Any]) -> None:
    registration = document.setdefault("nodeRegistration", {})
    registration.setdefault("criSocket", "unix:///var/run/containerd/containerd.sock")
    if not registration.get("name"):
        registration["name"] = os.uname().nodename.lower()


def extra_args(items: Any) -> dict[str, str]:
    """v1beta4 ``extraArgs``/``kubeletExtraArgs``: a list of ``{name, value}`` (a later
    duplicate wins, as kubeadm's ``ArgumentsFromCommand`` merge does)."""
    if isinstance(items, dict):  # v1beta3's map form
        return {str(k): str(v) for k, v in items.items()}
    found: dict[str, str] = {}
    for item in items or []:
        if isinstance(item, dict) and "name" in item:
            found[str(item["name"])] = str(item.get("value", ""))
    return found
