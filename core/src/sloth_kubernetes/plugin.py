"""The plugin author's surface: everything a sloth-kubernetes plugin imports from the core.

A plugin (built-in or third-party) imports from this module only — a test keeps it so — and
declares one component object per provider, distro, mesh, CNI, storage or add-on: an instance of
:class:`Provider`, :class:`Distro`, :class:`Mesh`, :class:`Cni`, :class:`Storage` or
:class:`Addon` (or of a subclass). Its entry point in the ``sloth_kubernetes`` group names that
object: ``flannel = "sloth_cni_flannel.plugin:PLUGIN"``. docs/writing-a-plugin.md walks through
one; docs/reference/hooks.md lists the hooks the objects answer.

Grouped as in ``__all__``: the hook marker, the component base types, what plugins register,
what hooks receive, the model and the value types hooks return, the errors, and the shared
building blocks of each kind (cloud drivers, distro installers, add-on manifests, config
helpers). Anything not listed here is the core's own business and may change without notice.
"""

from __future__ import annotations

from .addons import (
    AddonManifests,
    ManifestDelivery,
    helm_chart,
    helm_chart_config,
    node_network,
    privileged_namespace,
    to_yaml,
)
from .addons.helm import MANAGED_BY
from .addons.storage import storage_classes
from .cloud import (
    CLUSTER_TAG,
    NODE_TAG,
    CloudDriver,
    CloudProvider,
    CloudSettings,
    Endpoint,
    FirewallRule,
    Image,
    Machine,
    MachineSpec,
    ProviderSpec,
    RateLimit,
    Region,
    Resource,
    Size,
    cluster_tags,
    flat_tags,
    guard_connection,
    point_connection_at,
)
from .cloud.retry import RetryableCreateError
from .cloud.rules import firewall_changes
from .components import Addon, Cni, Distro, Mesh, Provider, Storage
from .config.convert import make_converter, problems_from
from .config.located import locate, parse_yaml, render_path
from .config.overlays import merge as merge_overlay
from .config.problem import Problem, did_you_mean
from .config.references import Reference
from .context import ClusterContext, DoctorCheck, DoctorContext, OperatorKey
from .distro.flags import FlagCatalog, FlagProblem, load_flags
from .distro.installer import (
    Artifact,
    DistroPlan,
    Installer,
    NodeFile,
    Release,
    Role,
    rancher_node_keys,
    with_extras,
)
from .distro.settings import DistroSettings
from .errors import (
    ConfigError,
    ConfigIssue,
    PartialProvisionError,
    PluginError,
    ProviderError,
    RemoteError,
    SlothError,
    StateError,
    UsageError,
)
from .hookspecs import PROJECT, hookimpl
from .model.cluster import ClusterConfig, PluginBlock, StorageBlock, StorageClassSpec, doc
from .model.mesh import MeshCheckResult, MeshNodeStatus, MeshPeerStatus, VpnJoin, VpnPeer
from .model.nodes import NodePackage, NodeRecord, NodeRequest, ResourceChange
from .model.validators import InvalidValue, in_range, ipv4_network
from .registry import Component, ConfigBlock, Register
from .remote.prepare.plan import installable_packages
from .remote.private_files import put_private
from .secrets import Secret
from .secrets import register as register_secret

__all__ = [  # noqa: RUF022 (grouped by purpose, as in tox.plugin)
    # the hook marker (pluggy's HookimplMarker for the ``sloth_kubernetes`` project)
    "PROJECT",
    "hookimpl",
    # the component object of each kind: declare one, name it in the entry point
    "Addon",
    "Cni",
    "Distro",
    "Mesh",
    "Provider",
    "Storage",
    # what plugins register
    "Component",
    "ConfigBlock",
    "Register",
    # what hooks receive
    "ClusterContext",
    "DoctorCheck",
    "DoctorContext",
    "OperatorKey",
    # the model, and the value types hooks return
    "ClusterConfig",
    "MeshCheckResult",
    "MeshNodeStatus",
    "MeshPeerStatus",
    "NodePackage",
    "NodeRecord",
    "NodeRequest",
    "PluginBlock",
    "ResourceChange",
    "Secret",
    "StorageBlock",
    "StorageClassSpec",
    "VpnJoin",
    "VpnPeer",
    "register_secret",
    "put_private",
    # errors (one hierarchy: every error carries a hint)
    "ConfigError",
    "ConfigIssue",
    "PartialProvisionError",
    "PluginError",
    "ProviderError",
    "RemoteError",
    "SlothError",
    "StateError",
    "UsageError",
    # settings models: field docs, validators, secret references, config helpers
    "InvalidValue",
    "Problem",
    "Reference",
    "did_you_mean",
    "doc",
    "in_range",
    "ipv4_network",
    "locate",
    "make_converter",
    "merge_overlay",
    "parse_yaml",
    "problems_from",
    "render_path",
    # providers: the cloud contract and the shared provider; what prepare may install on a node
    "installable_packages",
    "CLUSTER_TAG",
    "NODE_TAG",
    "CloudDriver",
    "CloudProvider",
    "CloudSettings",
    "Endpoint",
    "FirewallRule",
    "firewall_changes",
    "Image",
    "Machine",
    "MachineSpec",
    "ProviderSpec",
    "RateLimit",
    "RetryableCreateError",
    "Region",
    "Resource",
    "Size",
    "cluster_tags",
    "flat_tags",
    "guard_connection",
    "point_connection_at",
    # distros: the installer contract and the shared orchestration
    "Artifact",
    "DistroPlan",
    "DistroSettings",
    "FlagCatalog",
    "FlagProblem",
    "Installer",
    "NodeFile",
    "Release",
    "Role",
    "load_flags",
    "rancher_node_keys",
    "with_extras",
    # CNI, storage and add-ons: manifests, the shared pipeline, a distro's own deployer
    "MANAGED_BY",
    "AddonManifests",
    "ManifestDelivery",
    "helm_chart",
    "helm_chart_config",
    "node_network",
    "privileged_namespace",
    "storage_classes",
    "to_yaml",
]
