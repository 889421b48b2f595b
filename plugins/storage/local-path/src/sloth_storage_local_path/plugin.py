"""``local-path`` storage: node-local volumes by rancher's local-path-provisioner.

Volumes live on the node that first uses them (no replication): right for single-node data,
development and caches. K3s bundles the provisioner and marks its ``local-path`` class the default
when ``spec.storage`` is empty; when this plugin is selected it installs its own pinned copy
(plain manifests, the same on every distribution) with the classes of the spec, and the K3s
distro disables the bundled one (``disable: [local-storage]``) so the two do not fight.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
from sloth_kubernetes.plugin import (
    MANAGED_BY,
    AddonManifests,
    Storage,
    StorageBlock,
    doc,
    privileged_namespace,
    storage_classes,
)

NAME = "local-path"
PROVISIONER = "rancher.io/local-path"
NAMESPACE = "local-path-storage"
IMAGE = "rancher/local-path-provisioner:v0.0.30"
HELPER_IMAGE = "busybox:1.36"


@attrs.frozen
class LocalPathSettings:
    """Settings of a ``spec.storage[]`` item with ``type: local-path``."""

    path: str = attrs.field(
        default="/var/lib/rancher/k3s/storage",
        metadata=doc("Directory on each node where volumes are created."),
    )


def _meta(name: str, namespace: str | None = NAMESPACE) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(MANAGED_BY)}
    if namespace:
        meta["namespace"] = namespace
    return meta


def _provisioner(path: str) -> list[dict[str, Any]]:
    config = {"nodePathMap": [{"node": "DEFAULT_PATH_FOR_NON_LISTED_NODES", "paths": [path]}]}
    setup = 'set -eu\nmkdir -m 0777 -p "$VOL_DIR"\n'
    teardown = 'set -eu\nrm -rf "$VOL_DIR"\n'
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "helper-pod"},
           "spec": {"priorityClassName": "system-node-critical",
                    "tolerations": [{"key": "node.kubernetes.io/disk-pressure",
                                     "operator": "Exists", "effect": "NoSchedule"}],
                    "containers": [{"name": "helper-pod", "image": HELPER_IMAGE,
                                    "imagePullPolicy": "IfNotPresent"}]}}  # fmt: skip
    labels = {"app": "local-path-provisioner"}
    return [
        # helper pods mount the node's volume directory (hostPath): PodSecurity privileged
        privileged_namespace(NAMESPACE),
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": _meta("local-path-provisioner-service-account")},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": _meta("local-path-provisioner-role", None),
         "rules": [
             {"apiGroups": [""], "resources": ["nodes", "persistentvolumeclaims", "configmaps",
                                               "pods", "pods/log"],
              "verbs": ["get", "list", "watch"]},
             {"apiGroups": [""], "resources": ["persistentvolumes"],
              "verbs": ["get", "list", "watch", "create", "patch", "update", "delete"]},
             {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
             {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses"],
              "verbs": ["get", "list", "watch"]},
             {"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "delete"]},
         ]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": _meta("local-path-provisioner-bind", None),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": "local-path-provisioner-role"},
         "subjects": [{"kind": "ServiceAccount", "name": "local-path-provisioner-service-account",
                       "namespace": NAMESPACE}]},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("local-path-config"),
         "data": {"config.json": json.dumps(config, indent=2), "setup": setup,
                  "teardown": teardown, "helperPod.yaml": json.dumps(pod, indent=2)}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": _meta("local-path-provisioner"),
         "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels},
                               "spec": {"serviceAccountName":
                                        "local-path-provisioner-service-account",
                                        "containers": [{
                                            "name": "local-path-provisioner", "image": IMAGE,
                                            "imagePullPolicy": "IfNotPresent",
                                            "command": ["local-path-provisioner", "--debug",
                                                        "start", "--config",
                                                        "/etc/config/config.json"],
                                            "volumeMounts": [{"name": "config-volume",
                                                              "mountPath": "/etc/config/"}],
                                            "env": [{"name": "POD_NAMESPACE", "valueFrom": {
                                                "fieldRef": {"fieldPath": "metadata.namespace"}}},
                                                {"name": "CONFIG_MOUNT_PATH",
                                                 "value": "/etc/config/"}]}],
                                        "volumes": [{"name": "config-volume", "configMap": {
                                            "name": "local-path-config"}}]}}}},
    ]  # fmt: skip


def render(block: StorageBlock) -> AddonManifests:
    """The provisioner (pinned image) and the spec's storage classes."""
    settings = block.settings if isinstance(block.settings, LocalPathSettings) else None
    path = (settings or LocalPathSettings()).path
    return AddonManifests([*_provisioner(path), *storage_classes(block, PROVISIONER)])


PLUGIN = Storage(
    name=NAME,
    description="Node-local volumes (rancher local-path-provisioner)",
    requires=("cni",),
    settings=LocalPathSettings,
    render=lambda _config, settings: render(settings),
)
