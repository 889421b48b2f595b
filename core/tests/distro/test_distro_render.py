"""`render`: every node's files, checked against the distribution's documented keys; no secret."""

from __future__ import annotations

import attrs
import pytest
from ruamel.yaml import YAML
from sloth_kubernetes.api.distro import installer_for
from sloth_kubernetes.distro.installer import SECRET_MARKER
from sloth_kubernetes.plugin import AddonManifests, Cni

POOLS = [
    {"name": "servers", "provider": "dummy", "count": 3, "roles": ["server"]},
    {"name": "agents", "provider": "dummy", "count": 2, "roles": ["agent"]},
]


def _render(sloth_cli, config_factory, tmp_path, distro, **kubernetes):
    monkey_env = {"S3_KEY": "AKIAEXAMPLE", "S3_SECRET": "s3-secret-value-123"}
    path = config_factory(
        {
            "spec": {
                "nodePools": POOLS,
                "kubernetes": {
                    "distribution": distro,
                    "apiEndpoint": "api.example.com",
                    **kubernetes,
                },
            }
        }
    )
    out = tmp_path / "rendered"
    result = sloth_cli("render", "-f", str(path), "--out", str(out))
    assert result.exit_code == 0, result.stderr
    return out, monkey_env


def _config(out, node, distro):
    return YAML(typ="safe").load(
        (out / "nodes" / node / f"etc/rancher/{distro}/config.yaml").read_text()
    )


@pytest.mark.parametrize("distro", ["k3s", "rke2"])
@pytest.mark.parametrize("hardening", ["none", "cis"])
def test_rendered_configs_use_only_documented_keys(
    sloth_cli, config_factory, tmp_path, dummy_provider, sloth_manager, distro, hardening
):
    out, _ = _render(
        sloth_cli, config_factory, tmp_path, distro,
        hardening=hardening,
        serverConfig={"kube-apiserver-arg": ["v=2"]},
        agentConfig={"kubelet-arg": ["max-pods=200"]},
    )  # fmt: skip
    flags = installer_for(distro, sloth_manager).flags
    for node, role in [
        ("test-servers-1", "server"),
        ("test-servers-3", "server"),
        ("test-agents-2", "agent"),
    ]:
        keys = _config(out, node, distro)
        assert flags.unknown_keys(role, keys) == []
        assert keys["token"] == SECRET_MARKER
        assert keys["node-name"] == node


@pytest.mark.parametrize("distro", ["k3s", "rke2"])
def test_first_server_initialises_and_others_join_it(
    sloth_cli, config_factory, tmp_path, dummy_provider, distro
):
    out, _ = _render(sloth_cli, config_factory, tmp_path, distro)
    first = _config(out, "test-servers-1", distro)
    second = _config(out, "test-servers-2", distro)
    agent = _config(out, "test-agents-1", distro)
    port = 6443 if distro == "k3s" else 9345
    assert "server" not in first
    assert first.get("cluster-init") is (True if distro == "k3s" else None)
    # apiEndpoint mode nodeLocal (the default): every node registers through its own balancer
    # on 127.0.0.1 — agents on the distribution's port, servers 10000 above it (they serve
    # the distribution's ports themselves)
    assert second["server"] == f"https://127.0.0.1:{port + 10000}"
    assert agent["server"] == f"https://127.0.0.1:{port}"
    assert "api.example.com" in second["tls-san"]
    assert second["node-ip"] == ["<mesh address of test-servers-2>"]
    assert first["write-kubeconfig-mode"] == "0600"


@pytest.mark.parametrize("distro", ["k3s", "rke2"])
def test_the_node_local_balancer_is_valid_haproxy_over_every_server(
    sloth_cli, config_factory, tmp_path, dummy_provider, distro
):
    """The rendered balancer, checked by the real haproxy (Makefile's DEBIAN_PACKAGES)."""
    import shutil
    import subprocess

    out, _ = _render(sloth_cli, config_factory, tmp_path, distro)
    port = 6443 if distro == "k3s" else 9345
    ports = [port] if distro == "k3s" else [9345, 6443]
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    for node, offset in (("test-servers-2", 10000), ("test-agents-1", 0)):
        text = (out / "nodes" / node / "etc/sloth-kubernetes/api-balancer.cfg").read_text()
        for server_port in ports:
            assert f"bind 127.0.0.1:{server_port + offset}" in text
            for index in (1, 2, 3):
                assert (
                    f"server test-servers-{index} <mesh address of test-servers-{index}>:"
                    f"{server_port} check" in text
                )
        # the real haproxy accepts it once the placeholders are addresses
        checked = tmp_path / f"{node}.cfg"
        checked.write_text(
            text.replace("<mesh address of test-servers-1>", "10.0.0.1")
            .replace("<mesh address of test-servers-2>", "10.0.0.2")
            .replace("<mesh address of test-servers-3>", "10.0.0.3")
        )
        done = subprocess.run(
            [haproxy, "-c", "-f", str(checked)], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
    unit = out / "nodes" / "test-agents-1" / "etc/systemd/system/sloth-api-balancer.service"
    assert "ExecStart=/usr/sbin/haproxy -Ws -f $CONFIG" in unit.read_text()
    if distro == "rke2":  # the agent's own balancer leaves 6443 and 9345 to ours
        assert _config(out, "test-agents-1", distro)["lb-server-port"] == 6446


@pytest.mark.parametrize("distro", ["k3s", "rke2"])
def test_dns_mode_registers_through_the_users_address(
    sloth_cli, config_factory, tmp_path, dummy_provider, distro
):
    out, _ = _render(
        sloth_cli, config_factory, tmp_path, distro,
        apiEndpoint={"mode": "dns", "address": "api.example.com", "sans": ["10.9.9.9"]},
    )  # fmt: skip
    port = 6443 if distro == "k3s" else 9345
    second = _config(out, "test-servers-2", distro)
    agent = _config(out, "test-agents-1", distro)
    assert second["server"] == agent["server"] == f"https://api.example.com:{port}"
    assert {"api.example.com", "10.9.9.9"} <= set(second["tls-san"])
    assert not (out / "nodes" / "test-agents-1" / "etc/sloth-kubernetes").exists()
    assert "lb-server-port" not in agent


def test_k3s_cis_controls_are_rendered(sloth_cli, config_factory, tmp_path, dummy_provider):
    out, _ = _render(sloth_cli, config_factory, tmp_path, "k3s", hardening="cis")
    server = _config(out, "test-servers-1", "k3s")
    agent = _config(out, "test-agents-1", "k3s")
    assert server["protect-kernel-defaults"] is agent["protect-kernel-defaults"] is True
    assert server["secrets-encryption"] is True
    args = server["kube-apiserver-arg"]
    assert any(a.startswith("admission-control-config-file=") for a in args)
    assert any(a.startswith("audit-policy-file=") for a in args)
    node_dir = out / "nodes" / "test-servers-1"
    assert "PodSecurity" in (node_dir / "var/lib/rancher/k3s/server/psa.yaml").read_text()
    assert "level: Metadata" in (node_dir / "var/lib/rancher/k3s/server/audit.yaml").read_text()
    assert (node_dir / "etc/sysctl.d/90-kubelet-cis.conf").is_file()


def test_rke2_cis_profile_and_canal_over_the_mesh(
    sloth_cli, config_factory, tmp_path, dummy_provider
):
    out, _ = _render(sloth_cli, config_factory, tmp_path, "rke2", hardening="cis")
    server = _config(out, "test-servers-1", "rke2")
    assert server["profile"] == "cis"
    assert server["cni"] == ["canal"]
    canal = (
        out / "nodes/test-servers-1/var/lib/rancher/rke2/server/manifests/rke2-canal-config.yaml"
    )
    values = YAML(typ="safe").load(
        YAML(typ="safe").load(canal.read_text())["spec"]["valuesContent"]
    )
    assert values["flannel"]["iface"] == "wg-sloth"
    assert values["calico"]["vethuMTU"] == 1420 - 50  # pods: mesh MTU less flannel's VXLAN
    unit = (out / "nodes/test-agents-1/etc/systemd/system/rke2-agent.service").read_text()
    assert "ExecStart=/usr/local/bin/rke2 agent" in unit


def test_snapshot_s3_credentials_are_references_and_masked(
    sloth_cli, config_factory, tmp_path, dummy_provider, monkeypatch
):
    monkeypatch.setenv("S3_SECRET", "s3-secret-value-123")
    out, _ = _render(
        sloth_cli, config_factory, tmp_path, "k3s",
        k3s={"snapshots": {"schedule": "0 3 * * *", "retention": 7, "s3": {
            "bucket": "backups", "accessKey": "${env:S3_KEY}", "secretKey": "${env:S3_SECRET}"}}},
    )  # fmt: skip
    server = _config(out, "test-servers-2", "k3s")
    assert server["etcd-snapshot-schedule-cron"] == "0 3 * * *"
    assert server["etcd-snapshot-retention"] == 7
    assert server["etcd-s3-secret-key"] == SECRET_MARKER
    everything = "".join(p.read_text() for p in out.rglob("*") if p.is_file())
    assert "s3-secret-value-123" not in everything


def test_another_cni_plugin_turns_k3s_flannel_off(
    sloth_cli, config_factory, tmp_path, dummy_provider
):
    out, _ = _render(sloth_cli, config_factory, tmp_path, "k3s", cni={"type": "cilium"})
    server = _config(out, "test-servers-1", "k3s")
    assert server["flannel-backend"] == "none"
    assert server["disable-network-policy"] is True


@attrs.frozen
class _RouterSettings:
    """Settings of the test's third-party CNI (none)."""


_ROUTER = Cni(
    "kube-router",
    "a CNI plugin RKE2 does not bundle",
    settings=_RouterSettings,
    render=lambda _config, _settings: AddonManifests([]),
    supports=("k3s", "rke2"),
)


@pytest.mark.parametrize(
    ("distro", "cni", "builtin"),
    [
        ("k3s", None, True), ("k3s", "flannel", True), ("k3s", "calico", False),
        ("k3s", "cilium", False), ("k3s", "kube-router", False),
        ("rke2", None, True), ("rke2", "canal", True), ("rke2", "calico", True),
        ("rke2", "cilium", True), ("rke2", "kube-router", False),
    ],
)  # fmt: skip
def test_who_starts_the_pod_network_decides_what_the_distro_phase_waits_for(
    sloth_manager, register_plugin, config_factory, dummy_provider, distro, cni, builtin
):
    """Built in (K3s's flannel, RKE2's bundled charts): the distro phase waits for Ready. A CNI
    add-on: nodes stay NotReady until the add-ons phase, which then waits for Ready."""
    from sloth_kubernetes import api
    from sloth_kubernetes.distro.installer import DistroPlan

    register_plugin(_ROUTER, "kube-router")
    kubernetes: dict[str, object] = {"distribution": distro}
    if cni is not None:
        kubernetes["cni"] = {"type": cni}
    config = api.load([config_factory({"spec": {"kubernetes": kubernetes}})], manager=sloth_manager)
    installer = installer_for(distro, sloth_manager)
    settings = config.spec.kubernetes.distro.settings
    plan = DistroPlan(config, settings, "", "", "", "", (), {})
    assert installer.pod_network_builtin(plan) is builtin
