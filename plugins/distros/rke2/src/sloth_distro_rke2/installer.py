"""RKE2 as an :class:`~sloth_kubernetes.distro.installer.Installer`.

Paths, units and keys follow the RKE2 docs (https://docs.rke2.io): config file
``/etc/rancher/rke2/config.yaml``, units ``rke2-server``/``rke2-agent``, the release tarball
extracted under ``/usr/local``; joining nodes register on the supervisor port 9345. RKE2 has no
``cluster-init``: the first server is the one started without ``server:``.
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
    helm_chart_config,
    load_flags,
    node_network,
    rancher_node_keys,
    to_yaml,
    with_extras,
)

DEFAULT_VERSION = "v1.31.4+rke2r1"
RELEASES = "https://github.com/rancher/rke2/releases/download"
BINARY = "/usr/local/bin/rke2"
CIS_SYSCTL = "/etc/sysctl.d/60-rke2-cis.conf"

UNIT = """\
[Unit]
Description=Rancher Kubernetes Engine v2 ({role}) - managed by sloth-kubernetes
Documentation=https://github.com/rancher/rke2#readme
Wants=network-online.target
After=network-online.target
Conflicts=rke2-{other}.service

[Install]
WantedBy=multi-user.target

[Service]
# Type=exec, not notify: sloth-kubernetes gates on /readyz itself (see docs/distros/rke2.md).
Type=exec
EnvironmentFile=-/etc/default/%N
EnvironmentFile=-/etc/sysconfig/%N
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
ExecStopPost=-/bin/sh -c "systemd-cgls /system.slice/%n \\
  | grep -Eo '[0-9]+ (containerd|kubelet)' | awk '{{print $1}}' | xargs -r kill"
"""

DROP_IN = """\
# Written by sloth-kubernetes: start only once the config file is in place.
[Unit]
ConditionPathExists={config}
"""

#: RKE2's bundled CNI charts (rancher/rke2 pkg/rke2/rke2.go CNIItems at v1.31.4+rke2r1). A CNI
#: plugin of one of these names configures the bundled chart with a HelmChartConfig, so RKE2 must
#: deploy that chart (``cni: [<name>]``); any other CNI plugin brings its own (``cni: [none]``).
BUNDLED_CNIS = ("calico", "canal", "cilium", "flannel")
#: An RKE2 agent's own client balancer listens on 127.0.0.1:``lb-server-port`` (default 6444,
#: supervisor) and one port below it (the API: 6443) — k3s-io/k3s ``pkg/agent/proxy/apiproxy.go``
#: ``SetAPIServerPort``. With the node-local balancer on 127.0.0.1:9345 and :6443 (the agent
#: derives the API address from the registration host on port 6443), the agent's own moves up.
AGENT_LB_PORT = 6446
#: flannel's VXLAN encapsulation (canal, and calico's default pool): 50 bytes.
VXLAN_OVERHEAD = 50


def cni_plugin(config: Any) -> str | None:
    block = config.spec.kubernetes.cni
    return block.name if isinstance(block, PluginBlock) else None


def chosen_cni(plan: DistroPlan) -> str:
    """RKE2's ``cni``: the CNI plugin's bundled chart when a plugin is configured (config
    validation refuses a conflicting ``rke2.cni``), else the settings' ``cni`` (auto: canal)."""
    plugin = cni_plugin(plan.config)
    if plugin is not None:
        return plugin if plugin in BUNDLED_CNIS else "none"
    explicit = getattr(plan.settings, "cni", "auto")
    return "canal" if explicit in (None, "auto") else str(explicit)


def bundled_cni_config(plan: DistroPlan, cni: str) -> dict[str, Any] | None:
    """Without a CNI plugin, RKE2's own chart still has to carry pod traffic over the mesh: a
    HelmChartConfig puts the CNI on the mesh interface with the mesh's MTU (less VXLAN for canal
    and calico's default pool; Cilium's ``MTU`` is the device's, it subtracts its own tunnel)."""
    network = node_network(plan.config)
    pod_mtu = network.mtu - VXLAN_OVERHEAD
    values: dict[str, Any]
    if cni == "canal":
        values = {"flannel": {"iface": network.interface}, "calico": {"vethuMTU": pod_mtu}}
    elif cni == "calico":
        autodetect = {"interface": network.interface}
        values = {"installation": {"calicoNetwork": {
            "mtu": pod_mtu, "nodeAddressAutodetectionV4": autodetect}}}  # fmt: skip
    elif cni == "cilium":
        values = {"MTU": network.mtu, "ipam": {"mode": "cluster-pool", "operator": {
            "clusterPoolIPv4PodCIDRList": [network.pod_cidr]}}}  # fmt: skip
    else:
        return None
    return helm_chart_config(f"rke2-{cni}", values=values)


class Rke2Installer(Installer):
    name: ClassVar[str] = "rke2"
    config_path: ClassVar[str] = "/etc/rancher/rke2/config.yaml"
    kubeconfig_path: ClassVar[str] = "/etc/rancher/rke2/rke2.yaml"
    units: ClassVar[Mapping[Role, str]] = {"server": "rke2-server", "agent": "rke2-agent"}
    join_port: ClassVar[int] = 9345
    data_dir: ClassVar[str] = "/var/lib/rancher/rke2"
    kubectl_binary: ClassVar[str] = "/var/lib/rancher/rke2/bin/kubectl"  # from its runtime image
    node_local_balancer: ClassVar[bool] = True

    @cached_property
    def flags(self) -> FlagCatalog:
        return load_flags(Path(str(resources.files(__package__) / "data" / "flags.yaml")))

    def default_version(self) -> str:
        return DEFAULT_VERSION

    def release(self, version: str, arch: str, mirror: str | None = None) -> Release:
        base = mirror or f"{RELEASES}/{version.replace('+', '%2B')}"
        return Release(
            distro=self.name,
            version=version,
            arch=arch,
            base_url=base,
            checksum_file=f"sha256sum-{arch}.txt",
            artifacts=(
                Artifact(f"rke2.linux-{arch}.tar.gz", "/usr/local", 0o644),
                Artifact(
                    f"rke2-images.linux-{arch}.tar.zst",
                    f"{self.data_dir}/agent/images/rke2-images.linux-{arch}.tar.zst",
                    0o600,
                    airgap=True,
                ),
            ),
        )

    def pod_network_builtin(self, plan: DistroPlan) -> bool:
        """RKE2 deploys its bundled CNI chart (``cni``: canal by default, or the bundled chart a
        CNI plugin of that name configures); only ``cni: none`` leaves the CNI to an add-on."""
        return chosen_cni(plan) != "none"

    def _common(self, plan: DistroPlan, node: NodeRecord) -> dict[str, Any]:
        keys = rancher_node_keys(plan, node, self.data_dir_for(plan))
        if plan.kubernetes.hardening == "cis":
            keys["profile"] = "cis"
        return keys

    def render_server_config(self, plan: DistroPlan, node: NodeRecord) -> dict[str, Any]:
        kubernetes = plan.kubernetes
        settings = plan.settings
        keys = self._common(plan, node)
        if node.name != plan.first_server:
            keys["server"] = plan.server_url("server", self.join_port)
        keys["advertise-address"] = plan.addresses[node.name]
        keys["tls-san"] = list(plan.tls_sans)
        keys["write-kubeconfig-mode"] = "0600"
        keys["cluster-cidr"] = [kubernetes.pod_cidr]
        keys["service-cidr"] = [kubernetes.service_cidr]
        keys["cni"] = [chosen_cni(plan)]
        cni_settings = getattr(plan.config.spec.kubernetes.cni, "settings", None)
        if getattr(cni_settings, "kube_proxy_replacement", False):
            keys["disable-kube-proxy"] = True  # cilium handles Services: no kube-proxy as well
        disable = list(getattr(settings, "disable", []))
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
        if settings.audit.policy:
            keys["audit-policy-file"] = f"{self.data_dir_for(plan)}/server/sloth-audit-policy.yaml"
        if kubernetes.hardening == "cis":
            keys["secrets-encryption"] = True
        return with_extras(keys, kubernetes.server_config)

    def render_agent_config(self, plan: DistroPlan, node: NodeRecord) -> dict[str, Any]:
        keys = self._common(plan, node)
        keys["server"] = plan.server_url("agent", self.join_port)
        if keys["server"].startswith("https://127.0.0.1:"):  # the node-local balancer's
            keys["lb-server-port"] = AGENT_LB_PORT
        return with_extras(keys, plan.kubernetes.agent_config)

    def unit_file(self, role: Role) -> NodeFile:
        other = "agent" if role == "server" else "server"
        return NodeFile(
            f"/etc/systemd/system/{self.units[role]}.service",
            UNIT.format(role=role, other=other, binary=BINARY),
        )

    def extra_files(self, plan: DistroPlan, node: NodeRecord, role: Role) -> list[NodeFile]:
        unit = self.units[role]
        files = [
            NodeFile(
                f"/etc/systemd/system/{unit}.service.d/10-sloth.conf",
                DROP_IN.format(config=self.config_path),
            )
        ]
        if role == "server":
            manifests = f"{self.data_dir_for(plan)}/server/manifests"
            cni = chosen_cni(plan)
            # with a CNI plugin, the plugin owns the chart's HelmChartConfig
            own = bundled_cni_config(plan, cni) if cni_plugin(plan.config) is None else None
            if own is not None:
                files.append(NodeFile(f"{manifests}/rke2-{cni}-config.yaml", to_yaml(own), 0o600))
            if plan.settings.audit.policy:
                files.append(
                    NodeFile(
                        f"{self.data_dir_for(plan)}/server/sloth-audit-policy.yaml",
                        plan.settings.audit.policy,
                        0o600,
                    )
                )
        return files

    def install_command(self, release: Release, staged: Mapping[str, str], role: Role) -> str:
        tarball = shlex.quote(staged[release.artifacts[0].name])
        steps = [f"tar xzf {tarball} -C /usr/local", "install -d -m 0700 /etc/rancher/rke2"]
        for artifact in release.artifacts[1:]:
            if artifact.name in staged:
                parent = shlex.quote(artifact.destination.rsplit("/", 1)[0])
                steps.append(f"install -d -m 0755 {parent}")
                steps.append(
                    f"install -m 0600 {shlex.quote(staged[artifact.name])} "
                    f"{shlex.quote(artifact.destination)}"
                )
        # CIS profile: RKE2 refuses to start without the etcd user and its kernel parameters.
        steps.append(
            "if grep -q '^profile: \"cis\"' /etc/rancher/rke2/config.yaml 2>/dev/null; then "
            "getent passwd etcd >/dev/null || "
            "useradd -r -c 'etcd user' -s /sbin/nologin -M etcd -U; "
            f"if [ -f /usr/local/share/rke2/rke2-cis-sysctl.conf ]; then "
            f"cp -f /usr/local/share/rke2/rke2-cis-sysctl.conf {CIS_SYSCTL}; "
            f"sysctl -p {CIS_SYSCTL} >/dev/null 2>&1 || true; fi; fi"
        )
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
                "[ -x /usr/local/bin/rke2-killall.sh ] && "
                "/usr/local/bin/rke2-killall.sh >/dev/null 2>&1",
                f"rm -f /etc/systemd/system/{unit}.service",
                f"rm -rf /etc/systemd/system/{unit}.service.d",
                "systemctl daemon-reload",
                f"rm -rf /etc/rancher/rke2 {self.data_dir} /var/lib/kubelet",
                "rm -f /usr/local/bin/rke2 /usr/local/bin/rke2-killall.sh "
                "/usr/local/bin/rke2-uninstall.sh /usr/local/lib/systemd/system/rke2-*.service "
                f"{CIS_SYSCTL}",
                "rm -rf /usr/local/share/rke2 /var/lib/sloth-kubernetes/artifacts/rke2",
                "true",
            ]
        )
