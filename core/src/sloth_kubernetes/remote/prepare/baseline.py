"""The Kubernetes baseline every node gets, whatever the hardening profile.

Each constant is documented in docs/prepare.md; change both together.
"""

from __future__ import annotations

#: Kernel modules Kubernetes needs: ``overlay`` for containerd's overlayfs snapshotter,
#: ``br_netfilter`` so bridged pod traffic passes through iptables/nftables (kube-proxy, CNIs).
REQUIRED_MODULES: tuple[str, ...] = ("overlay", "br_netfilter")
#: Reported, never required: the mesh falls back to wireguard-go, iptables to nf_tables.
OPTIONAL_MODULES: tuple[str, ...] = ("wireguard", "nf_tables", "ip_tables")
MODULES_LOAD_FILE = "/etc/modules-load.d/sloth.conf"

#: Kernel parameters Kubernetes needs (the kubeadm/k3s/rke2 prerequisites).
KUBERNETES_SYSCTLS: dict[str, str] = {
    "net.ipv4.ip_forward": "1",
    "net.bridge.bridge-nf-call-iptables": "1",
    "net.bridge.bridge-nf-call-ip6tables": "1",
}
SYSCTL_FILE = "/etc/sysctl.d/90-sloth.conf"

#: Debian/Ubuntu packages every node gets, and why (docs/prepare.md has the same table).
PACKAGES: dict[str, str] = {
    "ca-certificates": "TLS trust for installers and registries",
    "conntrack": "kube-proxy and k3s/rke2 flush conntrack entries of deleted services",
    "curl": "distribution installers and health checks",
    "iptables": "kube-proxy and CNIs program iptables (nf_tables backend on Debian/Ubuntu)",
    "kmod": "modprobe, to load kernel modules",
    "nftables": "the host firewall (`nft`)",
    "procps": "sysctl, to apply kernel parameters",
    "socat": "kubectl port-forward through the kubelet",
}
#: Installed only when PID 1 is systemd and neither chrony nor systemd-timesyncd is present.
TIME_SYNC_PACKAGE = "systemd-timesyncd"

#: Minimums below which a node is refused (k3s documents 512 MiB for an agent).
MIN_MEMORY_KIB = 480 * 1024
MIN_VAR_FREE_KIB = 1024 * 1024

#: Supported systems: OS id → lowest major version (Ubuntu as 22.04 → 2204).
SUPPORTED_OS: dict[str, tuple[int, str]] = {
    "debian": (11, "Debian ≥ 11"),
    "ubuntu": (2204, "Ubuntu ≥ 22.04"),
}
SUPPORTED_ARCHES: dict[str, str] = {"x86_64": "amd64", "aarch64": "arm64"}
