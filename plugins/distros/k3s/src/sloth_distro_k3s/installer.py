"""K3s as an :class:`~sloth_kubernetes.distro.installer.Installer`.

Paths, units and keys follow the K3s docs (https://docs.k3s.io): config file
``/etc/rancher/k3s/config.yaml``, units ``k3s`` and ``k3s-agent``, binary ``/usr/local/bin/k3s``,
the first server with ``cluster-init: true`` (embedded etcd), the others with ``server:``.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

from sloth_kubernetes.plugin import (
    Artifact,
    DistroPlan,
    FlagCatalog,
    Installer,
    NodeFile,
    NodeRecord,
    PluginBlock,
    Release,
    Role,
    load_flags,
    node_network,
    rancher_node_keys,
    with_extras,
)

from . import hardening

DEFAULT_VERSION = "v1.31.4+k3s1"
RELEASES = "https://github.com/k3s-io/k3s/releases/download"
BINARY = "/usr/local/bin/k3s"

UNIT = """\
[Unit]
Description=Lightweight Kubernetes ({role}) - managed by sloth-kubernetes
Documentation=https://k3s.io
Wants=network-online.target
After=network-online.target

[Install]
WantedBy=multi-user.target

[Service]
# Type=exec, not notify: sloth-kubernetes gates on /readyz itself, so `systemctl restart`
# never blocks an SSH command while the server waits for its peers.
Type=exec
EnvironmentFile=-/etc/default/%N
KillMode=process
Delegate=yes
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
TimeoutStartSec=0
Restart=always
RestartSec=5s
ExecStartPre=-/sbin/modprobe br_netfilter
ExecStartPre=-/sbin/modprobe overlay
ExecStart={binary} {role}
"""

DROP_IN = """\
# Written by sloth-kubernetes: start only once the config file is in place.
[Unit]
ConditionPathExists={config}
"""


def replaces_kube_proxy(config: Any) -> bool:
    """The CNI plugin handles Services itself (cilium ``kubeProxyReplacement``): kube-proxy
    must not run as well."""
    settings = getattr(config.spec.kubernetes.cni, "settings", None)
    return bool(getattr(settings, "kube_proxy_replacement", False))


def cni_type(config: Any) -> str | None:
    block = config.spec.kubernetes.cni
    return block.name if isinstance(block, PluginBlock) else None


class K3sInstaller(Installer):
    name: ClassVar[str] = "k3s"
    config_path: ClassVar[str] = "/etc/rancher/k3s/config.yaml"
    kubeconfig_path: ClassVar[str] = "/etc/rancher/k3s/k3s.yaml"
    units: ClassVar[Mapping[Role, str]] = {"server": "k3s", "agent": "k3s-agent"}
    join_port: ClassVar[int] = 6443
    data_dir: ClassVar[str] = "/var/lib/rancher/k3s"
    kubectl_binary: ClassVar[str] = f"{BINARY} kubectl"
    # agents' own client balancer is on 127.0.0.1:6444 (lb-server-port); 6443 is free there
    node_local_balancer: ClassVar[bool] = True

    @cached_property
    def flags(self) -> FlagCatalog:
        return load_flags(Path(str(resources.files(__package__) / "data" / "flags.yaml")))

    def default_version(self) -> str:
        return DEFAULT_VERSION

    def release(self, version: str, arch: str, mirror: str | None = None) -> Release:
        suffix = "" if arch == "amd64" else f"-{arch}"
        base = mirror or f"{RELEASES}/{version.replace('+', '%2B')}"
        return Release(
            distro=self.name,
            version=version,
            arch=arch,
            base_url=base,
            checksum_file=f"sha256sum-{arch}.txt",
            artifacts=(
                Artifact(f"k3s{suffix}", BINARY, 0o755),
                Artifact(
                    f"k3s-airgap-images-{arch}.tar.zst",
                    f"{self.data_dir}/agent/images/k3s-airgap-images-{arch}.tar.zst",
                    0o600,
                    airgap=True,
                ),
            ),
        )

    def pod_network_builtin(self, plan: DistroPlan) -> bool:
        """K3s runs flannel itself unless another CNI plugin is chosen; then it starts with
        ``flannel-backend: none`` and its nodes stay NotReady until that CNI's chart runs."""
        return cni_type(plan.config) in (None, "flannel")

    # -- configuration -----------------------------------------------------------------------

    def _common(self, plan: DistroPlan, node: NodeRecord) -> dict[str, Any]:
        keys = rancher_node_keys(plan, node, self.data_dir_for(plan))
        if cni_type(plan.config) in (None, "flannel"):
            keys["flannel-iface"] = node_network(plan.config).interface
        if plan.kubernetes.hardening == "cis":
            keys["protect-kernel-defaults"] = True
            keys["kubelet-arg"] = [
                "streaming-connection-idle-timeout=5m",
                "make-iptables-util-chains=true",
            ]
        return keys

    def render_server_config(self, plan: DistroPlan, node: NodeRecord) -> dict[str, Any]:
        kubernetes = plan.kubernetes
        settings = plan.settings
        keys = self._common(plan, node)
        if node.name == plan.first_server:
            keys["cluster-init"] = True
        else:
            keys["server"] = plan.server_url("server", self.join_port)
        keys["advertise-address"] = plan.addresses[node.name]
        keys["tls-san"] = list(plan.tls_sans)
        keys["write-kubeconfig-mode"] = "0600"
        keys["cluster-cidr"] = [kubernetes.pod_cidr]
        keys["service-cidr"] = [kubernetes.service_cidr]
        if cni_type(plan.config) not in (None, "flannel"):
            # Another CNI plugin installs the pod network: K3s must not run flannel or its
            # network policy controller.
            keys["flannel-backend"] = "none"
            keys["disable-network-policy"] = True
            if replaces_kube_proxy(plan.config):
                keys["disable-kube-proxy"] = True
        else:
            backend = getattr(plan.config.spec.kubernetes.cni, "settings", None)
            if getattr(backend, "backend", None):
                keys["flannel-backend"] = backend.backend  # type: ignore[union-attr]
        disable = list(getattr(settings, "disable", []))
        if plan.config.spec.storage and "local-storage" not in disable:
            # storage plugins bring the classes of the spec (one default); K3s's bundled
            # local-path would be a second default class and, with the local-path plugin, a
            # second owner of the provisioner's objects
            disable.append("local-storage")
        if disable:
            keys["disable"] = disable
        snapshots = settings.snapshots
        keys["etcd-snapshot-schedule-cron"] = snapshots.schedule
        keys["etcd-snapshot-retention"] = snapshots.retention
        if snapshots.s3 is not None:
            s3 = snapshots.s3
            keys["etcd-s3"] = True
            keys["etcd-s3-bucket"] = s3.bucket
            keys["etcd-s3-endpoint"] = s3.endpoint
            if s3.region:
                keys["etcd-s3-region"] = s3.region
            if s3.folder:
                keys["etcd-s3-folder"] = s3.folder
            if s3.access_key is not None:
                keys["etcd-s3-access-key"] = plan.secret(s3.access_key)
            if s3.secret_key is not None:
                keys["etcd-s3-secret-key"] = plan.secret(s3.secret_key)
        apiserver: list[str] = []
        if _audit_enabled(plan):
            apiserver += hardening.audit_args(
                self._audit_policy_path(plan),
                f"{self.data_dir_for(plan)}/server/logs/audit.log",
                settings.audit,
            )
        if kubernetes.hardening == "cis":
            keys["secrets-encryption"] = True
            apiserver.append(f"admission-control-config-file={self._psa_path(plan)}")
            keys["kube-controller-manager-arg"] = ["terminated-pod-gc-threshold=10"]
        if apiserver:
            keys["kube-apiserver-arg"] = apiserver
        return with_extras(keys, kubernetes.server_config)

    def render_agent_config(self, plan: DistroPlan, node: NodeRecord) -> dict[str, Any]:
        keys = self._common(plan, node)
        keys["server"] = plan.server_url("agent", self.join_port)
        return with_extras(keys, plan.kubernetes.agent_config)

    def _audit_policy_path(self, plan: DistroPlan) -> str:
        return f"{self.data_dir_for(plan)}/server/audit.yaml"

    def _psa_path(self, plan: DistroPlan) -> str:
        return f"{self.data_dir_for(plan)}/server/psa.yaml"

    def unit_file(self, role: Role) -> NodeFile:
        unit = self.units[role]
        return NodeFile(
            f"/etc/systemd/system/{unit}.service", UNIT.format(role=role, binary=BINARY), 0o644
        )

    def extra_files(self, plan: DistroPlan, node: NodeRecord, role: Role) -> list[NodeFile]:
        unit = self.units[role]
        files = [
            NodeFile(
                f"/etc/systemd/system/{unit}.service.d/10-sloth.conf",
                DROP_IN.format(config=self.config_path),
            )
        ]
        if plan.kubernetes.hardening == "cis":
            files.append(hardening.kernel_defaults_file())
        if role == "server" and _audit_enabled(plan):
            policy = plan.settings.audit.policy or hardening.DEFAULT_AUDIT_POLICY
            files.append(NodeFile(self._audit_policy_path(plan), policy, 0o600))
        if role == "server" and plan.kubernetes.hardening == "cis":
            files.append(NodeFile(self._psa_path(plan), hardening.PSA_CONFIG, 0o600))
        return files

    # -- commands ------------------------------------------------------------------------------

    def install_command(self, release: Release, staged: Mapping[str, str], role: Role) -> str:
        steps = []
        for artifact in release.files(airgap=True):
            if artifact.name not in staged:
                continue
            source = shlex.quote(staged[artifact.name])
            target = shlex.quote(artifact.destination)
            parent = shlex.quote(artifact.destination.rsplit("/", 1)[0])
            steps.append(f"install -d -m 0755 {parent}")
            steps.append(f"install -m {artifact.mode:04o} {source} {target}")
        steps.append(f"ln -sf k3s {shlex.quote(BINARY.rsplit('/', 1)[0])}/kubectl")
        sysctl = shlex.quote(hardening.SYSCTL_FILE)
        # kernel-global on shared hosts: read-only there, applied by the machine instead
        steps.append(f"{{ [ ! -f {sysctl} ] || sysctl -p {sysctl} >/dev/null 2>&1 || true; }}")
        return " && ".join(steps)

    def version_command(self) -> str:
        return f"{BINARY} --version"

    def token_path(self) -> str:
        return f"{self.data_dir}/server/token"

    def uninstall_command(self, role: Role) -> str:
        unit = self.units[role]
        return " ; ".join(
            [
                f"systemctl disable --now {unit} 2>/dev/null",
                f"rm -f /etc/systemd/system/{unit}.service",
                f"rm -rf /etc/systemd/system/{unit}.service.d",
                "systemctl daemon-reload",
                # "[c]" so the pattern does not match this very shell's command line (which
                # contains it): a plain `pkill -f containerd-shim` killed the uninstall midway
                "pkill -f '[c]ontainerd-shim' 2>/dev/null",
                f"rm -rf /etc/rancher/k3s {self.data_dir} /var/lib/kubelet",
                f"rm -f {BINARY} /usr/local/bin/kubectl {hardening.SYSCTL_FILE}",
                "rm -rf /var/lib/sloth-kubernetes/artifacts/k3s",
                "true",
            ]
        )


def _audit_enabled(plan: DistroPlan) -> bool:
    enabled = plan.settings.audit.enabled
    return bool(plan.kubernetes.hardening == "cis" if enabled is None else enabled)
