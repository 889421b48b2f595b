"""Every CNI/storage/add-on plugin rendered for every distribution it supports, validated; the
order of the add-on phase; MTU arithmetic; READMEs document their keys."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sloth_kubernetes.addons import node_network, order_components, render_addons
from sloth_kubernetes.context import ClusterContext
from sloth_kubernetes.errors import ConfigError
from sloth_kubernetes.registry import Catalog, Component

ROOT = Path(__file__).resolve().parents[3]
CNIS = {"flannel": ["k3s"], "canal": ["rke2"], "calico": ["k3s", "rke2"], "cilium": ["k3s", "rke2"]}
STORAGE = ["local-path", "longhorn", "openebs"]
CLASSES = [{"name": "fast", "default": True, "replicas": 2}, {"name": "keep",
           "reclaimPolicy": "Retain"}]  # fmt: skip
CASES = [(cni, distro) for cni, distros in CNIS.items() for distro in distros]


@pytest.fixture
def render(config_factory, sloth_manager, dummy_provider):
    from sloth_kubernetes import api
    from sloth_kubernetes.engine.plan import addon_components

    def run(spec):
        config = api.load([config_factory({"spec": spec})], manager=sloth_manager)
        context = ClusterContext(config=config)
        return config, render_addons(context, sloth_manager.hooks, addon_components(config))

    return run


@pytest.mark.parametrize(("cni", "distro"), CASES)
@pytest.mark.parametrize("storage", STORAGE)
def test_plugins_render_valid_manifests_per_distro(render, cni, distro, storage):
    if storage != "local-path" and distro not in ("k3s", "rke2"):
        pytest.skip("HelmChart storage needs a helm-controller")
    spec = {"kubernetes": {"distribution": distro, "version": "v1.31.4", "cni": {"type": cni}},
            "storage": [{"type": storage, "classes": CLASSES}],
            "addons": [{"name": "cert-manager"}]}  # fmt: skip
    _config, manifests = render(spec)  # render_addons validates: an invalid object raises
    components = [m.component for m in manifests]
    assert components[-1] == "addon/cert-manager"
    assert components.index(f"storage/{storage}") > max(
        (i for i, c in enumerate(components) if c.startswith("cni/")), default=-1
    )
    classes = {m.name: m.body for m in manifests if m.kind == "StorageClass"}
    assert classes["fast"]["metadata"]["annotations"][
        "storageclass.kubernetes.io/is-default-class"] == "true"  # fmt: skip
    assert classes["keep"]["reclaimPolicy"] == "Retain"
    charts = [m for m in manifests if m.kind == "HelmChart"]
    assert all(re.match(r"v?\d+\.\d+\.\d+$", c.body["spec"]["version"]) for c in charts)


@pytest.mark.parametrize("distro", ["k3s", "rke2"])
def test_cilium_values_follow_the_spec(render, distro):
    spec = {"kubernetes": {"distribution": distro, "podCidr": "10.60.0.0/16",
                           "cni": {"type": "cilium", "encryption": "wireguard",
                                   "kubeProxyReplacement": True,
                                   "values": {"hubble": {"enabled": True}}}},
            "mesh": {"type": "wireguard", "mtu": 1400}}  # fmt: skip
    from ruamel.yaml import YAML

    _, manifests = render(spec)
    (chart,) = [m for m in manifests if m.component == "cni/cilium"]
    assert chart.kind == ("HelmChart" if distro == "k3s" else "HelmChartConfig")
    values = YAML(typ="safe").load(chart.body["spec"]["valuesContent"])
    assert values["MTU"] == 1400
    assert values["encryption"] == {"enabled": True, "type": "wireguard"}
    assert values["kubeProxyReplacement"] is True
    assert values["ipam"]["operator"]["clusterPoolIPv4PodCIDRList"] == ["10.60.0.0/16"]
    assert values["hubble"] == {"enabled": True}  # user override merged


def test_calico_pod_mtu_is_mesh_mtu_minus_encapsulation(render):
    from ruamel.yaml import YAML

    spec = {"kubernetes": {"distribution": "k3s", "cni": {"type": "calico"}}}
    _, manifests = render(spec)
    (chart,) = [m for m in manifests if m.kind == "HelmChart"]
    values = YAML(typ="safe").load(chart.body["spec"]["valuesContent"])
    assert values["installation"]["calicoNetwork"]["mtu"] == 1420 - 50
    assert values["installation"]["calicoNetwork"]["ipPools"][0]["cidr"] == "10.42.0.0/16"


def test_mtu_arithmetic(config_factory, sloth_manager, dummy_provider):
    from sloth_kubernetes import api

    config = api.load([config_factory()], manager=sloth_manager)
    network = node_network(config)
    assert network.mtu == 1420
    assert network.pod_mtu("vxlan") == 1370
    assert network.pod_mtu("ipip") == 1400
    assert network.pod_mtu("geneve", encrypted=True) == 1290


def test_unsupported_distro_names_compatible_ones(config_factory, sloth_manager, dummy_provider):
    from sloth_kubernetes import api

    path = config_factory({"spec": {"kubernetes": {"distribution": "rke2",
                                                   "cni": {"type": "flannel"}}}})  # fmt: skip
    with pytest.raises(ConfigError, match="k3s"):
        api.load([path], manager=sloth_manager)


def _catalog(*components):
    return Catalog(tuple(components))


def test_order_follows_requires_then_kind():
    catalog = _catalog(
        Component("addon", "app", "", requires=("cert-manager",)),
        Component("addon", "cert-manager", "", requires=("cni",)),
        Component("storage", "longhorn", "", requires=("cni",)),
        Component("cni", "cilium", ""),
    )
    selected = [("addon", "app", None), ("addon", "cert-manager", None),
                ("storage", "longhorn", None), ("cni", "cilium", None)]  # fmt: skip
    order = [name for _, name, _ in order_components(catalog, selected)]
    assert order == ["cilium", "longhorn", "cert-manager", "app"]


def test_missing_dependency_and_cycle_are_config_errors():
    catalog = _catalog(
        Component("addon", "a", "", requires=("b",)),
        Component("addon", "b", "", requires=("a",)),
        Component("addon", "c", "", requires=("nowhere",)),
    )
    with pytest.raises(ConfigError, match="addon/c requires 'nowhere'"):
        order_components(catalog, [("addon", "c", None)])
    with pytest.raises(ConfigError, match="cycle: addon/a → addon/b → addon/a"):
        order_components(catalog, [("addon", "a", None), ("addon", "b", None)])


def test_custom_kind_without_schema_is_a_failure():
    from sloth_kubernetes.addons import Manifest, manifest_problems

    app = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
           "metadata": {"name": "a", "namespace": "argocd"}, "spec": {}}  # fmt: skip
    assert "no schema for custom kind" in manifest_problems(Manifest("addon/x", app), "1.31")[0]
    # a custom group that merely looks like a built-in one is not validated as one
    fake = {**app, "apiVersion": "apps.example.com/v1", "kind": "Deployment"}
    assert "no schema" in manifest_problems(Manifest("addon/x", fake), "1.31")[0]
    chart = {"apiVersion": "helm.cattle.io/v1", "kind": "HelmChart",
             "metadata": {"name": "x", "namespace": "kube-system"},
             "spec": {"chart": "x", "valuesContents": ""}}  # fmt: skip
    (problem,) = manifest_problems(Manifest("addon/x", chart), "1.31")
    assert "valuesContents" in problem


PLUGIN_DIRS = [*sorted((ROOT / "plugins" / "cni").iterdir()),
               *sorted((ROOT / "plugins" / "storage").iterdir()),
               ROOT / "plugins" / "addons" / "cert-manager"]  # fmt: skip


@pytest.mark.parametrize("directory", PLUGIN_DIRS, ids=lambda p: p.name)
def test_readme_lists_config_keys_with_a_yaml_example(directory):
    import importlib

    import attrs

    text = (directory / "README.md").read_text()
    assert "## Config keys" in text
    assert re.search(r"```yaml\n.+?```", text, re.S)
    module = importlib.import_module(
        next((directory / "src").glob("sloth_*/plugin.py")).parent.name + ".plugin"
    )
    models = [
        v for v in vars(module).values()
        if isinstance(v, type) and v.__name__.endswith("Settings") and attrs.has(v)
    ]  # fmt: skip
    for model in models:
        for field in attrs.fields(model):
            key = field.metadata.get("key") or re.sub(
                r"_(\w)", lambda m: m.group(1).upper(), field.name
            )
            assert f"`{key}`" in text, f"{directory.name}: README does not document `{key}`"
