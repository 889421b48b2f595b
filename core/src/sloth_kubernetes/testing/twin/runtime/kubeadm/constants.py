"""kubeadm's fixed names, paths and ports (kubernetes/kubernetes
``cmd/kubeadm/app/constants/constants.go``, v1.31 line; stored copy read at 66b0a0c-era)."""

from __future__ import annotations

KUBERNETES_DIR = "/etc/kubernetes"
MANIFESTS = f"{KUBERNETES_DIR}/manifests"
PKI = f"{KUBERNETES_DIR}/pki"
ADMIN_CONF = f"{KUBERNETES_DIR}/admin.conf"
SUPER_ADMIN_CONF = f"{KUBERNETES_DIR}/super-admin.conf"  # since v1.29
KUBELET_CONF = f"{KUBERNETES_DIR}/kubelet.conf"
BOOTSTRAP_KUBELET_CONF = f"{KUBERNETES_DIR}/bootstrap-kubelet.conf"
CONTROLLER_MANAGER_CONF = f"{KUBERNETES_DIR}/controller-manager.conf"
SCHEDULER_CONF = f"{KUBERNETES_DIR}/scheduler.conf"
KUBELET_DIR = "/var/lib/kubelet"
KUBELET_CONFIG = f"{KUBELET_DIR}/config.yaml"
KUBELET_FLAGS_ENV = f"{KUBELET_DIR}/kubeadm-flags.env"
KUBELET_PKI = f"{KUBELET_DIR}/pki"

API_PORT = 6443
KUBELET_PORT = 10250
SCHEDULER_PORT = 10259
CONTROLLER_MANAGER_PORT = 10257
ETCD_CLIENT_PORT = 2379
ETCD_PEER_PORT = 2380

#: ControlPlaneNumCPU / ControlPlaneMem (MiB)
CONTROL_PLANE_CPUS = 2
CONTROL_PLANE_MEMORY = 1700

DEFAULT_SERVICE_SUBNET = "10.96.0.0/12"
DEFAULT_DNS_DOMAIN = "cluster.local"
DEFAULT_ETCD_DIR = "/var/lib/etcd"
DEFAULT_IMAGE_REPOSITORY = "registry.k8s.io"
ETCD_VERSION = "3.5.15-0"  # constants.SupportedEtcdVersion[31]
PAUSE_VERSION = "3.10"
COREDNS_VERSION = "v1.11.3"

#: groups and users (constants.go, v1.29+: admin.conf is in kubeadm:cluster-admins, bound to
#: cluster-admin; super-admin.conf is system:masters)
CLUSTER_ADMINS_GROUP = "kubeadm:cluster-admins"
NODE_BOOTSTRAP_TOKEN_GROUP = "system:bootstrappers:kubeadm:default-node-token"  # noqa: S105
KUBEADM_CONFIG_MAP = "kubeadm-config"
KUBELET_CONFIG_MAP = "kubelet-config"
KUBEADM_CERTS_SECRET = "kubeadm-certs"  # noqa: S105 (a name)
CLUSTER_INFO = "cluster-info"
ETCD_ADVERTISE_ANNOTATION = "kubeadm.kubernetes.io/etcd.advertise-client-urls"
API_ADVERTISE_ANNOTATION = "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint"
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
EXCLUDE_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
CONTROL_PLANE_TAINT = {"key": CONTROL_PLANE_LABEL, "effect": "NoSchedule"}
