"""The plugin manager and the typed facade the core uses to call hooks.

Plugins are found through the ``sloth_kubernetes`` entry-point group. Loading is controlled by:

* ``SLOTH_LOAD_PLUGINS`` — comma-separated entry-point names: load only these (empty: none);
* ``SLOTH_DISABLE_PLUGINS`` — comma-separated entry-point names to skip;
* ``SLOTH_TRACE_PLUGINS=1`` — print every hook call and result to stderr.

A plugin that fails to import or to register is skipped with a warning naming its distribution;
the CLI keeps working.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

from . import hookspecs
from .errors import PluginError
from .model.nodes import NodePackage
from .plugin_cache import (
    COMMANDS_CACHE,
    discover_entry_points,
    env_list,
    write_cache,
)
from .registry import Catalog, Component, ComponentKind, ConfigBlock

if TYPE_CHECKING:
    import click

    from .addons.manifests import AddonManifests, ManifestDelivery
    from .context import ClusterContext, DoctorCheck, DoctorContext
    from .model.mesh import MeshCheckResult, MeshNodeStatus, VpnJoin, VpnPeer
    from .model.nodes import NodeRecord, NodeRequest, ResourceChange

#: Modules of the core that are plugins themselves (always loaded, never disabled).
BUILTIN_PLUGINS = ("sloth_kubernetes.builtin.doctor",)


@attrs.frozen
class PluginInfo:
    """What ``sloth-kubernetes plugins`` shows for one plugin."""

    name: str
    distribution: str
    version: str
    kinds: tuple[str, ...]
    hooks: tuple[str, ...]


@attrs.frozen
class LoadFailure:
    name: str
    distribution: str
    error: str

    def render(self) -> str:
        return f"plugin {self.name!r} ({self.distribution}) was skipped: {self.error}"


class PluginManager:
    """Owns the pluggy manager, the load failures and where each plugin came from."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.failures: list[LoadFailure] = []
        self.origins: dict[str, tuple[str, str]] = {}  # plugin name → (distribution, version)
        self.hooks = Hooks(self)
        self.tracing = bool(os.environ.get("SLOTH_TRACE_PLUGINS"))
        if self.tracing:
            self.pm.trace.root.setwriter(lambda text: sys.stderr.write(f"[plugins] {text}"))
            self.pm.enable_tracing()

    def trace(self, text: str) -> None:
        """Print one line about a hook call when SLOTH_TRACE_PLUGINS is set."""
        if self.tracing:
            sys.stderr.write(f"[plugins] {text}\n")

    def register(
        self, plugin: object, name: str, *, distribution: str = "", version: str = ""
    ) -> None:
        """Register a plugin (module or instance); an invalid one is skipped with a warning."""
        try:
            self.pm.register(plugin, name=name)
        except (pluggy.PluginValidationError, ValueError) as error:
            self.failures.append(LoadFailure(name, distribution or name, str(error)))
            return
        self.origins[name] = (distribution or "sloth-kubernetes", version)

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self.origins.pop(name, None)

    def load_builtins(self) -> None:
        import importlib

        from . import __version__

        for module_name in BUILTIN_PLUGINS:
            self.register(
                importlib.import_module(module_name),
                module_name,
                distribution="sloth-kubernetes",
                version=__version__,
            )

    def load_entry_points(self) -> None:
        """Load installed plugins, honouring SLOTH_LOAD_PLUGINS / SLOTH_DISABLE_PLUGINS."""
        only = env_list("SLOTH_LOAD_PLUGINS")
        disabled = set(env_list("SLOTH_DISABLE_PLUGINS") or [])
        for name, value, distribution, version in discover_entry_points():
            if (only is not None and name not in only) or name in disabled:
                continue
            try:
                plugin = _load(value)
            except Exception as error:
                self.failures.append(
                    LoadFailure(name, distribution, f"{type(error).__name__}: {error}")
                )
                continue
            self.register(plugin, name, distribution=distribution, version=version)
            if name in self.origins and not self.pm.get_hookcallers(plugin):
                # Loaded, but it would silently do nothing: say so, as for a broken plugin.
                self.unregister(name)
                self.failures.append(
                    LoadFailure(
                        name,
                        distribution,
                        f"entry point {value!r} implements no sloth-kubernetes hook (does it "
                        "name the object holding the hooks, e.g. 'package.plugin:PLUGIN'? "
                        "after an upgrade, reinstall the plugin)",
                    )
                )
        self.check_pending()
        if only is None and not disabled:
            commanders = sorted(
                impl.plugin_name for impl in self.pm.hook.register_commands.get_hookimpls()
            )
            write_cache(COMMANDS_CACHE, [n for n in commanders if n not in BUILTIN_PLUGINS])

    def check_pending(self) -> None:
        """Unregister plugins implementing hooks that do not exist (typos, newer API)."""
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as error:
            name = self.pm.get_name(error.plugin) or repr(error.plugin)
            distribution = self.origins.get(name, (name, ""))[0]
            self.unregister(name)
            self.failures.append(LoadFailure(name, distribution, str(error)))
            self.check_pending()

    def plugin_infos(self) -> list[PluginInfo]:
        catalog = self.hooks.catalog()
        infos = []
        for name, plugin in self.pm.list_name_plugin():
            distribution, version = self.origins.get(name, (name, ""))
            hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
            kinds = sorted({c.kind for c in catalog.components if c.plugin == name})
            infos.append(
                PluginInfo(name, distribution, version, tuple(kinds) or ("core",), tuple(hooks))
            )
        return sorted(infos, key=lambda i: i.name)


def _load(value: str) -> object:
    """Import an entry point's ``module:attribute`` (what ``EntryPoint.load`` does)."""
    module_name, _, attribute = value.partition(":")
    loaded: object = importlib.import_module(module_name.strip())
    for part in filter(None, attribute.strip().split(".")):
        loaded = getattr(loaded, part)
    return loaded


def create_plugin_manager(*, entry_points: bool = True) -> PluginManager:
    """A plugin manager with the built-ins and (by default) every installed plugin."""
    manager = PluginManager()
    manager.load_builtins()
    if entry_points:
        manager.load_entry_points()
    return manager


class Hooks:
    """One typed method per hook. Checks answers and names the installed alternatives."""

    def __init__(self, manager: PluginManager) -> None:
        self._manager = manager
        self._catalog: Catalog | None = None

    @property
    def _hook(self) -> pluggy.HookRelay:
        return self._manager.pm.hook

    # discovery ----------------------------------------------------------------------------------

    def catalog(self) -> Catalog:
        """Everything registered by ``register_*`` hooks (computed once per manager)."""
        if self._catalog is None:
            components: list[Component] = []
            blocks: list[ConfigBlock] = []
            for hook_name in (
                "register_providers",
                "register_distros",
                "register_meshes",
                "register_addons",
            ):
                components += self._collect(hook_name, Component)
            blocks = self._collect("register_config_models", ConfigBlock)
            self._catalog = Catalog(tuple(components), tuple(blocks))
        return self._catalog

    def invalidate(self) -> None:
        self._catalog = None

    def _collect(self, hook_name: str, record_type: type[Any]) -> list[Any]:
        records: list[Any] = []
        seen: dict[tuple[str, str], str] = {}
        caller = getattr(self._hook, hook_name)
        for impl in reversed(caller.get_hookimpls()):  # registration order
            found: list[Any] = []

            def register(record: Any, _found: list[Any] = found) -> None:
                if not isinstance(record, record_type):
                    raise TypeError(f"expected a {record_type.__name__}, got {record!r}")
                _found.append(record)

            self._manager.trace(f"{hook_name} -> {impl.plugin_name}")
            try:
                impl.function(register=register)
            except Exception as error:
                self._manager.failures.append(
                    LoadFailure(
                        impl.plugin_name,
                        self._distribution(impl.plugin_name),
                        f"{hook_name} failed: {type(error).__name__}: {error}",
                    )
                )
                continue
            for record in found:
                key = (getattr(record, "kind", getattr(record, "slot", "")), record.name)
                if key in seen:
                    raise PluginError(
                        f"{key[0]} {record.name!r} is registered by two plugins: "
                        f"{seen[key]} and {impl.plugin_name}",
                        hint="uninstall one of them or disable it with SLOTH_DISABLE_PLUGINS",
                    )
                seen[key] = impl.plugin_name
                records.append(attrs.evolve(record, plugin=impl.plugin_name))
        return records

    def _distribution(self, plugin_name: str) -> str:
        return self._manager.origins.get(plugin_name, (plugin_name, ""))[0]

    def register_commands(self, cli: click.Group) -> None:
        for impl in reversed(self._hook.register_commands.get_hookimpls()):
            self._manager.trace(f"register_commands -> {impl.plugin_name}")
            try:
                impl.function(cli=cli)
            except Exception as error:
                self._manager.failures.append(
                    LoadFailure(
                        impl.plugin_name,
                        self._distribution(impl.plugin_name),
                        f"register_commands failed: {type(error).__name__}: {error}",
                    )
                )

    # dispatch -----------------------------------------------------------------------------------

    def _dispatch(self, kind: ComponentKind, name: str, call: Callable[[], Any]) -> Any:
        if self.catalog().component(kind, name) is None:
            installed = self.catalog().names(kind)
            raise PluginError(
                f"no {kind} plugin named {name!r} is installed",
                hint=f"installed {kind}s: {', '.join(installed) or 'none'}; "
                f"`sloth-kubernetes plugins` lists what is loaded",
            )
        result = call()
        if result is None:
            owner = self.catalog().component(kind, name)
            plugin = owner.plugin if owner else "?"
            raise PluginError(
                f"{kind} {name!r} (plugin {plugin}) did not handle the request",
                hint="the plugin registered the name but does not implement this hook; "
                "report it to the plugin's authors",
            )
        return result

    def provision_nodes(
        self, context: ClusterContext, provider: str, requests: Sequence[NodeRequest]
    ) -> list[NodeRecord]:
        return list(
            self._dispatch(
                "provider",
                provider,
                lambda: self._hook.provision_nodes(
                    context=context, provider=provider, requests=requests
                ),
            )
        )

    def list_nodes(self, context: ClusterContext, provider: str) -> list[NodeRecord]:
        return list(
            self._dispatch(
                "provider",
                provider,
                lambda: self._hook.list_nodes(context=context, provider=provider),
            )
        )

    def describe_nodes(
        self, context: ClusterContext, provider: str, requests: Sequence[NodeRequest]
    ) -> dict[str, str]:
        """How ``provider`` will build each node (empty when the provider does not say)."""
        if self.catalog().component("provider", provider) is None:
            return {}
        found = self._hook.describe_nodes(context=context, provider=provider, requests=requests)
        return dict(found or {})

    def plan_shared_changes(self, context: ClusterContext, provider: str) -> list[ResourceChange]:
        """What ``up`` would change on ``provider``'s shared resources (empty when it does not
        say)."""
        if self.catalog().component("provider", provider) is None:
            return []
        found = self._hook.plan_shared_changes(context=context, provider=provider)
        return list(found or [])

    def destroy_nodes(
        self, context: ClusterContext, provider: str, nodes: Sequence[NodeRecord]
    ) -> list[str]:
        return list(
            self._dispatch(
                "provider",
                provider,
                lambda: self._hook.destroy_nodes(context=context, provider=provider, nodes=nodes),
            )
        )

    def configure_mesh(
        self, context: ClusterContext, mesh: str, nodes: Sequence[NodeRecord]
    ) -> list[NodeRecord]:
        return list(
            self._dispatch(
                "mesh",
                mesh,
                lambda: self._hook.configure_mesh(context=context, mesh=mesh, nodes=nodes),
            )
        )

    def install_distro(
        self, context: ClusterContext, distro: str, nodes: Sequence[NodeRecord]
    ) -> list[NodeRecord]:
        return list(
            self._dispatch(
                "distro",
                distro,
                lambda: self._hook.install_distro(context=context, distro=distro, nodes=nodes),
            )
        )

    def distro_wait_ready(
        self, context: ClusterContext, distro: str, nodes: Sequence[NodeRecord]
    ) -> list[NodeRecord]:
        return list(
            self._dispatch(
                "distro",
                distro,
                lambda: self._hook.distro_wait_ready(context=context, distro=distro, nodes=nodes),
            )
        )

    def install_addon(
        self, context: ClusterContext, kind: ComponentKind, addon: str, settings: Any
    ) -> list[str]:
        return list(
            self._dispatch(
                kind,
                addon,
                lambda: self._hook.install_addon(context=context, addon=addon, settings=settings),
            )
        )

    def render_addon(
        self, context: ClusterContext, kind: ComponentKind, addon: str, settings: Any
    ) -> AddonManifests:
        from .addons.manifests import AddonManifests

        result = self._dispatch(
            kind,
            addon,
            lambda: self._hook.render_addon(context=context, addon=addon, settings=settings),
        )
        if not isinstance(result, AddonManifests):
            raise PluginError(
                f"{kind} {addon!r} rendered {type(result).__name__}, not AddonManifests",
                hint="a plugin bug: report it to the plugin's authors",
            )
        return result

    def manifest_delivery(self, context: ClusterContext, distro: str) -> ManifestDelivery | None:
        """The distro's own deployer of add-on manifests, or ``None`` when it has none (the
        pipeline then applies through the API)."""
        delivery: ManifestDelivery | None = self._hook.manifest_delivery(
            context=context, distro=distro
        )
        return delivery

    def uninstall_distro(
        self, context: ClusterContext, distro: str, nodes: Sequence[NodeRecord]
    ) -> list[str]:
        return list(
            self._dispatch(
                "distro",
                distro,
                lambda: self._hook.uninstall_distro(context=context, distro=distro, nodes=nodes),
            )
        )

    def mesh_status(
        self, context: ClusterContext, mesh: str, nodes: Sequence[NodeRecord]
    ) -> list[MeshNodeStatus]:
        return list(
            self._dispatch(
                "mesh",
                mesh,
                lambda: self._hook.mesh_status(context=context, mesh=mesh, nodes=nodes),
            )
        )

    def distro_drift(
        self, context: ClusterContext, distro: str, nodes: Sequence[NodeRecord]
    ) -> list[str] | None:
        """The distro plugin's live findings; None when it has no live check."""
        if self.catalog().component("distro", distro) is None:
            return None
        found = self._hook.distro_drift(context=context, distro=distro, nodes=nodes)
        return None if found is None else list(found)

    def mesh_drift(
        self, context: ClusterContext, mesh: str, nodes: Sequence[NodeRecord]
    ) -> list[str] | None:
        """The mesh plugin's live findings; None when it has no live check (never an error:
        ``up`` then trusts the recorded state and says so)."""
        if self.catalog().component("mesh", mesh) is None:
            return None
        found = self._hook.mesh_drift(context=context, mesh=mesh, nodes=nodes)
        return None if found is None else list(found)

    def mesh_check(
        self, context: ClusterContext, mesh: str, nodes: Sequence[NodeRecord], repair: bool
    ) -> MeshCheckResult:
        result: MeshCheckResult = self._dispatch(
            "mesh",
            mesh,
            lambda: self._hook.mesh_check(context=context, mesh=mesh, nodes=nodes, repair=repair),
        )
        return result

    def vpn_join(
        self, context: ClusterContext, mesh: str, nodes: Sequence[NodeRecord], peer: str
    ) -> VpnJoin:
        result: VpnJoin = self._dispatch(
            "mesh",
            mesh,
            lambda: self._hook.vpn_join(context=context, mesh=mesh, nodes=nodes, peer=peer),
        )
        return result

    def vpn_leave(
        self, context: ClusterContext, mesh: str, nodes: Sequence[NodeRecord], peer: str
    ) -> VpnPeer:
        result: VpnPeer = self._dispatch(
            "mesh",
            mesh,
            lambda: self._hook.vpn_leave(context=context, mesh=mesh, nodes=nodes, peer=peer),
        )
        return result

    def vpn_list(self, context: ClusterContext, mesh: str) -> list[VpnPeer]:
        return list(
            self._dispatch("mesh", mesh, lambda: self._hook.vpn_list(context=context, mesh=mesh))
        )

    # broadcast ----------------------------------------------------------------------------------

    def render_node_files(
        self, context: ClusterContext, nodes: Sequence[NodeRecord]
    ) -> dict[str, dict[str, str]]:
        """Every plugin's files per node, merged; two plugins writing one path is an error."""
        merged: dict[str, dict[str, str]] = {}
        for contribution in reversed(self._hook.render_node_files(context=context, nodes=nodes)):
            for node, files in (contribution or {}).items():
                target = merged.setdefault(node, {})
                for path, content in files.items():
                    if path in target and target[path] != content:
                        raise PluginError(
                            f"two plugins render different content for {path} on {node}",
                            hint="report it to the plugins' authors",
                        )
                    target[path] = content
        return merged

    def doctor_checks(self, context: DoctorContext) -> list[DoctorCheck]:
        results: Iterable[Sequence[DoctorCheck]] = self._hook.doctor_checks(context=context)
        return [check for checks in reversed(list(results)) for check in checks]

    def node_packages(self, context: ClusterContext, node: NodeRecord) -> list[NodePackage]:
        """Every plugin's packages for ``node``, sorted by name; a package one plugin needs
        unconditionally and another only without a module is needed unconditionally."""
        results: Iterable[Sequence[str | NodePackage]] = self._hook.node_packages(
            context=context, node=node
        )
        merged: dict[str, NodePackage] = {}
        for packages in results:
            for item in packages:
                package = item if isinstance(item, NodePackage) else NodePackage(str(item))
                known = merged.get(package.name)
                if known is None or (known.unless_module and known != package):
                    merged[package.name] = package if known is None else NodePackage(package.name)
        return [merged[name] for name in sorted(merged)]
