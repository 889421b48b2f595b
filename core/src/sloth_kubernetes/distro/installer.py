"""The installer interface every distribution plugin implements.

An :class:`Installer` knows *what* a distribution needs on a node — its release files, config
file, systemd unit and drop-ins, and the shell commands that start, probe, read and remove it.
*When* and *where* is the core's job (:mod:`.orchestrate`): the same safe order (first server,
servers one at a time behind a health gate, agents in batches) for every distribution.

Installers never see SSH: they return data and command strings. Secrets (the cluster token)
reach nodes only inside files written 0600, never in a command line.
"""

from __future__ import annotations

import abc
import json
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import attrs

from ..model import ClusterConfig, NodeRecord
from ..model.cluster import KUBERNETES_API_PORT
from .flags import FlagCatalog

if TYPE_CHECKING:
    from ..model.cluster import KubernetesSpec

Role = Literal["server", "agent"]

#: What ``render`` writes instead of a secret value.
SECRET_MARKER = "<secret: stored encrypted in the state store>"  # noqa: S105 (a marker)


@attrs.frozen
class NodeFile:
    """A file the distro phase writes on a node. ``secret`` files are 0600 and masked in render."""

    path: str
    content: str
    mode: int = 0o644
    secret: bool = False


@attrs.frozen
class Artifact:
    """One file of a release: its name in the release (and checksum file) and where it goes.

    ``airgap`` files (container image bundles) are only needed when nodes cannot pull images.
    ``checksum``: the file's own checksum file beside it (``kubeadm.sha256``, as dl.k8s.io
    publishes them: the hex digest, optionally followed by the name) when the release has no
    combined checksum file, or does not list this file in it.
    """

    name: str
    destination: str
    mode: int = 0o755
    airgap: bool = False
    checksum: str | None = None


@attrs.frozen
class Release:
    """The files of one version for one architecture, and where the official release lives.

    ``checksum_file`` is the release's combined ``sha256sum`` file; empty when every artifact
    names its own (:attr:`Artifact.checksum`)."""

    distro: str
    version: str
    arch: str
    base_url: str
    checksum_file: str
    artifacts: tuple[Artifact, ...]

    def files(self, *, airgap: bool = True) -> list[Artifact]:
        return [a for a in self.artifacts if airgap or not a.airgap]

    def checksum_files(self, *, airgap: bool = True) -> list[str]:
        """Every checksum file the wanted artifacts are verified against."""
        own = [a.checksum for a in self.files(airgap=airgap) if a.checksum]
        return [*([self.checksum_file] if self.checksum_file else []), *own]


@attrs.frozen
class DistroPlan:
    """Everything an installer renders from, decided by the core for the whole cluster.

    ``token`` is the cluster token (revealed) or :data:`SECRET_MARKER` when rendering for review.
    ``first_server`` is the server that initialises the cluster — empty when the cluster exists
    and the server that initialised it is gone (then every server joins). ``join_address`` is the
    first server's mesh address, or the user's registration address (``registrationAddress``,
    ``apiEndpoint`` mode dns). ``addresses`` maps node name to its mesh address (its node IP).
    ``registration`` maps each role to the ``host:port`` its nodes register with
    (``apiEndpoint``: the node-local balancer on 127.0.0.1 in mode nodeLocal; see
    :mod:`.endpoint`); empty: ``join_address`` on the installer's ``join_port``.
    """

    config: ClusterConfig
    settings: Any  # the distro plugin's own settings model (a DistroSettings subclass)
    version: str
    token: str
    first_server: str
    join_address: str
    tls_sans: tuple[str, ...]
    addresses: Mapping[str, str]
    reveal: bool = True  # False for `render`: every secret becomes SECRET_MARKER
    registration: Mapping[str, str] = attrs.field(factory=dict)

    def server_url(self, role: Role, port: int) -> str:
        """The ``server:`` URL nodes of ``role`` register with (``port``: the installer's
        ``join_port``, used when no registration was decided for the role)."""
        found = self.registration.get(role)
        return f"https://{found}" if found else f"https://{self.join_address}:{port}"

    def secret(self, value: Any) -> str:
        """A secret (Reference or Secret) for a config file, or the marker when rendering."""
        if not self.reveal:
            return SECRET_MARKER
        if hasattr(value, "resolve"):
            value = value.resolve()
        return str(value.reveal() if hasattr(value, "reveal") else value)

    @property
    def kubernetes(self) -> KubernetesSpec:
        return self.config.spec.kubernetes


class Installer(abc.ABC):
    """A Kubernetes distribution as the core drives it (see module doc)."""

    name: ClassVar[str]
    #: config file read by the distribution at start
    config_path: ClassVar[str]
    #: where the server writes the admin kubeconfig
    kubeconfig_path: ClassVar[str]
    #: systemd unit per role
    units: ClassVar[Mapping[Role, str]]
    #: the port joining nodes register on (K3s: the API port; RKE2: the supervisor, 9345)
    join_port: ClassVar[int]
    #: the API's port (the firewalls open it on servers to ``security.apiAllowedCIDRs``)
    api_port: ClassVar[int] = KUBERNETES_API_PORT
    #: the default data directory (a distro block's ``dataDir`` overrides it)
    data_dir: ClassVar[str]
    #: finds the version in :meth:`version_command`'s output (group 1): ``k3s version v1.31.4+k3s1``
    version_pattern: ClassVar[re.Pattern[str]] = re.compile(r"version (v\S+)")
    #: the kubectl the distribution ships (K3s: ``k3s kubectl``), run by :meth:`kubectl`
    kubectl_binary: ClassVar[str]
    #: whether ``apiEndpoint`` mode nodeLocal works with this distribution (its config takes
    #: :meth:`DistroPlan.server_url` and its nodes free the :meth:`balancer_ports`)
    node_local_balancer: ClassVar[bool] = False

    def balancer_ports(self, role: Role) -> tuple[tuple[int, int], ...]:
        """Where the node-local balancer listens on 127.0.0.1 of a ``role`` node, and the server
        port each forwards to; the first pair is the registration address. By default agents
        use the distribution's own ports (``join_port``, then ``api_port``: a node derives the
        API address from the registration host) and servers — which serve those ports on every
        address themselves — the same ports plus :data:`~.endpoint.SERVER_PORT_OFFSET`."""
        from .endpoint import SERVER_PORT_OFFSET

        ports = tuple(dict.fromkeys((self.join_port, self.api_port)))
        offset = SERVER_PORT_OFFSET if role == "server" else 0
        return tuple((port + offset, port) for port in ports)

    def data_dir_for(self, plan: DistroPlan) -> str:
        """The data directory: the distro block's ``dataDir`` when it has one, else the default."""
        return str(getattr(plan.settings, "data_dir", self.data_dir))

    @property
    @abc.abstractmethod
    def flags(self) -> FlagCatalog:
        """The documented config keys (the plugin's ``flags.yaml``)."""

    @abc.abstractmethod
    def default_version(self) -> str:
        """The pinned version installed when ``spec.kubernetes.version`` is not set."""

    @abc.abstractmethod
    def release(self, version: str, arch: str, mirror: str | None = None) -> Release:
        """The release files of ``version`` for ``arch`` (amd64, arm64)."""

    def pod_network_builtin(self, plan: DistroPlan) -> bool:
        """Whether the distribution starts the pod network (CNI) itself. Then its nodes become
        Ready in the distro phase. When the CNI is an add-on the add-ons phase delivers, a
        kubelet stays ``NotReady`` (no CNI configuration) until then: the distro phase waits
        only for the nodes to register, and the add-ons phase for Ready once the CNI is in.
        By default: built in unless ``spec.kubernetes.cni`` names a CNI plugin."""
        return getattr(plan.config.spec.kubernetes.cni, "name", None) is None

    # -- configuration ---------------------------------------------------------------------

    @abc.abstractmethod
    def render_server_config(self, plan: DistroPlan, node: NodeRecord) -> dict[str, Any]:
        """The server config file's keys for ``node`` (initialising when it is the first)."""

    @abc.abstractmethod
    def render_agent_config(self, plan: DistroPlan, node: NodeRecord) -> dict[str, Any]:
        """The agent config file's keys for ``node``."""

    def extra_files(self, plan: DistroPlan, node: NodeRecord, role: Role) -> list[NodeFile]:
        """Further files (audit policy, admission config, drop-ins); none by default."""
        return []

    @abc.abstractmethod
    def unit_file(self, role: Role) -> NodeFile:
        """The systemd unit starting the distribution in ``role``."""

    def node_files(self, plan: DistroPlan, node: NodeRecord) -> list[NodeFile]:
        """Every file ``node`` receives: config file (0600: it holds the token), unit, extras."""
        role = role_of(node)
        keys = (
            self.render_server_config(plan, node)
            if role == "server"
            else self.render_agent_config(plan, node)
        )
        files = [
            NodeFile(self.config_path, config_yaml(keys), 0o600, secret=True),
            self.unit_file(role),
            *self.extra_files(plan, node, role),
        ]
        return files

    # -- commands run on the node ------------------------------------------------------------

    @abc.abstractmethod
    def install_command(self, release: Release, staged: Mapping[str, str], role: Role) -> str:
        """Install from the staged release files (``staged``: artifact name → node path)."""

    def start_command(self, role: Role) -> str:
        """(Re)start the unit; joining is starting with a config that names the server."""
        unit = shlex.quote(self.units[role])
        return f"systemctl daemon-reload && systemctl enable {unit} && systemctl restart {unit}"

    def join_credentials_command(self) -> str | None:
        """Run on the first server before nodes join in a later run, when join credentials
        expire (kubeadm's bootstrap token and uploaded certificates); none by default."""
        return None

    @abc.abstractmethod
    def version_command(self) -> str:
        """Print the installed version (first line contains it); fails when not installed."""

    def parse_version(self, output: str) -> str | None:
        """The version in :meth:`version_command`'s output (the first match of
        :attr:`version_pattern`'s group 1)."""
        match = self.version_pattern.search(output)
        return match.group(1) if match else None

    def kubectl(self, arguments: str) -> str:
        """A command running the bundled kubectl (:attr:`kubectl_binary`) with the admin
        kubeconfig on a server."""
        return f"{self.kubectl_binary} --kubeconfig {self.kubeconfig_path} {arguments}"

    def readyz_command(self) -> str:
        return self.kubectl("get --raw=/readyz")

    def etcd_members_command(self) -> str:
        """Count etcd members (servers registered with the etcd role)."""
        return self.kubectl("get nodes -l node-role.kubernetes.io/etcd=true -o name") + " | wc -l"

    def nodes_command(self) -> str:
        return self.kubectl("get nodes -o name")

    @abc.abstractmethod
    def token_path(self) -> str:
        """The server's node token file (the cluster's join secret)."""

    def log_command(self, role: Role, lines: int = 40) -> str:
        unit = shlex.quote(self.units[role])
        return f"journalctl -u {unit} -n {lines} --no-pager 2>/dev/null || true"

    @abc.abstractmethod
    def uninstall_command(self, role: Role) -> str:
        """Stop and remove the distribution from a node (used by ``destroy`` on ``ssh``)."""


def role_of(node: NodeRecord) -> Role:
    return "server" if node.is_server else "agent"


def config_yaml(keys: Mapping[str, Any]) -> str:
    """A config file in the one YAML shape every distribution reads: flat keys, scalars, lists.

    Strings are JSON-quoted (valid YAML) so values like ``on`` or ``1.30`` keep their type.
    """
    lines = ["# Written by sloth-kubernetes; changes here are overwritten by `up`."]
    for key, value in keys.items():
        if isinstance(value, list | tuple):
            if not value:
                continue
            lines.append(f"{key}:")
            lines.extend(f"  - {_scalar(v)}" for v in value)
        else:
            lines.append(f"{key}: {_scalar(value)}")
    return "\n".join(lines) + "\n"


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(str(value))


def with_extras(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` plus the user's extra settings; list keys are appended, scalars replaced."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(merged.get(key), list) and isinstance(value, list | str):
            merged[key] = [*merged[key], *([value] if isinstance(value, str) else value)]
        else:
            merged[key] = value
    return merged


def sorted_unique(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(values))


def rancher_node_keys(plan: DistroPlan, node: NodeRecord, data_dir: str) -> dict[str, Any]:
    """Config keys K3s and RKE2 share for any node: name, mesh IP, data dir, token (as a secret
    marker the renderer fills in only in the 0600 file), external IP, labels."""
    keys: dict[str, Any] = {
        "node-name": node.name,
        "node-ip": [plan.addresses[node.name]],
        "data-dir": data_dir,
        "token": plan.secret(plan.token),
    }
    if node.public_address and node.public_address != plan.addresses[node.name]:
        keys["node-external-ip"] = [node.public_address]
    labels = [f"{k}={v}" for k, v in sorted(node.labels.items())]
    if labels:
        keys["node-label"] = labels
    return keys
