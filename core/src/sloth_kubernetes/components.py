"""The base type of each kind of plugin: one component object that answers the hooks for its name.

A plugin declares its component once and its entry point names that object::

    PLUGIN = Cni("flannel", "Flannel VXLAN overlay", settings=FlannelSettings, render=render)

    [project.entry-points.sloth_kubernetes]
    flannel = "sloth_cni_flannel.plugin:PLUGIN"

The object registers the component and its settings model, and answers the dispatch hooks
(``provision_nodes``, ``install_distro``, ``configure_mesh``, ``install_addon``…) for its own
name only — the check lives here, once, not in every plugin. Subclasses implement the kind's
methods (:meth:`Provider.provision`, :meth:`Mesh.configure`…) and may add any broadcast hook
(``node_packages``, ``doctor_checks``, ``register_commands``…) as a ``@hookimpl`` method.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from .hookspecs import hookimpl
from .registry import Component, ComponentKind, ConfigBlock, ConfigSlot, Register

if TYPE_CHECKING:
    from .addons.manifests import AddonManifests, Manifest, ManifestDelivery
    from .context import ClusterContext
    from .distro.installer import Installer
    from .model.cluster import ClusterConfig
    from .model.mesh import MeshCheckResult, MeshNodeStatus, VpnJoin, VpnPeer
    from .model.nodes import NodeRecord, NodeRequest, ResourceChange


class ComponentPlugin:
    """One named component and the model of its block of the spec (``settings``)."""

    kind: ClassVar[ComponentKind]
    slot: ClassVar[ConfigSlot]

    def __init__(
        self,
        name: str,
        description: str,
        *,
        settings: type[Any] | None = None,
        features: frozenset[str] = frozenset(),
        requires: tuple[str, ...] = (),
        supports: tuple[str, ...] = (),
        first: bool = False,
    ) -> None:
        self.name = name
        self.settings = settings
        self.component = Component(
            kind=self.kind, name=name, description=description, features=features,
            requires=requires, supports=supports, first=first,
        )  # fmt: skip

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind} {self.name!r}>"

    def config_blocks(self) -> list[ConfigBlock]:
        """The blocks of the spec this component validates (its settings, by default)."""
        return [] if self.settings is None else [ConfigBlock(self.slot, self.name, self.settings)]

    @hookimpl
    def register_config_models(self, register: Register) -> None:
        for block in self.config_blocks():
            register(block)


# --- providers ------------------------------------------------------------------------------


class Provider(ComponentPlugin, abc.ABC):
    """Machines: ``provision_nodes``, ``list_nodes``, ``destroy_nodes`` and ``describe_nodes``.

    ``pool_options`` is the model of ``spec.nodePools[].options`` for pools on this provider."""

    kind = "provider"
    slot = "providers"

    def __init__(
        self,
        name: str,
        description: str,
        *,
        settings: type[Any] | None = None,
        pool_options: type[Any] | None = None,
        features: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(name, description, settings=settings, features=features)
        self.pool_options = pool_options

    def config_blocks(self) -> list[ConfigBlock]:
        blocks = super().config_blocks()
        if self.pool_options is not None:
            blocks.append(ConfigBlock("nodePools", self.name, self.pool_options))
        return blocks

    @abc.abstractmethod
    def provision(
        self, context: ClusterContext, requests: Sequence[NodeRequest]
    ) -> list[NodeRecord]:
        """Create (or adopt, when tagged for this cluster) the machines; return their records."""

    @abc.abstractmethod
    def list_nodes(self, context: ClusterContext) -> list[NodeRecord]:
        """The machines of this cluster as they exist now."""

    @abc.abstractmethod
    def destroy(self, context: ClusterContext, nodes: Sequence[NodeRecord]) -> list[str]:
        """Delete the machines; return the names removed."""

    def describe(
        self, context: ClusterContext, requests: Sequence[NodeRequest]
    ) -> Mapping[str, str] | None:
        """Node name → how it is built (shown by ``plan``); ``None``: nothing to say."""
        return None

    def shared_changes(self, context: ClusterContext) -> Sequence[ResourceChange] | None:
        """What ``up`` would change on the resources the machines share (shown by ``plan``);
        ``None``: nothing to say. Read-only."""
        return None

    @hookimpl
    def register_providers(self, register: Register) -> None:
        register(self.component)

    @hookimpl
    def provision_nodes(
        self, context: ClusterContext, provider: str, requests: Sequence[NodeRequest]
    ) -> list[NodeRecord] | None:
        return self.provision(context, requests) if provider == self.name else None

    @hookimpl(specname="list_nodes")  # the method of that name is the provider's own listing
    def list_nodes_hook(self, context: ClusterContext, provider: str) -> list[NodeRecord] | None:
        return self.list_nodes(context) if provider == self.name else None

    @hookimpl
    def destroy_nodes(
        self, context: ClusterContext, provider: str, nodes: Sequence[NodeRecord]
    ) -> list[str] | None:
        return self.destroy(context, nodes) if provider == self.name else None

    @hookimpl
    def describe_nodes(
        self, context: ClusterContext, provider: str, requests: Sequence[NodeRequest]
    ) -> Mapping[str, str] | None:
        return self.describe(context, requests) if provider == self.name else None

    @hookimpl
    def plan_shared_changes(
        self, context: ClusterContext, provider: str
    ) -> Sequence[ResourceChange] | None:
        return self.shared_changes(context) if provider == self.name else None


# --- distributions --------------------------------------------------------------------------


class Distro(ComponentPlugin):
    """A Kubernetes distribution: what it needs is its :class:`Installer`; the order and safety
    of installing (first server, one server at a time, agent batches, tokens) are the core's."""

    kind = "distro"
    slot = "kubernetes"

    def __init__(
        self,
        name: str,
        description: str,
        *,
        settings: type[Any],
        installer: Callable[[], Installer],
        features: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(name, description, settings=settings, features=features)
        self.installer = installer

    def _settings(self) -> Any:
        assert self.settings is not None
        return self.settings()

    @hookimpl
    def register_distros(self, register: Register) -> None:
        register(self.component)

    @hookimpl
    def node_packages(self, context: ClusterContext, node: NodeRecord) -> list[str]:
        """haproxy on every node when ``apiEndpoint`` mode nodeLocal is in force (docs/ha.md)."""
        from .distro.endpoint import BALANCER_PACKAGE, effective_mode

        config = context.config
        if config.spec.kubernetes.distribution != self.name:
            return []
        return [BALANCER_PACKAGE] if effective_mode(config, self.installer()) == "nodeLocal" else []

    @hookimpl
    def install_distro(
        self, context: ClusterContext, distro: str, nodes: Sequence[NodeRecord]
    ) -> list[NodeRecord] | None:
        if distro != self.name:
            return None
        from .distro.orchestrate import install_cluster

        return install_cluster(context, self.installer(), nodes, self._settings())

    @hookimpl
    def distro_wait_ready(
        self, context: ClusterContext, distro: str, nodes: Sequence[NodeRecord]
    ) -> list[NodeRecord] | None:
        if distro != self.name:
            return None
        from .distro.orchestrate import wait_ready_after_cni

        return wait_ready_after_cni(context, self.installer(), nodes, self._settings())

    @hookimpl
    def distro_drift(
        self, context: ClusterContext, distro: str, nodes: Sequence[NodeRecord]
    ) -> list[str] | None:
        if distro != self.name:
            return None
        from .distro.orchestrate import drift

        return drift(context, self.installer(), nodes)

    @hookimpl
    def uninstall_distro(
        self, context: ClusterContext, distro: str, nodes: Sequence[NodeRecord]
    ) -> list[str] | None:
        if distro != self.name:
            return None
        from .distro.orchestrate import uninstall_cluster

        return uninstall_cluster(context, self.installer(), nodes)

    @hookimpl
    def render_node_files(
        self, context: ClusterContext, nodes: Sequence[NodeRecord]
    ) -> dict[str, dict[str, str]]:
        if context.config.spec.kubernetes.distribution != self.name:
            return {}
        from .distro.render import render_node_files

        return render_node_files(context, self.installer(), nodes, self._settings())

    def deliver(
        self, context: ClusterContext, manifests: Sequence[Manifest], removed: Sequence[Manifest]
    ) -> list[str] | None:
        """Write ``manifests`` into the servers' manifests directory, delete ``removed`` there
        (the distribution's deploy controller applies them); None without SSH access."""
        from .distro.deliver import deliver
        from .distro.orchestrate import settings_of

        settings = settings_of(context, self._settings())
        return deliver(context, self.installer(), settings, manifests, removed)

    @hookimpl
    def manifest_delivery(self, context: ClusterContext, distro: str) -> ManifestDelivery | None:
        return self.deliver if distro == self.name else None


# --- meshes ---------------------------------------------------------------------------------


class Mesh(ComponentPlugin, abc.ABC):
    """The network between nodes: ``configure_mesh``; optionally its live check
    (``mesh_drift``: without one, ``up`` trusts the recorded state), ``mesh status|check`` and
    ``vpn join|leave|list`` (a mesh that does not override one answers nothing: the command then
    says the mesh does not support it)."""

    kind = "mesh"
    slot = "mesh"

    @abc.abstractmethod
    def configure(self, context: ClusterContext, nodes: Sequence[NodeRecord]) -> list[NodeRecord]:
        """Bring the mesh up between ``nodes``; return them with ``mesh_address`` set."""

    def drift(self, context: ClusterContext, nodes: Sequence[NodeRecord]) -> Sequence[str] | None:
        return None

    def status(
        self, context: ClusterContext, nodes: Sequence[NodeRecord]
    ) -> Sequence[MeshNodeStatus] | None:
        return None

    def check(
        self, context: ClusterContext, nodes: Sequence[NodeRecord], repair: bool
    ) -> MeshCheckResult | None:
        return None

    def join_vpn(
        self, context: ClusterContext, nodes: Sequence[NodeRecord], peer: str
    ) -> VpnJoin | None:
        return None

    def leave_vpn(
        self, context: ClusterContext, nodes: Sequence[NodeRecord], peer: str
    ) -> VpnPeer | None:
        return None

    def vpn_peers(self, context: ClusterContext) -> Sequence[VpnPeer] | None:
        return None

    @hookimpl
    def register_meshes(self, register: Register) -> None:
        register(self.component)

    @hookimpl
    def configure_mesh(
        self, context: ClusterContext, mesh: str, nodes: Sequence[NodeRecord]
    ) -> list[NodeRecord] | None:
        return self.configure(context, nodes) if mesh == self.name else None

    @hookimpl
    def mesh_drift(
        self, context: ClusterContext, mesh: str, nodes: Sequence[NodeRecord]
    ) -> Sequence[str] | None:
        return self.drift(context, nodes) if mesh == self.name else None

    @hookimpl
    def mesh_status(
        self, context: ClusterContext, mesh: str, nodes: Sequence[NodeRecord]
    ) -> Sequence[MeshNodeStatus] | None:
        return self.status(context, nodes) if mesh == self.name else None

    @hookimpl
    def mesh_check(
        self, context: ClusterContext, mesh: str, nodes: Sequence[NodeRecord], repair: bool
    ) -> MeshCheckResult | None:
        return self.check(context, nodes, repair) if mesh == self.name else None

    @hookimpl
    def vpn_join(
        self, context: ClusterContext, mesh: str, nodes: Sequence[NodeRecord], peer: str
    ) -> VpnJoin | None:
        return self.join_vpn(context, nodes, peer) if mesh == self.name else None

    @hookimpl
    def vpn_leave(
        self, context: ClusterContext, mesh: str, nodes: Sequence[NodeRecord], peer: str
    ) -> VpnPeer | None:
        return self.leave_vpn(context, nodes, peer) if mesh == self.name else None

    @hookimpl
    def vpn_list(self, context: ClusterContext, mesh: str) -> Sequence[VpnPeer] | None:
        return self.vpn_peers(context) if mesh == self.name else None


# --- CNI, storage and add-ons ---------------------------------------------------------------


Render = Callable[["ClusterConfig", Any], "AddonManifests"]


class Addon(ComponentPlugin):
    """An add-on (``spec.addons[]``): the Kubernetes objects it is, from (config, settings).

    Installing is the core's pipeline: validate against the cluster's schemas, deliver through
    the distribution (or server-side apply), record for drift. :class:`Cni` and
    :class:`Storage` are the same for ``spec.kubernetes.cni`` and ``spec.storage[]``."""

    kind: ClassVar[ComponentKind] = "addon"
    slot: ClassVar[ConfigSlot] = "addons"

    def __init__(
        self,
        name: str,
        description: str,
        *,
        settings: type[Any],
        render: Render,
        features: frozenset[str] = frozenset(),
        requires: tuple[str, ...] = (),
        supports: tuple[str, ...] = (),
        first: bool = False,
    ) -> None:
        super().__init__(
            name, description, settings=settings, features=features, requires=requires,
            supports=supports, first=first,
        )  # fmt: skip
        self.render = render

    @hookimpl
    def register_addons(self, register: Register) -> None:
        register(self.component)

    @hookimpl
    def render_addon(
        self, context: ClusterContext, addon: str, settings: Any
    ) -> AddonManifests | None:
        return self.render(context.config, settings) if addon == self.name else None

    @hookimpl
    def install_addon(self, context: ClusterContext, addon: str, settings: Any) -> list[str] | None:
        if addon != self.name:
            return None
        from .addons.pipeline import install_manifests

        rendered = self.render(context.config, settings)
        return install_manifests(context, self.kind, self.name, rendered).keys


class Cni(Addon):
    """The cluster network (``spec.kubernetes.cni``)."""

    kind = "cni"
    slot = "cni"


class Storage(Addon):
    """A storage provisioner and its classes (``spec.storage[]``)."""

    kind = "storage"
    slot = "storage"
