"""kubeadm as an :class:`~sloth_kubernetes.plugin.Installer`.

What a node gets (all written by the distro phase; nothing is downloaded on the node):

* ``kubeadm``, ``kubelet`` and ``kubectl`` of the cluster version, the official release binaries
  (https://dl.k8s.io/release/<version>/bin/linux/<arch>/), each verified against its published
  ``<name>.sha256`` on the operator's machine (``artifacts fetch/import/check``);
* containerd, runc and the CNI reference plugins from the OS packages (``node_packages``), with
  ``/etc/containerd/config.toml`` selecting the systemd cgroup driver (kubeadm's kubelet default)
  and the CNI directories the CNI add-ons install into;
* the kubelet unit and kubeadm's drop-in (kubernetes/release ``cmd/krel/templates/latest``);
* ``/etc/kubernetes/sloth/kubeadm.yaml`` (0600: it holds the join token and certificate key),
  and on the first server the cluster CA under ``/etc/kubernetes/pki`` (:mod:`.join_secrets`);
* ``kubeadm-up``, the script the orchestrator's start command runs: ``kubeadm init`` on the first
  server, ``kubeadm join`` elsewhere, a kubelet restart on a node already in the cluster. kubeadm's
  output (which repeats the token and key) goes to a 0600 log, never to the operator's terminal.

The kernel modules and sysctls kubeadm's preflight checks (``br_netfilter``, ``overlay``,
``net.ipv4.ip_forward``, ``net.bridge.bridge-nf-call-iptables``) are the prepare phase's baseline.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from functools import cached_property
from typing import Any, ClassVar

from sloth_kubernetes.plugin import (
    Artifact,
    DistroPlan,
    FlagCatalog,
    Installer,
    NodeFile,
    NodeRecord,
    Release,
    Role,
    to_yaml,
)

from . import documents, join_secrets

DEFAULT_VERSION = "v1.31.4"
RELEASES = "https://dl.k8s.io/release"
BIN = "/usr/local/bin"
CONFIG = "/etc/kubernetes/sloth/kubeadm.yaml"
UP_SCRIPT = "/usr/local/lib/sloth-kubernetes/kubeadm-up"
LOG = "/var/log/sloth-kubeadm.log"
PKI = "/etc/kubernetes/pki"
CONTAINERD_CONFIG = "/etc/containerd/config.toml"
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"  # kubeadm v1.31's pause image (constants.PauseVersion)

#: kubernetes/release cmd/krel/templates/latest/kubelet/kubelet.service, binary in /usr/local/bin
KUBELET_UNIT = f"""\
[Unit]
Description=kubelet: The Kubernetes Node Agent - managed by sloth-kubernetes
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target containerd.service

[Service]
ExecStart={BIN}/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
"""

#: kubernetes/release cmd/krel/templates/latest/kubeadm/10-kubeadm.conf
KUBEADM_DROP_IN = f"""\
# Note: This dropin only works with kubeadm and kubelet v1.11+
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
# written by "kubeadm init" and "kubeadm join" at runtime
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart={BIN}/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
"""  # noqa: E501 (upstream's lines, unchanged)

#: containerd's CRI plugin (config version 2, containerd 1.6/1.7 as Debian 12 and Ubuntu 24.04
#: ship): runc with the systemd cgroup driver, kubeadm's pause image, CNI where CNI add-ons put it
CONTAINERD = f"""\
# Written by sloth-kubernetes for kubeadm.
version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "/opt/cni/bin"
  conf_dir = "/etc/cni/net.d"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = true
"""

#: masks kubeadm's output before any of it leaves the node: bootstrap tokens, 64-hex keys
_MASK = r"sed -E 's/[a-z0-9]{6}\.[a-z0-9]{16}/<token>/g; s/[0-9a-f]{64}/<key>/g'"

UP = """\
#!/bin/sh
# Written by sloth-kubernetes: bring this node into the cluster with kubeadm ({what}).
# Idempotent: a node already in the cluster only restarts its kubelet (kubeadm does not
# reconcile a changed configuration; see docs/distros/kubeadm.md).
set -eu
umask 077
systemctl daemon-reload
systemctl enable containerd kubelet >/dev/null 2>&1
systemctl restart containerd
mkdir -p /opt/cni/bin /etc/cni/net.d
for plugin in /usr/lib/cni/*; do  # the OS's CNI reference plugins, where CNI add-ons look
  if [ -e "$plugin" ] && [ ! -e "/opt/cni/bin/${{plugin##*/}}" ]; then
    ln -s "$plugin" /opt/cni/bin/
  fi
done
if [ -f /etc/kubernetes/kubelet.conf ]; then
  systemctl restart kubelet
{refresh}{label}  exit 0
fi
if ! {command} --config {config} >{log} 2>&1; then
  echo "{command} failed; the end of {log} (tokens and keys masked):" >&2
  tail -n 40 {log} | {mask} >&2
  exit 1
fi
{label}"""

#: helm-controller's ``bootstrap`` chart jobs (how every CNI chart installs before pods have a
#: network) select ``node-role.kubernetes.io/control-plane: "true"`` (k3s-io/helm-controller
#: v0.16.5 ``pkg/controllers/chart/chart.go``); kubeadm labels control-plane nodes with ``""``
LABEL = (
    "{bin}/kubectl --kubeconfig /etc/kubernetes/admin.conf label node {node} "
    "node-role.kubernetes.io/control-plane=true --overwrite >/dev/null\n"
)


def is_first(plan: DistroPlan, node: NodeRecord) -> bool:
    return node.name == plan.first_server


class KubeadmInstaller(Installer):
    name: ClassVar[str] = "kubeadm"
    config_path: ClassVar[str] = CONFIG
    kubeconfig_path: ClassVar[str] = "/etc/kubernetes/admin.conf"
    units: ClassVar[Mapping[Role, str]] = {"server": "kubelet", "agent": "kubelet"}
    join_port: ClassVar[int] = 6443
    data_dir: ClassVar[str] = "/var/lib/kubelet"
    version_pattern: ClassVar[re.Pattern[str]] = re.compile(r"(v\d+\.\d+\.\d+\S*)")
    kubectl_binary: ClassVar[str] = f"{BIN}/kubectl"

    @cached_property
    def flags(self) -> FlagCatalog:
        """kubeadm has no flat config keys: ``serverConfig``/``agentConfig`` hold its config
        kinds, checked against the upstream types (:mod:`.schema`) instead."""
        return FlagCatalog(
            distro=self.name,
            docs="https://kubernetes.io/docs/reference/config-api/kubeadm-config.v1beta4/",
            docs_version="v1beta4",
            server={},
            agent={},
        )

    def default_version(self) -> str:
        return DEFAULT_VERSION

    def release(self, version: str, arch: str, mirror: str | None = None) -> Release:
        base = mirror or f"{RELEASES}/{version}/bin/linux/{arch}"
        return Release(
            distro=self.name,
            version=version,
            arch=arch,
            base_url=base,
            checksum_file="",
            artifacts=tuple(
                Artifact(binary, f"{BIN}/{binary}", 0o755, checksum=f"{binary}.sha256")
                for binary in ("kubeadm", "kubelet", "kubectl")
            ),
        )

    def pod_network_builtin(self, plan: DistroPlan) -> bool:
        """Never: kubeadm installs no CNI (config validation requires one)."""
        return False

    # -- configuration -----------------------------------------------------------------------

    def render_server_config(self, plan: DistroPlan, node: NodeRecord) -> dict[str, Any]:
        """kind → document of the server's kubeadm configuration."""
        return {d["kind"]: d for d in documents.documents_for(plan, node, self.api_port)}

    def render_agent_config(self, plan: DistroPlan, node: NodeRecord) -> dict[str, Any]:
        return {d["kind"]: d for d in documents.documents_for(plan, node, self.api_port)}

    def node_files(self, plan: DistroPlan, node: NodeRecord) -> list[NodeFile]:
        """kubeadm's config is multi-document YAML, not the flat file of K3s/RKE2."""
        docs = documents.documents_for(plan, node, self.api_port)
        text = "# Written by sloth-kubernetes; `up` overwrites changes.\n" + "---\n".join(
            to_yaml(d) for d in docs
        )
        role: Role = "server" if node.is_server else "agent"
        return [
            NodeFile(CONFIG, text, 0o600, secret=True),
            self.unit_file(role),
            *self.extra_files(plan, node, role),
        ]

    def unit_file(self, role: Role) -> NodeFile:
        return NodeFile("/etc/systemd/system/kubelet.service", KUBELET_UNIT)

    def extra_files(self, plan: DistroPlan, node: NodeRecord, role: Role) -> list[NodeFile]:
        files = [
            NodeFile("/etc/systemd/system/kubelet.service.d/10-kubeadm.conf", KUBEADM_DROP_IN),
            NodeFile(CONTAINERD_CONFIG, CONTAINERD),
            NodeFile(UP_SCRIPT, self.up_script(plan, node), 0o700),
        ]
        if is_first(plan, node):
            cert, key = self._ca(plan)
            files.append(NodeFile(f"{PKI}/ca.crt", cert, 0o644))
            files.append(NodeFile(f"{PKI}/ca.key", key, 0o600, secret=True))
        return files

    def _ca(self, plan: DistroPlan) -> tuple[str, str]:
        if not plan.reveal:
            marker = plan.secret(None)
            return (
                "# the cluster CA certificate, derived from the cluster secret at `up`\n",
                marker,
            )
        cert, key, _pin = join_secrets.cluster_ca(plan.secret(plan.token))
        return cert, key

    def up_script(self, plan: DistroPlan, node: NodeRecord) -> str:
        if is_first(plan, node):
            command, what = f"{BIN}/kubeadm init --upload-certs", "kubeadm init, the first server"
            refresh = f"  {self.join_credentials_command()}\n"
        elif node.is_server:
            command, what = f"{BIN}/kubeadm join", "kubeadm join as a control-plane node"
            refresh = ""
        else:
            command, what = f"{BIN}/kubeadm join", "kubeadm join as a worker"
            refresh = ""
        label = LABEL.format(bin=BIN, node=shlex.quote(node.name)) if node.is_server else ""
        return UP.format(
            what=what,
            refresh=refresh,
            label=label,
            command=command,
            config=CONFIG,
            log=LOG,
            mask=_MASK,
        )

    # -- commands ------------------------------------------------------------------------------

    def install_command(self, release: Release, staged: Mapping[str, str], role: Role) -> str:
        steps = [f"install -d -m 0755 {BIN} /usr/local/lib/sloth-kubernetes"]
        for artifact in release.files(airgap=False):
            steps.append(
                f"install -m {artifact.mode:04o} {shlex.quote(staged[artifact.name])} "
                f"{shlex.quote(artifact.destination)}"
            )
        return " && ".join(steps)

    def join_credentials_command(self) -> str:
        """Re-create the join token (24h) and re-upload the control-plane certificates (kubeadm
        deletes them after 2h) from the first server's config file — secrets never in argv,
        output kept on the node. ``kubeadm token create`` refuses a token id that still exists
        (``CreateNewTokens``: ``failIfExists``), so the token is deleted first by its id — the
        public half, which kubeadm itself lists (``kubeadm token list``)."""
        pattern = r's/^[ -]*token: *"\{0,1\}\([a-z0-9]\{6\}\)\..*/\1/p'
        token_id = f"$(sed -n '{pattern}' {CONFIG} | head -n 1)"
        return (
            f'{{ {BIN}/kubeadm token delete "{token_id}" || true; '
            f"{BIN}/kubeadm token create --config {CONFIG} && "
            f"{BIN}/kubeadm init phase upload-certs --upload-certs --config {CONFIG}; }} "
            f">>{LOG} 2>&1"
        )

    def start_command(self, role: Role) -> str:
        return UP_SCRIPT

    def version_command(self) -> str:
        return f"{BIN}/kubeadm version -o short"

    def readyz_command(self) -> str:
        """This server's own API server (admin.conf points at the control-plane endpoint)."""
        return (
            f"{BIN}/kubectl --kubeconfig {self.kubeconfig_path} --server "
            f"https://127.0.0.1:{self.api_port} --tls-server-name kubernetes get --raw=/readyz"
        )

    def etcd_members_command(self) -> str:
        """Stacked etcd: one ``etcd-<node>`` static pod per member (kubeadm labels them
        ``component=etcd``); counted once running."""
        return (
            self.kubectl(
                "-n kube-system get pods -l component=etcd,tier=control-plane "
                "--field-selector=status.phase=Running -o name"
            )
            + " | wc -l"
        )

    def token_path(self) -> str:
        return CONFIG

    def log_command(self, role: Role, lines: int = 40) -> str:
        return (
            f"{{ journalctl -u kubelet -n {lines} --no-pager 2>/dev/null; "
            f"tail -n {lines} {LOG} 2>/dev/null | {_MASK}; }} || true"
        )

    def uninstall_command(self, role: Role) -> str:
        return " ; ".join(
            [
                f"[ -x {BIN}/kubeadm ] && {BIN}/kubeadm reset -f --cleanup-tmp-dir >/dev/null 2>&1",
                "systemctl disable --now kubelet 2>/dev/null",
                "rm -f /etc/systemd/system/kubelet.service",
                "rm -rf /etc/systemd/system/kubelet.service.d",
                "systemctl daemon-reload",
                # what `kubeadm reset` leaves (it says so itself): CNI config, the kubelet's and
                # etcd's directories, our config, CA and script
                "rm -rf /etc/kubernetes /var/lib/kubelet /var/lib/etcd /etc/cni/net.d",
                f"rm -f {BIN}/kubeadm {BIN}/kubelet {BIN}/kubectl {UP_SCRIPT} {LOG} "
                f"{CONTAINERD_CONFIG}",
                "systemctl restart containerd 2>/dev/null",
                "rm -rf /var/lib/sloth-kubernetes/artifacts/kubeadm",
                "true",
            ]
        )
