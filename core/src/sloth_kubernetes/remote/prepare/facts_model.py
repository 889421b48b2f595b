"""What the prepare phase knows about a node: one :class:`NodeFacts` record per node.

Pure data (no pyinfra import), so planning and support checks are testable without a host. The
pyinfra fact classes that fill it live in :mod:`.facts`.
"""

from __future__ import annotations

from typing import Literal

import attrs

CgroupVersion = Literal["v1", "v2", "none"]
#: Module states: ``loaded`` (usable now, built in or loaded), ``available`` (modprobe can load
#: it), ``missing`` (neither).
ModuleState = Literal["loaded", "available", "missing"]

# Capability bit numbers from linux/capability.h.
CAP_SYS_MODULE = 16
CAP_SYS_ADMIN = 21
CAP_SYS_TIME = 25


@attrs.frozen
class FileState:
    """A file as the node reports it; ``sha256`` is empty for directories."""

    mode: str
    owner: str
    group: str
    sha256: str = ""


@attrs.frozen
class NodeFacts:
    """Everything the prepare phase reads from a node, gathered once per run (one round trip).

    ``kernel_sysctls_writable`` is False where ``/proc/sys`` outside ``net`` is read-only (a
    container or a fast-mode local host): such kernel-global settings belong to the machine.
    """

    os_id: str = ""
    os_version: str = ""
    os_like: tuple[str, ...] = ()
    os_pretty: str = ""
    arch: str = ""
    kernel: str = ""
    modules: dict[str, ModuleState] = attrs.field(factory=dict)
    cgroup: CgroupVersion = "none"
    init: str = ""
    var_free_kib: int = 0
    mem_total_kib: int = 0
    kernel_sysctls_writable: bool = False
    net_sysctls_writable: bool = False
    modules_supported: bool = False
    capabilities: int = 0
    swap_active: tuple[str, ...] = ()
    fstab_swap: tuple[str, ...] = ()
    chrony_installed: bool = False
    timesyncd_installed: bool = False
    time_sync_active: str = ""  # the active service's name, or ""
    packages: frozenset[str] = frozenset()
    sysctls: dict[str, str] = attrs.field(factory=dict)
    files: dict[str, FileState] = attrs.field(factory=dict)
    sshd_includes_dropins: bool = False
    sshd_pid: int | None = None
    firewall_listing_sha256: str = ""  # of `nft list table inet sloth`; "" when absent
    firewall_recorded_sha256: str = ""  # what the last apply recorded
    firewall_boot_enabled: bool = False
    ssh_client_address: str = ""  # from $SSH_CONNECTION, empty under sudo

    @property
    def is_systemd(self) -> bool:
        """PID 1 is systemd (read from /proc/1, not from whether `systemctl` exists)."""
        return self.init == "systemd"

    def has_capability(self, bit: int) -> bool:
        return bool(self.capabilities >> bit & 1)

    @property
    def can_load_modules(self) -> bool:
        """modprobe can work here: the kernel has modules, we hold CAP_SYS_MODULE, /proc/sys
        outside net is writable (a host whose kernel settings are the machine's cannot)."""
        return (
            self.modules_supported
            and self.kernel_sysctls_writable
            and self.has_capability(CAP_SYS_MODULE)
        )

    @property
    def system_is_machines(self) -> bool:
        """The node's installed system is the machine's: kernel settings read-only and no init
        system of its own (a fast-mode local host: tini over the machine's ``/usr``). A
        container that boots its own systemd (a systemd-mode local host) has its own system."""
        return not self.kernel_sysctls_writable and not self.is_systemd

    @property
    def can_set_clock(self) -> bool:
        return self.kernel_sysctls_writable and self.has_capability(CAP_SYS_TIME)

    @property
    def can_control_swap(self) -> bool:
        return self.kernel_sysctls_writable and self.has_capability(CAP_SYS_ADMIN)

    def sysctl_writable(self, key: str) -> bool:
        """Whether this node may change sysctl ``key`` (net.* is per network namespace)."""
        if key.startswith("net."):
            return self.net_sysctls_writable
        return self.kernel_sysctls_writable
