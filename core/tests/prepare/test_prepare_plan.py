"""Support check, planning (what runs, what belongs to the machine) and settings from the spec."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from prepare_testdata import facts_from
from sloth_kubernetes.model import ClusterConfig, NodePackage, NodeRecord
from sloth_kubernetes.model.cluster import ClusterSpec, Metadata, PluginBlock, SecuritySpec
from sloth_kubernetes.remote.prepare import (
    MACHINE,
    PrepareSettings,
    installable_packages,
    plan_node,
    settings_for,
)
from sloth_kubernetes.remote.prepare.support import support_problems

FAST_HOST: dict[str, Any] = {
    "init": "tini",
    "cgroup": "none",
    "modules": {"overlay": "loaded", "br_netfilter": "loaded"},
    "kernel_sysctls_writable": False,
    "modules_supported": False,
    "sysctls": {"net.ipv4.ip_forward": "0", "kernel.panic": "1", "vm.overcommit_memory": "1"},
}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"os_version": "10", "os_pretty": "Debian GNU/Linux 10 (buster)"},
            "node demo-agent-1: Debian GNU/Linux 10 (buster) is not supported "
            "(need Debian ≥ 11, Ubuntu ≥ 22.04)",
        ),
        (
            {"os_id": "ubuntu", "os_version": "20.04", "os_pretty": "Ubuntu 20.04.6 LTS"},
            "node demo-agent-1: Ubuntu 20.04.6 LTS is not supported",
        ),
        (
            {"os_id": "rocky", "os_version": "9.3", "os_pretty": "Rocky Linux 9.3"},
            "Rocky Linux 9.3 is not supported",
        ),
        ({"arch": "armv7l"}, "node demo-agent-1: architecture armv7l is not supported"),
        (
            {"modules": {"overlay": "loaded", "br_netfilter": "missing"}},
            "kernel module br_netfilter",
        ),
        ({"mem_total_kib": 256 * 1024}, "256 MiB of memory"),
        ({"var_free_kib": 100 * 1024}, "100 MiB free on /var"),
    ],
)
def test_unsupported_nodes_are_refused_with_the_reason(
    overrides: dict[str, Any], message: str
) -> None:
    problems = support_problems("demo-agent-1", facts_from(overrides), require_cgroups=False)
    assert any(message in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("os_id", "version"),
    [("debian", "11"), ("debian", "13"), ("ubuntu", "22.04"), ("ubuntu", "24.04")],
)
def test_supported_systems(os_id: str, version: str) -> None:
    facts = facts_from({"os_id": os_id, "os_version": version})
    assert support_problems("n", facts, require_cgroups=True) == []


def test_cgroups_are_required_only_when_the_caller_says_so() -> None:
    facts = facts_from(FAST_HOST)
    assert support_problems("n1", facts, require_cgroups=False) == []
    assert support_problems("n1", facts, require_cgroups=True) == [
        "node n1: no cgroups: the kubelet cannot run on this node (a fast-mode local host); "
        "use mode: systemd"
    ]


def _steps(plan: Any) -> dict[str, Any]:
    return {step.name: step for step in plan.steps}


def test_vm_gets_every_item_and_nothing_is_left_to_the_machine() -> None:
    plan = plan_node(facts_from({"sysctls": {"net.ipv4.ip_forward": "0"}}), PrepareSettings())
    steps = _steps(plan)
    assert plan.machine == ()
    assert {"kernel modules", "kernel parameters", "swap off", "time sync"} <= set(steps)
    assert steps["kernel parameters"].kwargs["values"]["net.ipv4.ip_forward"] == "1"
    assert "systemd-timesyncd" in plan.packages  # no time daemon installed
    assert "nftables" in plan.packages  # nothing installed yet: the whole baseline


def test_only_missing_packages_are_planned_and_a_fallback_only_without_its_module() -> None:
    mesh = (NodePackage("wireguard-tools"), NodePackage("wireguard-go", unless_module="wireguard"))
    settings = PrepareSettings(extra_packages=mesh)
    everything = {*installable_packages(mesh)}
    no_module = facts_from({"packages": sorted(everything - {"wireguard-tools", "wireguard-go"}),
                            "modules": {"wireguard": "missing"}})  # fmt: skip
    assert plan_node(no_module, settings).packages == ("wireguard-go", "wireguard-tools")
    loaded = attrs.evolve(no_module, modules={"wireguard": "loaded"})
    assert plan_node(loaded, settings).packages == ("wireguard-tools",)
    # loadable only counts where this node may load modules (a container may not)
    loadable = attrs.evolve(no_module, modules={"wireguard": "available"})
    assert loadable.can_load_modules
    assert plan_node(loadable, settings).packages == ("wireguard-tools",)
    contained = attrs.evolve(loadable, kernel_sysctls_writable=False)
    assert plan_node(contained, settings).packages == ("wireguard-go", "wireguard-tools")
    assert (
        plan_node(attrs.evolve(no_module, packages=frozenset(everything)), settings).packages == ()
    )


def test_read_only_kernel_settings_are_reported_not_changed() -> None:
    plan = plan_node(facts_from(FAST_HOST), PrepareSettings(hardening="cis"))
    steps = _steps(plan)
    assert "kernel modules" not in steps
    assert "time sync" not in steps
    values = steps["kernel parameters"].kwargs["values"]
    assert values["net.ipv4.ip_forward"] == "1"  # per network namespace: the node's own
    assert "kernel.panic" not in values
    assert f"kernel module br_netfilter: {MACHINE} (loaded)" in plan.machine
    assert f"sysctl kernel.panic: {MACHINE} (is 1, wanted 10)" in plan.machine
    assert f"sysctl vm.overcommit_memory: {MACHINE} (as wanted)" in plan.machine
    assert f"time sync: {MACHINE} (the clock is the machine's)" in plan.machine
    assert any("kernel.yama.ptrace_scope: not available" in note for note in plan.notes)


def test_profile_none_removes_what_other_profiles_installed() -> None:
    steps = _steps(plan_node(facts_from(), PrepareSettings(hardening="none", firewall=None)))
    assert steps["sshd hardening"].kwargs["content"] == ""
    assert steps["module blacklist"].kwargs["content"] == ""
    assert steps["firewall"].kwargs["content"] == ""
    assert "file permissions" not in steps


def test_cis_adds_to_baseline() -> None:
    baseline = _steps(plan_node(facts_from(), PrepareSettings(hardening="baseline")))
    cis = _steps(plan_node(facts_from(), PrepareSettings(hardening="cis")))
    assert "MaxAuthTries 4" in baseline["sshd hardening"].kwargs["content"]
    assert "Ciphers" not in baseline["sshd hardening"].kwargs["content"]
    assert "Ciphers" in cis["sshd hardening"].kwargs["content"]
    assert baseline["module blacklist"].kwargs["content"] == ""
    assert "install cramfs /bin/false" in cis["module blacklist"].kwargs["content"]


def _config(**security: Any) -> ClusterConfig:
    @attrs.frozen
    class Mesh:
        port: int = 51999
        interface: str = "wg-test"

    return ClusterConfig(
        api_version="sloth-kubernetes.io/v1beta1",
        kind="Cluster",
        metadata=Metadata("demo"),
        spec=ClusterSpec(
            providers={},
            node_pools=[],
            mesh=PluginBlock("wireguard", Mesh()),
            security=SecuritySpec(**security),
        ),
    )


def test_settings_follow_the_spec_and_the_node() -> None:
    node = NodeRecord(cluster="demo", name="demo-a-1", ssh_port=2222)
    settings = settings_for(_config(ssh_allowed_cidrs=["192.0.2.0/24"], hardening="cis"), node)
    assert settings.hardening == "cis"
    assert settings.firewall is not None
    assert (settings.firewall.ssh_port, settings.firewall.mesh_port) == (2222, 51999)
    assert settings.firewall.mesh_interface == "wg-test"
    assert settings.firewall.ssh_allowed_cidrs == ("192.0.2.0/24",)
    assert settings_for(_config(firewall=False), node).firewall is None


def test_the_api_is_opened_to_its_cidrs_on_servers_only() -> None:
    config = _config(api_allowed_cidrs=["198.51.100.0/24"])
    server = NodeRecord(cluster="demo", name="demo-s-1", roles=("server",))
    agent = NodeRecord(cluster="demo", name="demo-a-1", roles=("agent",))
    both = NodeRecord(cluster="demo", name="demo-b-1", roles=("server", "agent"))
    allowed = ("198.51.100.0/24",)
    for node, expected in ((server, allowed), (agent, ()), (both, allowed)):
        firewall = settings_for(config, node).firewall
        assert firewall is not None
        assert firewall.api_allowed_cidrs == expected, node.name
