"""Every combination config validation accepts produces a working cluster on the distribution twin.

Each combination (generated in ``combination_matrix.py`` from the installed plugins) is loaded as
a user would write it. Refused: the refusal must be a located config error. Accepted: it is
rendered through the real distro/add-on code path, the server's config and manifests directory go
into the distribution twin's model (:mod:`sloth_kubernetes.testing.twin`), and what a user needs
is asserted: exactly one CNI, the right default StorageClass, nothing the distribution ignores or
refuses, one owner per object, one pod/service CIDR everywhere, pod MTU = mesh MTU - the CNI's
overhead, node traffic on the mesh, every image and chart pinned. docs/testing.md explains it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from combination_matrix import combinations, dump_yaml, load_yaml, render_for_twin
from sloth_kubernetes.addons.network import node_network
from sloth_kubernetes.config.loader import load_config_text
from sloth_kubernetes.engine.plan import addon_components
from sloth_kubernetes.errors import ConfigError
from sloth_kubernetes.plugins import PluginManager, create_plugin_manager
from sloth_kubernetes.testing.dummy import DummyProvider
from sloth_kubernetes.testing.plugin import BASE_CONFIG, _deep_merge
from sloth_kubernetes.testing.twin import Deployment, deployed_objects

VERSIONS = {"k3s": "v1.31.4+k3s1", "rke2": "v1.31.4+rke2r1", "kubeadm": "v1.31.4"}
#: Why config validation may refuse a combination of the matrix.
REFUSALS = (
    r"^(cni|storage|addon) '[\w-]+' does not support distribution",  # declared `supports`
    r"^rke2\.cni '\w+' conflicts with the '[\w-]+' CNI plugin",
    r"^rke2\.cni none without spec\.kubernetes\.cni leaves the cluster without a CNI",
    r"^kubeadm starts no pod network",  # kubeadm: a CNI plugin is mandatory
    r"^hardening: cis is not implemented for kubeadm",
)
#: Distributions that start no pod network: a CNI plugin is mandatory (refused without one).
NEEDS_A_CNI = {"kubeadm"}
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
#: flannel's own overhead per backend (flannel pkg/backend: vxlan 50, wireguard 60 over IPv4)
FLANNEL_OVERHEAD = {"vxlan": 50, "host-gw": 0, "wireguard-native": 60}


@pytest.fixture(scope="module")
def manager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PluginManager]:
    mp = pytest.MonkeyPatch()
    mp.setenv("SLOTH_DATA_DIR", str(tmp_path_factory.mktemp("sloth-data")))
    mp.setenv("TS_AUTHKEY", "tskey-auth-matrix")
    pm = create_plugin_manager()
    pm.register(DummyProvider(), "dummy")
    pm.hooks.invalidate()
    yield pm
    mp.undo()


def _catalog() -> Any:
    pm = create_plugin_manager()
    pm.register(DummyProvider(), "dummy")
    return pm.hooks.catalog()


CASES = list(combinations(_catalog()))


def _text(spec: dict[str, Any]) -> str:
    return dump_yaml(_deep_merge(BASE_CONFIG, {"spec": spec}))


@pytest.mark.parametrize("spec", [spec for _, spec in CASES], ids=[name for name, _ in CASES])
def test_combination(manager: PluginManager, spec: dict[str, Any]) -> None:
    try:
        config = load_config_text(_text(spec), manager.hooks.catalog(), "matrix.yaml")
    except ConfigError as error:
        # refused at `config validate` time: every issue located, with a hint, and for a reason
        # this matrix knows (anything else is a combination refused by mistake)
        for issue in error.issues:
            assert issue.file == "matrix.yaml", issue
            assert issue.line > 0, issue
            assert issue.hint, issue
            assert any(re.search(reason, issue.message) for reason in REFUSALS), issue
        return
    server, settings, manifests, nodes, files = render_for_twin(config, manager)
    distro = config.spec.kubernetes.distribution
    deployment = deployed_objects(
        distro,
        VERSIONS[distro],
        settings,
        manifests,
        node_name=server,
        load_yaml=load_yaml,
        files=files,
    )
    problems = check(config, settings, deployment)
    if distro == "kubeadm":
        problems += _kubeadm_nodes_on_the_mesh(config, nodes)
    else:
        problems += _every_node_on_the_mesh(config, deployment, nodes)
    assert not problems, "\n".join(problems)


# -- invariants ---------------------------------------------------------------------------------


def check(config: Any, settings: dict[str, Any], deployment: Deployment) -> list[str]:
    network = node_network(config)
    problems = [f"refused: {f.source}: {f.message}" for f in deployment.refused]
    problems += [f"ignored: {f.source}: {f.message}" for f in deployment.ignored]
    if not deployment.starts:
        return problems
    cnis = deployment.running("cni")
    if len(cnis) != 1:
        problems.append(f"exactly one CNI must run, found {cnis or 'none'}")
    problems += _storage(config, deployment)
    for key, sources in deployment.owners().items():
        if len(sources) > 1:
            problems.append(f"{key} is created by {len(sources)} sources: {', '.join(sources)}")
    if deployment.distro == "kubeadm":
        problems += _kubeadm_networking(config, settings)
    else:
        problems += _node_addresses(settings, network)
    for cni in cnis:
        problems += _cni(cni, config, settings, deployment, network)
    problems += _pinned(deployment)
    return problems


def _storage(config: Any, deployment: Deployment) -> list[str]:
    classes = [o for o in deployment.objects if o.key.kind == "StorageClass"]
    defaults = [
        f"{c.key.name} ({c.source})"
        for c in classes
        if str(((c.body or {}).get("metadata") or {}).get("annotations", {}).get(DEFAULT_CLASS))
        == "true"
    ]
    # With storage configured: exactly its default class. Without: what the distribution ships
    # (K3s: its local-path class is the default; RKE2 ships no storage, so none).
    wanted = 1 if config.spec.storage or deployment.distro == "k3s" else 0
    if len(defaults) != wanted:
        return [f"{wanted} default StorageClass expected, found {defaults or 'none'}"]
    return []


def _every_node_on_the_mesh(
    config: Any, deployment: Deployment, nodes: dict[str, tuple[str, dict[str, Any]]]
) -> list[str]:
    """Servers and agents: node-ip is the node's mesh address; with K3s's flannel, every node's
    flannel-iface is the mesh interface (flannel runs on agents too)."""
    problems = []
    interface = node_network(config).interface
    for name, (address, settings) in sorted(nodes.items()):
        if settings.get("node-ip") != [address]:
            problems.append(f"{name}: node-ip {settings.get('node-ip')} is not {address}")
        if "flannel" in deployment.running("cni") and settings.get("flannel-iface") != interface:
            problems.append(
                f"{name}: flannel-iface {settings.get('flannel-iface')!r} != {interface!r}"
            )
    return problems


def _kubelet_args(document: dict[str, Any]) -> dict[str, str]:
    registration = document.get("nodeRegistration") or {}
    return {a["name"]: a["value"] for a in registration.get("kubeletExtraArgs") or []}


def _kubeadm_networking(config: Any, documents: dict[str, Any]) -> list[str]:
    """kubeadm: the API advertised on the mesh, the spec's pod/service CIDRs, kube-proxy's
    cluster CIDR the pod CIDR (when it runs)."""
    problems = []
    mesh = "10.99.0.1"
    init = documents.get("InitConfiguration") or {}
    advertise = (init.get("localAPIEndpoint") or {}).get("advertiseAddress")
    if advertise != mesh:
        problems.append(f"advertiseAddress {advertise} is not the mesh address {mesh}")
    networking = (documents.get("ClusterConfiguration") or {}).get("networking") or {}
    for key, wanted in (("podSubnet", config.spec.kubernetes.pod_cidr),
                        ("serviceSubnet", config.spec.kubernetes.service_cidr)):  # fmt: skip
        if networking.get(key) != wanted:
            problems.append(f"networking.{key} {networking.get(key)} is not {wanted}")
    proxy = documents.get("KubeProxyConfiguration")
    if proxy is not None and proxy.get("clusterCIDR") != config.spec.kubernetes.pod_cidr:
        problems.append(f"kube-proxy clusterCIDR {proxy.get('clusterCIDR')} is not the pod CIDR")
    return problems


def _kubeadm_nodes_on_the_mesh(
    config: Any, nodes: dict[str, tuple[str, dict[str, Any]]]
) -> list[str]:
    problems = []
    for name, (address, documents) in sorted(nodes.items()):
        document = documents.get("InitConfiguration") or documents.get("JoinConfiguration") or {}
        node_ip = _kubelet_args(document).get("node-ip")
        if node_ip != address:
            problems.append(f"{name}: kubelet node-ip {node_ip} is not {address}")
        plane = (documents.get("JoinConfiguration") or {}).get("controlPlane")
        if plane and (plane.get("localAPIEndpoint") or {}).get("advertiseAddress") != address:
            problems.append(f"{name}: control plane not advertised on its mesh address")
    return problems


def _node_addresses(settings: dict[str, Any], network: Any) -> list[str]:
    problems = []
    mesh = "10.99.0.1"
    if settings.get("node-ip") != [mesh]:
        problems.append(f"node-ip {settings.get('node-ip')} is not the mesh address {mesh}")
    if settings.get("advertise-address") != mesh:
        problems.append(f"advertise-address {settings.get('advertise-address')} is not {mesh}")
    return problems


def _cni(
    cni: str, config: Any, settings: dict[str, Any], deployment: Deployment, network: Any
) -> list[str]:
    problems = []
    pod_cidr = config.spec.kubernetes.pod_cidr
    service_cidr = config.spec.kubernetes.service_cidr
    if deployment.distro != "kubeadm":  # kubeadm: its networking, checked in check()
        if settings.get("cluster-cidr") != [pod_cidr]:
            problems.append(f"cluster-cidr {settings.get('cluster-cidr')} is not {pod_cidr}")
        if settings.get("service-cidr") != [service_cidr]:
            problems.append(f"service-cidr {settings.get('service-cidr')} is not {service_cidr}")
    if cni == "flannel":  # K3s's built-in flannel: cluster-cidr, flannel-iface, iface MTU
        if settings.get("flannel-iface") != network.interface:
            problems.append(f"flannel-iface {settings.get('flannel-iface')!r} is not the mesh "
                            f"interface {network.interface!r}")  # fmt: skip
        # flannel reads that interface's MTU and subtracts its backend's overhead itself
        if settings.get("flannel-backend", "vxlan") not in FLANNEL_OVERHEAD:
            problems.append(f"flannel backend {settings.get('flannel-backend')!r} unknown")
        return problems
    release = deployment.release(cni.rsplit("/", 1)[-1])
    assert release is not None
    facts = release.facts
    if release.values_error:
        problems.append(f"{cni}: {release.values_error}")
    cidrs = [release.value(path) for path in facts.get("pod_cidr", [])]
    found = next((c for c in cidrs if c), None)
    if found != pod_cidr:
        problems.append(f"{cni} pod CIDR {found!r} is not {pod_cidr}")
    if facts.get("interface"):
        iface = release.value(facts["interface"])
        if iface != network.interface:
            problems.append(f"{cni} node interface {iface!r} is not {network.interface!r}")
    problems += _mtu(cni, release, network)
    replaces = facts.get("cni") == "cilium" and release.value("kubeProxyReplacement") is True
    if replaces and deployment.running("service-proxy"):
        problems.append("cilium replaces kube-proxy but kube-proxy still runs")
    if facts.get("cni") in ("calico", "cilium") and deployment.running("network-policy"):
        problems.append(f"{cni} enforces network policy and so does "
                        f"{deployment.running('network-policy')}")  # fmt: skip
    return problems


def _mtu(cni: str, release: Any, network: Any) -> list[str]:
    spec = release.facts.get("mtu")
    if not spec:
        return [f"{cni}: no MTU facts"]
    value = release.value(spec["path"])
    if spec["meaning"] == "device":  # Cilium: the device MTU; it subtracts tunnel/encryption
        return [] if value == network.mtu else [f"{cni} MTU {value} != the mesh's {network.mtu}"]
    encapsulation = release.facts.get("encapsulation", {})
    mode = release.value(encapsulation.get("path", ""), None)
    overhead = encapsulation.get("overhead", {}).get(mode)
    if overhead is None:
        return [f"{cni}: unknown encapsulation {mode!r}"]
    if value != network.mtu - overhead:
        return [f"{cni} pod MTU {value} != mesh MTU {network.mtu} - {mode} {overhead}"]
    return []


def _images(tree: Any, where: str) -> Iterator[str]:
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key == "image" and isinstance(value, str):
                tag = value.rsplit("/", 1)[-1]
                if ":" not in tag or tag.endswith(":latest"):
                    yield f"{where}: image {value!r} is not pinned"
            elif key == "tag" and value in ("", "latest", None) and "repository" in tree:
                yield f"{where}: image tag {value!r} is not pinned"
            else:
                yield from _images(value, where)
    elif isinstance(tree, list):
        for item in tree:
            yield from _images(item, where)
    elif isinstance(tree, str) and "image:" in tree:  # embedded YAML (e.g. a helper pod)
        try:
            yield from _images(load_yaml(tree), where)
        except Exception:  # not YAML after all
            return


def _pinned(deployment: Deployment) -> list[str]:
    problems = []
    for release in deployment.releases:
        if release.repo and not release.version:
            problems.append(f"HelmChart {release.name} from {release.repo} has no version")
        problems += _images(release.values, f"release {release.name}")
    for obj in deployment.objects:
        if obj.source.startswith("addon:") and obj.body:
            problems += _images(obj.body, str(obj.key))
    return problems


def test_matrix_covers_every_plugin_with_every_distro_it_supports(manager: PluginManager) -> None:
    catalog = manager.hooks.catalog()
    accepted: set[tuple[str, str]] = set()
    for _, spec in CASES:
        try:
            config = load_config_text(_text(spec), catalog, "matrix.yaml")
        except ConfigError:
            continue
        distro = config.spec.kubernetes.distribution
        accepted.add(("distro", distro))
        for kind, name, _ in addon_components(config):
            accepted.add((f"{kind}@{distro}", name))
        if config.spec.kubernetes.cni is None:
            accepted.add((f"cni@{distro}", "no-cni"))
        accepted.add((f"mesh@{distro}", f"{config.spec.mesh.name}/{node_network(config).mtu}"))
    for distro in catalog.names("distro"):
        assert ("distro", distro) in accepted
        # without a CNI: accepted where the distribution starts one, refused where it does not
        assert ((f"cni@{distro}", "no-cni") in accepted) == (distro not in NEEDS_A_CNI)
        for component in catalog.components:
            if component.kind in ("cni", "storage", "addon") and (
                not component.supports or distro in component.supports
            ):
                assert (f"{component.kind}@{distro}", component.name) in accepted, component
        meshes = {name for kind, name in accepted if kind == f"mesh@{distro}"}
        assert meshes >= {"wireguard/1420", "wireguard/1380", "tailscale/1280"}, meshes
