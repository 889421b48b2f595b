"""Every hook: documented with its signature, and exercised through the typed facade."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import attrs
import pytest
from sloth_kubernetes import hookspecs
from sloth_kubernetes.context import ClusterContext, DoctorCheck, DoctorContext
from sloth_kubernetes.errors import PluginError
from sloth_kubernetes.hookspecs import hookimpl
from sloth_kubernetes.registry import Component, ConfigBlock

DOCS = Path(__file__).resolve().parents[2] / "docs" / "reference" / "hooks.md"
HOOKS = sorted(
    name
    for name, fn in vars(hookspecs).items()
    if inspect.isfunction(fn) and hasattr(fn, "sloth_kubernetes_spec")
)


def test_the_hook_list_is_not_empty():
    assert {"provision_nodes", "install_distro", "configure_mesh", "install_addon"} <= set(HOOKS)


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_is_documented_with_its_signature(name):
    parameters = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
    assert f"`{name}({parameters})`" in DOCS.read_text()


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_has_a_test(name):
    assert f"test_hook_{name}" in Path(__file__).read_text()


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_states_its_calling_convention(name):
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    assert re.match(r"(Discovery|Dispatch|Broadcast)\.", doc)


@pytest.fixture
def context(config_factory, sloth_manager, dummy_provider):
    from sloth_kubernetes import api

    return ClusterContext(config=api.load([config_factory()], manager=sloth_manager))


def test_hook_register_providers(sloth_manager):
    assert "local" in sloth_manager.hooks.catalog().names("provider")


def test_hook_register_distros(sloth_manager):
    component = sloth_manager.hooks.catalog().component("distro", "k3s")
    assert component is not None
    assert component.plugin == "k3s"


def test_hook_register_meshes(sloth_manager):
    assert {"wireguard", "tailscale"} <= set(sloth_manager.hooks.catalog().names("mesh"))


def test_hook_register_addons(sloth_manager):
    catalog = sloth_manager.hooks.catalog()
    assert catalog.component("cni", "flannel").supports == ("k3s",)
    assert "local-path" in catalog.names("storage")
    assert "cert-manager" in catalog.names("addon")


def test_hook_register_config_models(sloth_manager):
    block = sloth_manager.hooks.catalog().block("providers", "local")
    assert block is not None
    assert block.path == "providers.local"


def test_two_plugins_claiming_one_name_is_an_error(sloth_manager, register_plugin):
    class Impostor:
        @hookimpl
        def register_distros(self, register):
            register(Component("distro", "k3s", "a second k3s"))

    register_plugin(Impostor(), "impostor")
    with pytest.raises(PluginError, match="registered by two plugins"):
        sloth_manager.hooks.catalog()


def test_a_registration_that_raises_is_skipped_with_a_warning(sloth_manager, register_plugin):
    class Broken:
        @hookimpl
        def register_providers(self, register):
            register("not a component")

    register_plugin(Broken(), "broken")
    assert "local" in sloth_manager.hooks.catalog().names("provider")
    assert any(f.name == "broken" for f in sloth_manager.failures)


def test_hook_register_commands(sloth_cli, register_plugin):
    import click

    class WithCommand:
        @hookimpl
        def register_commands(self, cli):
            @cli.command(name="hello")
            def hello():
                """Say hello."""
                click.echo("hello from a plugin")

    register_plugin(WithCommand(), "withcommand")
    result = sloth_cli("hello")
    assert (result.exit_code, result.stdout) == (0, "hello from a plugin\n")


def test_hook_provision_nodes(sloth_manager, context, dummy_provider):
    from sloth_kubernetes.engine.plan import node_requests

    requests = node_requests(context.config)
    records = sloth_manager.hooks.provision_nodes(context, "dummy", requests)
    assert [r.name for r in records] == ["test-servers-1", "test-agents-1", "test-agents-2"]
    again = sloth_manager.hooks.provision_nodes(context, "dummy", requests)
    assert again == records
    assert len(dummy_provider.created) == 3  # adopted, not duplicated


def test_dispatch_to_an_unknown_component_names_the_installed_ones(sloth_manager, context):
    with pytest.raises(PluginError) as caught:
        sloth_manager.hooks.provision_nodes(context, "nimbus", [])
    assert "nimbus" in str(caught.value)
    assert "local" in caught.value.hint


def test_dispatch_nobody_answers_is_a_plugin_error(sloth_manager, context, register_plugin):
    class NameOnly:
        @hookimpl
        def register_distros(self, register):
            register(Component("distro", "nameonly", "registers a name, implements nothing"))

    register_plugin(NameOnly(), "nameonly")
    with pytest.raises(PluginError, match="did not handle the request"):
        sloth_manager.hooks.install_distro(context, "nameonly", [])


def test_hook_list_nodes(sloth_manager, context, dummy_provider):
    from sloth_kubernetes.engine.plan import node_requests

    assert sloth_manager.hooks.list_nodes(context, "dummy") == []
    sloth_manager.hooks.provision_nodes(context, "dummy", node_requests(context.config))
    listed = sloth_manager.hooks.list_nodes(context, "dummy")
    assert sorted(n.name for n in listed) == ["test-agents-1", "test-agents-2", "test-servers-1"]


def test_hook_describe_nodes(sloth_manager, register_plugin, context, dummy_provider):
    from sloth_kubernetes.engine.plan import node_requests
    from sloth_kubernetes.model.cluster import SizeRequest

    requests = node_requests(context.config)
    # Optional: a provider that does not answer describes nothing, and nothing fails.
    assert sloth_manager.hooks.describe_nodes(context, "dummy", requests) == {}
    assert sloth_manager.hooks.describe_nodes(context, "not-installed", requests) == {}

    class Sizer:
        @hookimpl
        def describe_nodes(self, context, provider, requests):
            if provider != "dummy":
                return None
            return {
                r.name: f"d-{r.size.cpu}x{r.size.memory_gib:g} (cheapest match)"
                for r in requests
                if isinstance(r.size, SizeRequest)
            }

    register_plugin(Sizer(), "sizer")
    sized = [attrs.evolve(r, size=SizeRequest(cpu=2, memory_gib=4)) for r in requests[:1]]
    assert sloth_manager.hooks.describe_nodes(context, "dummy", sized) == {
        "test-servers-1": "d-2x4 (cheapest match)"
    }


def test_hook_plan_shared_changes(sloth_manager, register_plugin, context, dummy_provider):
    from sloth_kubernetes.model import ResourceChange

    # Optional: a provider that does not answer has nothing to change, and nothing fails.
    assert sloth_manager.hooks.plan_shared_changes(context, "dummy") == []
    assert sloth_manager.hooks.plan_shared_changes(context, "not-installed") == []
    change = ResourceChange("walled", "add-rule", "firewall sloth-test", "tcp 6443 from 0.0.0.0/0")

    class Walled:
        @hookimpl
        def plan_shared_changes(self, context, provider):
            return [change] if provider == "dummy" else None

    register_plugin(Walled(), "walled")
    assert sloth_manager.hooks.plan_shared_changes(context, "dummy") == [change]


def test_hook_destroy_nodes(sloth_manager, context, dummy_provider):
    from sloth_kubernetes.engine.plan import node_requests

    records = sloth_manager.hooks.provision_nodes(context, "dummy", node_requests(context.config))
    removed = sloth_manager.hooks.destroy_nodes(context, "dummy", records[:1])
    assert removed == ["test-servers-1"]
    assert sorted(dummy_provider.machines) == ["test-agents-1", "test-agents-2"]


class Recorder:
    """Answers the three remaining dispatch hooks for the component names it registered."""

    def __init__(self):
        self.calls = []

    @hookimpl
    def register_meshes(self, register):
        register(Component("mesh", "testmesh", "records calls"))

    @hookimpl
    def register_distros(self, register):
        register(Component("distro", "testdistro", "records calls"))

    @hookimpl
    def register_addons(self, register):
        register(Component("addon", "testaddon", "records calls"))

    @hookimpl
    def configure_mesh(self, context, mesh, nodes):
        if mesh != "testmesh":
            return None
        self.calls.append(("mesh", len(nodes)))
        return list(nodes)

    @hookimpl
    def install_distro(self, context, distro, nodes):
        if distro != "testdistro":
            return None
        self.calls.append(("distro", len(nodes)))
        return list(nodes)

    @hookimpl
    def install_addon(self, context, addon, settings):
        if addon != "testaddon":
            return None
        self.calls.append(("addon", settings))
        return ["ConfigMap/default/test"]


@pytest.fixture
def recorder(register_plugin):
    plugin = Recorder()
    register_plugin(plugin, "recorder")
    return plugin


def test_hook_configure_mesh(sloth_manager, context, recorder):
    assert sloth_manager.hooks.configure_mesh(context, "testmesh", []) == []
    assert recorder.calls == [("mesh", 0)]


def test_hook_install_distro(sloth_manager, context, recorder):
    assert sloth_manager.hooks.install_distro(context, "testdistro", []) == []
    assert recorder.calls == [("distro", 0)]


def test_hook_install_addon(sloth_manager, context, recorder):
    result = sloth_manager.hooks.install_addon(context, "addon", "testaddon", {"a": 1})
    assert result == ["ConfigMap/default/test"]
    assert recorder.calls == [("addon", {"a": 1})]


def test_hook_doctor_checks(sloth_manager, register_plugin):
    class Extra:
        @hookimpl
        def doctor_checks(self, context):
            return [DoctorCheck("extra", "warn", f"{len(context.catalog.components)} components")]

    register_plugin(Extra(), "extra")
    checks = sloth_manager.hooks.doctor_checks(DoctorContext(catalog=sloth_manager.hooks.catalog()))
    names = [c.name for c in checks]
    assert {"python", "ssh client", "extra"} <= set(names)


class AddonHooks:
    """A tiny add-on and distro deployer answering the add-on pipeline's hooks."""

    def __init__(self):
        self.delivered = []

    @hookimpl
    def register_addons(self, register):
        register(Component("addon", "configmap", "one ConfigMap"))

    @hookimpl
    def register_distros(self, register):
        register(Component("distro", "deployer", "a distro with a manifests directory"))

    @hookimpl
    def render_addon(self, context, addon, settings):
        from sloth_kubernetes.addons import AddonManifests

        if addon != "configmap":
            return None
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c"},
            "data": settings,
        }
        return AddonManifests([body])

    def deliver(self, context, manifests, removed):
        self.delivered.append(([m.key for m in manifests], [m.key for m in removed]))
        return [m.key for m in manifests]

    @hookimpl
    def manifest_delivery(self, context, distro):
        return self.deliver if distro == "deployer" else None

    @hookimpl
    def node_packages(self, context, node):
        from sloth_kubernetes.model import NodePackage

        if node.name.endswith("1"):  # needed outright here, only without a module elsewhere
            return ["open-iscsi", "wireguard-go"]
        return [NodePackage("sloth-fallback", unless_module="wireguard")]


@pytest.fixture
def addon_hooks(register_plugin):
    plugin = AddonHooks()
    register_plugin(plugin, "addon-hooks")
    return plugin


def test_hook_render_addon(sloth_manager, context, addon_hooks):
    rendered = sloth_manager.hooks.render_addon(context, "addon", "configmap", {"a": "b"})
    assert rendered.objects[0]["data"] == {"a": "b"}
    with pytest.raises(PluginError, match="no addon plugin named 'nothing'"):
        sloth_manager.hooks.render_addon(context, "addon", "nothing", {})


def test_hook_manifest_delivery(sloth_manager, context, addon_hooks):
    from sloth_kubernetes.addons import Manifest

    manifest = Manifest(
        "addon/configmap",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "x"}},
    )
    deliver = sloth_manager.hooks.manifest_delivery(context, "deployer")
    assert deliver is not None
    keys = deliver(context, [manifest], [])
    assert keys == ["v1/ConfigMap/x/c"]
    assert addon_hooks.delivered == [(["v1/ConfigMap/x/c"], [])]
    # a distribution without a deployer: nobody answers, the core applies through the API
    assert sloth_manager.hooks.manifest_delivery(context, "k3s-unknown") is None


def test_hook_node_packages(sloth_manager, context, addon_hooks):
    from sloth_kubernetes.model import NodePackage, NodeRecord

    hooks = sloth_manager.hooks
    mesh = {  # the installed WireGuard mesh plugin's (the default mesh), and the distro's
        # node-local API balancer (k3s with apiEndpoint mode nodeLocal, the default)
        "iproute2": "", "iputils-ping": "", "wireguard-go": "wireguard", "wireguard-tools": "",
        "haproxy": "",
    }  # fmt: skip
    first = hooks.node_packages(context, NodeRecord("test", "node-1"))
    assert first == sorted(first, key=lambda p: p.name)
    assert {p.name: p.unless_module for p in first} == {
        **mesh, "open-iscsi": "", "wireguard-go": "",  # one plugin needs it outright: it wins
    }  # fmt: skip
    second = hooks.node_packages(context, NodeRecord("test", "node-2"))
    assert {p.name: p.unless_module for p in second} == {**mesh, "sloth-fallback": "wireguard"}
    assert NodePackage("wireguard-tools") in second


class MeshDay2:
    """Answers the mesh day-2 hooks for ``testmesh`` only (dispatch)."""

    def __init__(self):
        from sloth_kubernetes.model.mesh import MeshCheckResult, MeshNodeStatus, VpnJoin, VpnPeer
        from sloth_kubernetes.secrets import Secret

        self.peer = VpnPeer("laptop", "10.101.0.1", "key=")
        self.status = [MeshNodeStatus("n1", "10.100.0.1", True, "userspace", ())]
        self.check = MeshCheckResult(("n1",), {"n1": {}}, {}, ())
        self.join = VpnJoin(self.peer, Secret("[Interface]"))
        self.calls = []

    @hookimpl
    def register_meshes(self, register):
        register(Component("mesh", "testmesh", "answers day-2 hooks"))

    @hookimpl
    def mesh_status(self, context, mesh, nodes):
        return self.status if mesh == "testmesh" else None

    @hookimpl
    def mesh_drift(self, context, mesh, nodes):
        if mesh != "testmesh":
            return None
        return [f"{n.name}: interface down" for n in nodes]

    @hookimpl
    def mesh_check(self, context, mesh, nodes, repair):
        if mesh != "testmesh":
            return None
        self.calls.append(("check", repair))
        return self.check

    @hookimpl
    def vpn_join(self, context, mesh, nodes, peer):
        return self.join if mesh == "testmesh" and peer == "laptop" else None

    @hookimpl
    def vpn_leave(self, context, mesh, nodes, peer):
        return self.peer if mesh == "testmesh" and peer == "laptop" else None

    @hookimpl
    def vpn_list(self, context, mesh):
        return [self.peer] if mesh == "testmesh" else None


@pytest.fixture
def mesh_day2(register_plugin):
    plugin = MeshDay2()
    register_plugin(plugin, "mesh-day2")
    return plugin


def test_hook_mesh_status(sloth_manager, context, mesh_day2):
    assert sloth_manager.hooks.mesh_status(context, "testmesh", []) == mesh_day2.status
    with pytest.raises(PluginError, match="no mesh plugin named 'nope'"):
        sloth_manager.hooks.mesh_status(context, "nope", [])


def test_hook_distro_drift(sloth_manager, context, register_plugin):
    from sloth_kubernetes.model import NodeRecord

    class Stopped:
        @hookimpl
        def register_distros(self, register):
            register(Component("distro", "stopdistro", "reports stopped services"))

        @hookimpl
        def distro_drift(self, context, distro, nodes):
            if distro != "stopdistro":
                return None
            return [f"{n.name}: stopdistro-agent is inactive" for n in nodes]

    register_plugin(Stopped(), "stopdistro")
    nodes = [NodeRecord("test", "a1")]
    assert sloth_manager.hooks.distro_drift(context, "stopdistro", nodes) == [
        "a1: stopdistro-agent is inactive"
    ]
    assert sloth_manager.hooks.distro_drift(context, "not-installed", nodes) is None


def test_hook_distro_wait_ready(sloth_manager, context, register_plugin):
    from sloth_kubernetes.model import NodeRecord

    class Waiting:
        @hookimpl
        def register_distros(self, register):
            register(Component("distro", "waitdistro", "records its nodes Ready"))

        @hookimpl
        def distro_wait_ready(self, context, distro, nodes):
            if distro != "waitdistro":
                return None
            return [attrs.evolve(n, extra={"distro": {"ready": True}}) for n in nodes]

    register_plugin(Waiting(), "waitdistro")
    nodes = [NodeRecord("test", "a1", extra={"distro": {"ready": False}})]
    ready = sloth_manager.hooks.distro_wait_ready(context, "waitdistro", nodes)
    assert [(n.name, n.extra["distro"]["ready"]) for n in ready] == [("a1", True)]
    with pytest.raises(PluginError, match="not-installed"):
        sloth_manager.hooks.distro_wait_ready(context, "not-installed", nodes)


def test_hook_mesh_drift(sloth_manager, context, mesh_day2):
    from sloth_kubernetes.model import NodeRecord

    node = NodeRecord("test", "n1")
    assert sloth_manager.hooks.mesh_drift(context, "testmesh", [node]) == ["n1: interface down"]
    assert sloth_manager.hooks.mesh_drift(context, "testmesh", []) == []
    # no plugin answers (no live check): None, so `up` trusts the record and says so
    assert sloth_manager.hooks.mesh_drift(context, "wireguard-less", [node]) is None


def test_hook_mesh_check(sloth_manager, context, mesh_day2):
    assert sloth_manager.hooks.mesh_check(context, "testmesh", [], True).ok
    assert mesh_day2.calls == [("check", True)]


def test_hook_vpn_join(sloth_manager, context, mesh_day2):
    joined = sloth_manager.hooks.vpn_join(context, "testmesh", [], "laptop")
    assert joined.peer.address == "10.101.0.1"
    assert "[Interface]" not in repr(joined.config)  # the config is a masked Secret


def test_hook_vpn_leave(sloth_manager, context, mesh_day2):
    assert sloth_manager.hooks.vpn_leave(context, "testmesh", [], "laptop").name == "laptop"
    with pytest.raises(PluginError, match="did not handle"):
        sloth_manager.hooks.vpn_leave(context, "testmesh", [], "phone")


def test_hook_vpn_list(sloth_manager, context, mesh_day2):
    assert [p.name for p in sloth_manager.hooks.vpn_list(context, "testmesh")] == ["laptop"]


_ = ConfigBlock


class DistroExtras:
    """A distro answering the distro lifecycle and render hooks."""

    @hookimpl
    def register_distros(self, register):
        register(Component("distro", "filesdistro", "renders one file per node"))

    @hookimpl
    def uninstall_distro(self, context, distro, nodes):
        if distro != "filesdistro":
            return None
        return [n.name for n in nodes]

    @hookimpl
    def render_node_files(self, context, nodes):
        return {n.name: {"/etc/files-distro.conf": f"name={n.name}\n"} for n in nodes}


def test_hook_uninstall_distro(sloth_manager, context, register_plugin):
    from sloth_kubernetes.model import NodeRecord

    register_plugin(DistroExtras(), "filesdistro")
    node = NodeRecord(cluster="test", name="n1", roles=("server",))
    assert sloth_manager.hooks.uninstall_distro(context, "filesdistro", [node]) == ["n1"]


def test_hook_render_node_files(sloth_manager, context, register_plugin):
    from sloth_kubernetes.model import NodeRecord

    register_plugin(DistroExtras(), "filesdistro")
    nodes = [NodeRecord(cluster="test", name=f"n{i}", roles=("server",)) for i in (1, 2)]
    rendered = sloth_manager.hooks.render_node_files(context, nodes)
    assert rendered["n2"]["/etc/files-distro.conf"] == "name=n2\n"


def test_render_node_files_conflict_is_a_plugin_error(sloth_manager, context, register_plugin):
    from sloth_kubernetes.model import NodeRecord

    class Other:
        @hookimpl
        def render_node_files(self, context, nodes):
            return {n.name: {"/etc/files-distro.conf": "other\n"} for n in nodes}

    register_plugin(DistroExtras(), "filesdistro")
    register_plugin(Other(), "other")
    with pytest.raises(PluginError, match="different content"):
        sloth_manager.hooks.render_node_files(
            context, [NodeRecord(cluster="t", name="n1", roles=("server",))]
        )
