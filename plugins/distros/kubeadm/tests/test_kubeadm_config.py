"""kubeadm's rendered configuration, its checks, and what never leaves the operator's machine.

Rendered documents are checked against the upstream-derived types (``data/api-types.yaml``), the
same check a user's ``serverConfig``/``agentConfig`` gets at load time; what the nodes would do
with them (join with the pinned CA, one control plane after another) is asserted on the values.
No kubeadm binary runs here: the distribution phase on hosts is the twin's job
(``test_kubeadm_twin_hosts.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from ruamel.yaml import YAML
from sloth_distro_kubeadm import join_secrets
from sloth_distro_kubeadm.installer import CONFIG, KubeadmInstaller
from sloth_distro_kubeadm.plugin import KubeadmSettings
from sloth_distro_kubeadm.schema import api_types
from sloth_kubernetes.config.loader import load_config_text
from sloth_kubernetes.distro import artifacts
from sloth_kubernetes.distro.installer import SECRET_MARKER, DistroPlan
from sloth_kubernetes.errors import ConfigError
from sloth_kubernetes.model import NodeRecord
from sloth_kubernetes.plugins import PluginManager, create_plugin_manager
from sloth_kubernetes.testing.dummy import DummyProvider, stand_in_cni
from sloth_kubernetes.testing.plugin import BASE_CONFIG, _deep_merge

CLUSTER_SECRET = "5e" * 32
TOKEN = "abcdef.0123456789abcdef"  # kubeadm's documentation example
INSTALLER = KubeadmInstaller()


#: A stand-in CNI supporting kubeadm that renders nothing: these tests are about kubeadm's own
#: files, not about a CNI's.
STAND_IN_CNI = stand_in_cni("kubeadm")


@pytest.fixture(scope="module")
def manager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PluginManager]:
    mp = pytest.MonkeyPatch()
    mp.setenv("SLOTH_DATA_DIR", str(tmp_path_factory.mktemp("sloth-data")))
    pm = create_plugin_manager()
    pm.register(DummyProvider(), "dummy")
    pm.register(STAND_IN_CNI, "stand-in-cni")
    pm.hooks.invalidate()
    yield pm
    mp.undo()


def _text(kubernetes: dict[str, Any], servers: int = 3) -> str:
    spec = {
        "kubernetes": {"distribution": "kubeadm", **kubernetes},
        "nodePools": [
            {"name": "servers", "provider": "dummy", "count": servers, "roles": ["server"]},
            {"name": "agents", "provider": "dummy", "count": 2, "roles": ["agent"]},
        ],
    }
    import io

    stream = io.StringIO()
    YAML().dump(_deep_merge(BASE_CONFIG, {"spec": spec}), stream)
    return stream.getvalue()


def _load(manager: PluginManager, kubernetes: dict[str, Any], servers: int = 3) -> Any:
    return load_config_text(_text(kubernetes, servers), manager.hooks.catalog(), "cluster.yaml")


def _plan(config: Any, *, reveal: bool = True) -> tuple[DistroPlan, list[NodeRecord]]:
    servers = [f"test-servers-{i}" for i in range(1, 4)]
    agents = [f"test-agents-{i}" for i in range(1, 3)]
    nodes = [
        NodeRecord(cluster="test", name=name, roles=("server",) if name in servers else ("agent",),
                   mesh_address=f"10.99.0.{index + 1}", labels={"zone": "a"})
        for index, name in enumerate([*servers, *agents])
    ]  # fmt: skip
    plan = DistroPlan(
        config=config,
        settings=KubeadmSettings(),
        version="v1.31.4",
        token=CLUSTER_SECRET if reveal else SECRET_MARKER,
        first_server=servers[0],
        join_address="10.99.0.1",
        tls_sans=("api.example.com", "10.99.0.1", "10.99.0.2", "10.99.0.3"),
        addresses={n.name: str(n.mesh_address) for n in nodes},
        reveal=reveal,
    )
    return plan, nodes


def _documents(text: str) -> list[dict[str, Any]]:
    return [d for d in YAML(typ="safe").load_all(text) if d]


def _files(plan: DistroPlan, node: NodeRecord) -> dict[str, Any]:
    return {f.path: f for f in INSTALLER.node_files(plan, node)}


@pytest.fixture(scope="module")
def config(manager: PluginManager) -> Any:
    return _load(
        manager,
        {
            "cni": {"type": "stand-in-cni"},
            "serverConfig": {
                "ClusterConfiguration": {"apiServer": {"extraArgs": [{"name": "v", "value": "2"}]}},
                "KubeletConfiguration": {"maxPods": 200},
            },
            "agentConfig": {
                "JoinConfiguration": {"nodeRegistration": {"ignorePreflightErrors": ["Swap"]}}
            },
        },
    )


def test_every_rendered_document_fits_the_upstream_types(config: Any) -> None:
    plan, nodes = _plan(config)
    types = api_types()
    kinds: dict[str, list[str]] = {}
    for node in nodes:
        docs = _documents(_files(plan, node)[CONFIG].content)
        kinds[node.name] = [d["kind"] for d in docs]
        for document in docs:
            assert types.check_document(document) == [], (node.name, document["kind"])
    assert kinds["test-servers-1"] == [
        "InitConfiguration",
        "ClusterConfiguration",
        "KubeletConfiguration",
        "KubeProxyConfiguration",
    ]
    assert all(kinds[n] == ["JoinConfiguration"] for n in kinds if n != "test-servers-1")


def test_the_cluster_is_initialised_once_and_joined_with_the_pinned_ca(config: Any) -> None:
    plan, nodes = _plan(config)
    first = _files(plan, nodes[0])
    init, cluster, kubelet, proxy = _documents(first[CONFIG].content)
    assert cluster["controlPlaneEndpoint"] == "10.99.0.1:6443"
    assert cluster["networking"]["podSubnet"] == config.spec.kubernetes.pod_cidr
    assert proxy["clusterCIDR"] == config.spec.kubernetes.pod_cidr
    assert cluster["apiServer"]["certSANs"] == list(plan.tls_sans)
    assert cluster["apiServer"]["extraArgs"] == [{"name": "v", "value": "2"}]  # the user's
    assert cluster["etcd"] == {"local": {"dataDir": "/var/lib/etcd"}}  # stacked etcd
    assert kubelet["maxPods"] == 200
    assert kubelet["cgroupDriver"] == "systemd"
    assert init["localAPIEndpoint"]["advertiseAddress"] == "10.99.0.1"
    assert {"name": "node-ip", "value": "10.99.0.1"} in init["nodeRegistration"]["kubeletExtraArgs"]
    token = init["bootstrapTokens"][0]["token"]
    # the CA kubeadm init finds in /etc/kubernetes/pki is the one every joining node pins
    certificate = x509.load_pem_x509_certificate(
        first["/etc/kubernetes/pki/ca.crt"].content.encode()
    )
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pin = f"sha256:{hashlib.sha256(spki).hexdigest()}"
    assert certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert first["/etc/kubernetes/pki/ca.key"].secret
    for node in nodes[1:]:
        (join,) = _documents(_files(plan, node)[CONFIG].content)
        discovery = join["discovery"]["bootstrapToken"]
        assert discovery == {
            "token": token,
            "apiServerEndpoint": "10.99.0.1:6443",
            "caCertHashes": [pin],
        }
        assert "/etc/kubernetes/pki/ca.key" not in _files(plan, node)
        if node.is_server:  # control plane: the certificates init uploaded, decrypted with the key
            assert join["controlPlane"]["certificateKey"] == init["certificateKey"]
            assert join["controlPlane"]["localAPIEndpoint"]["advertiseAddress"] == node.mesh_address
        else:
            assert "controlPlane" not in join
            assert join["nodeRegistration"]["ignorePreflightErrors"] == ["Swap"]  # the user's


def test_join_secrets_are_kubeadm_shaped_and_stable() -> None:
    token = join_secrets.bootstrap_token(CLUSTER_SECRET)
    assert len(token) == 23
    assert token[6] == "."
    assert token.replace(".", "").isalnum()
    assert token == token.lower()
    assert len(bytes.fromhex(join_secrets.certificate_key(CLUSTER_SECRET))) == 32
    assert join_secrets.cluster_ca(CLUSTER_SECRET) == join_secrets.cluster_ca(CLUSTER_SECRET)
    other = "7f" * 32
    assert join_secrets.bootstrap_token(other) != token
    assert join_secrets.cluster_ca(other)[2] != join_secrets.cluster_ca(CLUSTER_SECRET)[2]


def test_a_second_render_changes_no_file(config: Any) -> None:
    """Same files every run: an unchanged cluster restarts nothing (no CA or token churn)."""
    plan, nodes = _plan(config)
    for node in nodes:
        assert INSTALLER.node_files(plan, node) == INSTALLER.node_files(plan, node)


def test_secrets_only_in_0600_files_never_in_commands_or_render(config: Any) -> None:
    plan, nodes = _plan(config)
    secret = CLUSTER_SECRET
    cert_key = join_secrets.certificate_key(secret)
    ca_key = join_secrets.cluster_ca(secret)[1]
    values = [secret, join_secrets.bootstrap_token(secret), cert_key, ca_key.splitlines()[1]]
    release = INSTALLER.release("v1.31.4", "amd64")
    staged = {a.name: f"/stage/{a.name}" for a in release.artifacts}
    commands = [
        INSTALLER.install_command(release, staged, "server"),
        INSTALLER.start_command("server"), INSTALLER.start_command("agent"),
        str(INSTALLER.join_credentials_command()), INSTALLER.readyz_command(),
        INSTALLER.etcd_members_command(), INSTALLER.uninstall_command("server"),
        INSTALLER.log_command("server"), INSTALLER.version_command(),
    ]  # fmt: skip
    for node in nodes:
        for item in INSTALLER.node_files(plan, node):
            holds = [v for v in values if v in item.content]
            assert not holds or (item.secret and item.mode == 0o600), item.path
            commands.append(item.content if item.path.endswith("kubeadm-up") else "")
    for command in commands:
        assert not [v for v in values if v in command], command
    rendered, _ = _plan(config, reveal=False)
    for node in nodes:
        for item in INSTALLER.node_files(rendered, node):
            assert not [v for v in values if v in item.content], item.path
    up = _files(plan, nodes[0])["/usr/local/lib/sloth-kubernetes/kubeadm-up"].content
    assert f"kubeadm init --upload-certs --config {CONFIG} >" in up  # output to the 0600 log


def test_cilium_replacing_kube_proxy_disables_it(manager: PluginManager, config: Any) -> None:
    @attrs.frozen
    class Replaces:
        kube_proxy_replacement: bool = True

    cni = attrs.evolve(config.spec.kubernetes.cni, settings=Replaces())
    kubernetes = attrs.evolve(config.spec.kubernetes, cni=cni)
    replaced = attrs.evolve(config, spec=attrs.evolve(config.spec, kubernetes=kubernetes))
    plan, nodes = _plan(replaced)
    kinds = [d["kind"] for d in _documents(_files(plan, nodes[0])[CONFIG].content)]
    assert "KubeProxyConfiguration" not in kinds
    cluster = _documents(_files(plan, nodes[0])[CONFIG].content)[1]
    assert cluster["proxy"] == {"disabled": True}


def _issues(manager: PluginManager, kubernetes: dict[str, Any]) -> list[Any]:
    with pytest.raises(ConfigError) as caught:
        _load(manager, kubernetes)
    for issue in caught.value.issues:
        assert issue.file == "cluster.yaml", issue
        assert issue.line > 0, issue
        assert issue.hint, issue
    return list(caught.value.issues)


@pytest.mark.parametrize(
    ("kubernetes", "where", "says"),
    [
        ({"serverConfig": {"ClusterConfiguration": {"apiServr": {}}}},
         "serverConfig.ClusterConfiguration.apiServr", "did you mean 'apiServer'?"),
        ({"serverConfig": {"KubeletConfiguration": {"maxPods": "many"}}},
         "serverConfig.KubeletConfiguration.maxPods", "expected an integer"),
        ({"serverConfig": {"KubeletConfiguration": {"syncFrequency": "often"}}},
         "serverConfig.KubeletConfiguration.syncFrequency", "expected a duration"),
        ({"serverConfig": {"ClusterConfiguration": {"networking": {"podSubnet": "10.0.0.0/16"}}}},
         "serverConfig.ClusterConfiguration.networking.podSubnet", "spec.kubernetes.podCidr"),
        ({"serverConfig": {"InitConfiguration": {"bootstrapTokens": [{"token": TOKEN}]}}},
         "serverConfig.InitConfiguration.bootstrapTokens", "state store"),
        ({"agentConfig": {"KubeletConfiguration": {"maxPods": 10}}},
         "agentConfig.KubeletConfiguration", "serverConfig.KubeletConfiguration"),
        ({"agentConfig": {"JoinConfiguraton": {}}},
         "agentConfig.JoinConfiguraton", "did you mean 'JoinConfiguration'?"),
        ({"kubeadm": {"snapshots": {"retention": 3}}}, "kubeadm.snapshots", "etcdctl"),
    ],
)  # fmt: skip
def test_bad_pass_through_is_a_located_error(
    manager: PluginManager, kubernetes: dict[str, Any], where: str, says: str
) -> None:
    issues = _issues(manager, {"cni": {"type": "stand-in-cni"}, **kubernetes})
    assert [i for i in issues if i.path.endswith(where) and says in f"{i.message} {i.hint}"], issues


def test_kubeadm_without_a_cni_is_refused(manager: PluginManager) -> None:
    issues = _issues(manager, {})
    assert any("starts no pod network" in i.message and "cni" in i.hint for i in issues), issues


def test_cilium_without_kube_proxy_needs_the_control_plane_endpoint(manager: PluginManager) -> None:
    issues = _issues(manager, {"cni": {"type": "cilium", "kubeProxyReplacement": True}})
    assert [i.path for i in issues] == ["spec.kubernetes.cni.kubeProxyReplacement"], issues
    assert "registrationAddress" in issues[0].hint
    config = _load(
        manager,
        {
            "cni": {"type": "cilium", "kubeProxyReplacement": True},
            "kubeadm": {"registrationAddress": "10.99.0.1"},
        },
    )
    from sloth_cni_cilium.plugin import CiliumSettings, values

    assert values(config, CiliumSettings(kube_proxy_replacement=True))["k8sServiceHost"] == (
        "10.99.0.1"
    )


def test_the_config_recorded_in_state_loads_again(manager: PluginManager) -> None:
    """``destroy``/``status`` load the effective config the state store holds: the shared
    defaults it spells out (etcd snapshot schedule, audit) ask for nothing kubeadm refuses."""
    import io

    from sloth_kubernetes.config.dump import effective_config

    config = _load(manager, {"cni": {"type": "calico"}})
    stream = io.StringIO()
    YAML().dump(effective_config(config), stream)
    again = load_config_text(stream.getvalue(), manager.hooks.catalog(), "<state>")
    assert again.spec.kubernetes.distribution == "kubeadm"
    asked = _issues(
        manager, {"cni": {"type": "calico"}, "kubeadm": {"snapshots": {"retention": 9}}}
    )
    assert [i.path for i in asked] == ["spec.kubernetes.kubeadm.snapshots"], asked


def test_cis_hardening_is_refused_not_ignored(manager: PluginManager) -> None:
    issues = _issues(manager, {"cni": {"type": "calico"}, "hardening": "cis"})
    assert [i.path for i in issues] == ["spec.kubernetes.hardening"], issues


def test_the_helm_controller_is_installed_before_the_cni(manager: PluginManager) -> None:
    from sloth_kubernetes.addons.order import order_components
    from sloth_kubernetes.engine.plan import addon_components

    config = _load(manager, {"cni": {"type": "calico"}})
    ordered = order_components(manager.hooks.catalog(), addon_components(config))
    assert [(kind, name) for kind, name, _ in ordered] == [
        ("addon", "helm-controller"),
        ("cni", "calico"),
    ]


def test_release_files_are_verified_against_their_own_checksums(tmp_path: Path) -> None:
    release = INSTALLER.release("v1.31.4", "amd64")
    assert release.base_url == "https://dl.k8s.io/release/v1.31.4/bin/linux/amd64"
    assert [(a.name, a.destination) for a in release.artifacts] == [
        ("kubeadm", "/usr/local/bin/kubeadm"), ("kubelet", "/usr/local/bin/kubelet"),
        ("kubectl", "/usr/local/bin/kubectl"),
    ]  # fmt: skip
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    for artifact in release.artifacts:
        content = f"not really {artifact.name}\n".encode()
        (bundle / artifact.name).write_bytes(content)
        # dl.k8s.io's form: the bare hex digest
        (bundle / f"{artifact.name}.sha256").write_text(hashlib.sha256(content).hexdigest())
    data = tmp_path / "data"
    cached = artifacts.import_bundle(bundle, data, release, airgap=False)
    assert sorted(cached.paths) == ["kubeadm", "kubectl", "kubelet"]
    out = artifacts.export_bundle(cached, tmp_path / "out")
    assert (out / "kubelet.sha256").is_file()
    (bundle / "kubelet").write_bytes(b"tampered\n")
    with pytest.raises(artifacts.ArtifactError, match=r"kubelet .* does not match its checksum"):
        artifacts.verify(bundle, release, airgap=False)


class _Recorded:
    """What a node was asked to run (the SSH session boundary), every command succeeding."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, list[str]]] = []

    def shell(self, command: str, nodes: list[str]) -> dict[str, Any]:
        self.commands.append((command, nodes))
        return {n: attrs.make_class("R", {"ok": attrs.field(default=True)})() for n in nodes}


class _Events:
    def event(self, *args: Any, **kwargs: Any) -> None:
        pass


@pytest.mark.parametrize(
    ("restart", "renewed"),
    [
        ({"test-agents-2"}, True),  # a node joins a running cluster: renew on the first server
        (
            {"test-servers-1", "test-agents-2"},
            False,
        ),  # the first server (re)starts: its script does
        (set(), False),  # nothing joins
    ],
)
def test_join_credentials_are_renewed_before_a_later_join(
    config: Any, restart: set[str], renewed: bool
) -> None:
    from sloth_kubernetes.distro.orchestrate import _refresh_join_credentials, _Run
    from sloth_kubernetes.distro.topology import plan_topology

    plan, nodes = _plan(config)
    session = _Recorded()
    run = _Run(_Events(), INSTALLER, session, plan, plan_topology(config, nodes), 10.0)  # type: ignore[arg-type]
    _refresh_join_credentials(run, restart)
    expected = [(INSTALLER.join_credentials_command(), ["test-servers-1"])] if renewed else []
    assert session.commands == expected
    if renewed:
        command = str(INSTALLER.join_credentials_command())
        assert f"token create --config {CONFIG}" in command
        assert f"upload-certs --upload-certs --config {CONFIG}" in command


def test_kubeadm_has_no_manifest_deployer_so_add_ons_are_applied_through_the_api(
    manager: PluginManager, config: Any
) -> None:
    answer = manager.hooks.manifest_delivery(attrs.make_class("C", {})(), "kubeadm")
    assert answer is None
