"""Facts: each fact's ``process()`` on output captured from real nodes, and the combined probe."""

from __future__ import annotations

from pathlib import Path

import pytest
from sloth_kubernetes.remote.prepare import facts
from sloth_kubernetes.remote.prepare.facts_model import FileState

CAPTURED = Path(__file__).parent / "captured"


def lines(text: str) -> list[str]:
    return text.strip("\n").splitlines()


def test_os_release_unquotes_values() -> None:
    output = lines(
        'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\n# x=y\n'
    )
    assert facts.OsRelease().process(output) == {
        "PRETTY_NAME": "Ubuntu 22.04.4 LTS",
        "ID": "ubuntu",
        "ID_LIKE": "debian",
        "VERSION_ID": "22.04",
    }


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (["cgroup2fs"], "v2"),
        (["tmpfs", "memory-controller"], "v1"),
        (["tmpfs"], "none"),  # a tmpfs without controllers is not a usable hierarchy
        (["sysfs"], "none"),  # nothing mounted: a fast-mode local host
        ([], "none"),
    ],
)
def test_cgroups(output: list[str], expected: str) -> None:
    assert facts.Cgroups().process(output) == expected


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (["systemd", "/usr/lib/systemd/systemd"], "systemd"),
        (["init", "/usr/lib/systemd/systemd"], "systemd"),  # /sbin/init symlinked to systemd
        (["tini", "/usr/bin/tini"], "tini"),
        (["init", "/sbin/openrc-init"], "init"),
        ([], "unknown"),
    ],
)
def test_init_system_comes_from_pid_1(output: list[str], expected: str) -> None:
    assert facts.InitSystem().process(output) == expected


def test_kernel_control_reads_capabilities() -> None:
    parsed = facts.KernelControl().process(["net_rw", "caps 000001fffcfcffff"])
    assert parsed == {"kernel_rw": False, "net_rw": True, "modules": False, "caps": 0x1FFFCFCFFFF}


def test_packages_only_counts_installed() -> None:
    output = ["ii  curl", "rc  socat", "ii  iptables:amd64", "un  chrony"]
    assert facts.DebPackagesInstalled().process(output) == ["curl", "iptables"]


def test_files_and_directories() -> None:
    output = [
        "600 root root " + "a" * 64 + " /etc/ssh/sshd_config",
        "755 root root - /etc/cron.d",
    ]
    assert facts.Files().process(output) == {
        "/etc/ssh/sshd_config": FileState("600", "root", "root", "a" * 64),
        "/etc/cron.d": FileState("755", "root", "root", ""),
    }


def test_ssh_client_strips_mapped_prefix() -> None:
    assert facts.SshClient().process(["::ffff:10.0.0.1 50022 10.0.0.2 22"]) == "10.0.0.1"
    assert facts.SshClient().process([""]) == ""


def test_probe_runs_every_fact_between_markers() -> None:
    command = facts.NodeProbe().command()
    for name in ("os", "modules", "cgroups", "init", "kernel", "firewall", "client"):
        assert f"@@sloth-section {name}'" in command


def test_fast_mode_local_host_capture() -> None:
    """A fast-mode local host: tini as PID 1, no cgroups, kernel settings belong to the machine."""
    output = (CAPTURED / "fast-host-debian12.txt").read_text().splitlines()
    node = facts.NodeProbe().process(output)
    assert (node.os_id, node.os_version, node.arch) == ("debian", "12", "x86_64")
    assert node.init == "tini"
    assert not node.is_systemd
    assert node.cgroup == "none"
    assert node.modules["br_netfilter"] == "loaded"
    assert node.modules["wireguard"] == "missing"
    assert node.net_sysctls_writable
    assert not node.kernel_sysctls_writable
    assert not node.can_load_modules
    assert not node.can_set_clock
    assert node.sysctls["net.ipv4.ip_forward"] == "0"
    assert "kernel.yama.ptrace_scope" not in node.sysctls
    assert {"curl", "nftables", "socat"} <= node.packages
    assert node.files["/etc/shadow"].group == "shadow"
    assert node.ssh_client_address == "10.251.250.1"
    assert node.var_free_kib > 0
    assert node.mem_total_kib > 0


def test_missing_sections_give_defaults() -> None:
    node = facts.NodeProbe().process([])
    assert node.cgroup == "none"
    assert node.modules == {}
    assert node.files == {}


def test_systemd_mode_local_host_capture() -> None:
    """A systemd-nspawn local host: systemd as PID 1, cgroups v1 (hybrid), no CAP_SYS_TIME."""
    output = (CAPTURED / "systemd-host-debian12.txt").read_text().splitlines()
    node = facts.NodeProbe().process(output)
    assert node.is_systemd
    assert node.cgroup == "v1"
    assert not node.can_set_clock
    assert not node.can_load_modules
    assert node.sshd_includes_dropins
    assert node.sshd_pid == 34
    assert "iptables" not in node.packages
    assert "nftables" in node.packages


def test_sysctls_read_in_one_grep_and_normalized() -> None:
    command = facts.Sysctls().command(keys=["net.ipv4.ip_forward", "net.ipv4.ip_local_port_range"])
    assert command.count("grep") == 1
    assert "/proc/sys/net/ipv4/ip_forward" in command
    output = [
        "/proc/sys/net/ipv4/ip_forward:1",
        "/proc/sys/net/ipv4/ip_local_port_range:32768\t60999",
    ]
    assert facts.Sysctls().process(output) == {
        "net.ipv4.ip_forward": "1",
        "net.ipv4.ip_local_port_range": "32768 60999",
    }
