"""Hardening profiles ``none | baseline | cis`` (``spec.security.hardening``).

Every item names the control it implements; docs/hardening.md lists them in the same order. A
profile is cumulative: ``cis`` = ``baseline`` + its own items.
"""

from __future__ import annotations

from typing import Literal

import attrs

Profile = Literal["none", "baseline", "cis"]
PROFILES: tuple[Profile, ...] = ("none", "baseline", "cis")

SSHD_DROPIN = "/etc/ssh/sshd_config.d/00-sloth.conf"
SSHD_INCLUDE = "Include /etc/ssh/sshd_config.d/*.conf"
MODPROBE_FILE = "/etc/modprobe.d/sloth-cis.conf"
LIMITS_FILE = "/etc/security/limits.d/sloth-cis.conf"


@attrs.frozen
class SshdOption:
    keyword: str
    value: str
    control: str


@attrs.frozen
class Permission:
    path: str
    mode: str  # octal, as `stat -c %a` prints it
    owner: str
    group: str
    control: str


# sshd: sshd keeps the FIRST value it reads, and the drop-in directory is included at the top of
# sshd_config, so 00-sloth.conf wins over later drop-ins (e.g. cloud-init's 50-cloud-init.conf).
BASELINE_SSHD: tuple[SshdOption, ...] = (
    SshdOption("PasswordAuthentication", "no", "key-only SSH (project rule; no CIS item)"),
    SshdOption("KbdInteractiveAuthentication", "no", "key-only SSH (project rule; no CIS item)"),
    SshdOption("PermitRootLogin", "prohibit-password", "CIS Debian 12 5.1.20 (root by key only)"),
    SshdOption("PermitEmptyPasswords", "no", "CIS Debian 12 5.1.19"),
    SshdOption("HostbasedAuthentication", "no", "CIS Debian 12 5.1.9"),
    SshdOption("IgnoreRhosts", "yes", "CIS Debian 12 5.1.10"),
    SshdOption("PermitUserEnvironment", "no", "CIS Debian 12 5.1.21"),
    SshdOption("MaxAuthTries", "4", "CIS Debian 12 5.1.14"),
    SshdOption("LoginGraceTime", "60", "CIS Debian 12 5.1.12"),
    SshdOption("X11Forwarding", "no", "CIS Debian 12 5.1.22"),
)
CIS_SSHD: tuple[SshdOption, ...] = (
    SshdOption("LogLevel", "VERBOSE", "CIS Debian 12 5.1.13"),
    SshdOption("ClientAliveInterval", "15", "CIS Debian 12 5.1.7"),
    SshdOption("ClientAliveCountMax", "3", "CIS Debian 12 5.1.7"),
    SshdOption("MaxSessions", "10", "CIS Debian 12 5.1.16"),
    SshdOption(
        "Ciphers",
        "aes256-gcm@openssh.com,aes128-gcm@openssh.com,chacha20-poly1305@openssh.com,"
        "aes256-ctr,aes192-ctr,aes128-ctr",
        "CIS Debian 12 5.1.6",
    ),
    SshdOption(
        "MACs",
        "hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512,hmac-sha2-256",
        "CIS Debian 12 5.1.15",
    ),
    SshdOption(
        "KexAlgorithms",
        "curve25519-sha256,curve25519-sha256@libssh.org,"
        "diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,"
        "ecdh-sha2-nistp521,ecdh-sha2-nistp384,ecdh-sha2-nistp256",
        "CIS Debian 12 5.1.11",
    ),
)

# Kernel parameters. net.* ones are per network namespace; the rest are kernel-global.
BASELINE_SYSCTLS: dict[str, tuple[str, str]] = {
    "net.ipv4.conf.all.accept_redirects": ("0", "CIS Debian 12 3.3.5"),
    "net.ipv4.conf.default.accept_redirects": ("0", "CIS Debian 12 3.3.5"),
    "net.ipv6.conf.all.accept_redirects": ("0", "CIS Debian 12 3.3.5"),
    "net.ipv6.conf.default.accept_redirects": ("0", "CIS Debian 12 3.3.5"),
    "net.ipv4.conf.all.secure_redirects": ("0", "CIS Debian 12 3.3.6"),
    "net.ipv4.conf.default.secure_redirects": ("0", "CIS Debian 12 3.3.6"),
    "net.ipv4.conf.all.send_redirects": ("0", "CIS Debian 12 3.3.2"),
    "net.ipv4.conf.default.send_redirects": ("0", "CIS Debian 12 3.3.2"),
    "net.ipv4.conf.all.accept_source_route": ("0", "CIS Debian 12 3.3.8"),
    "net.ipv4.conf.default.accept_source_route": ("0", "CIS Debian 12 3.3.8"),
    "net.ipv6.conf.all.accept_source_route": ("0", "CIS Debian 12 3.3.8"),
    "net.ipv6.conf.default.accept_source_route": ("0", "CIS Debian 12 3.3.8"),
    "net.ipv4.icmp_echo_ignore_broadcasts": ("1", "CIS Debian 12 3.3.3"),
    "net.ipv4.icmp_ignore_bogus_error_responses": ("1", "CIS Debian 12 3.3.4"),
    "net.ipv4.tcp_syncookies": ("1", "CIS Debian 12 3.3.10"),
}
CIS_SYSCTLS: dict[str, tuple[str, str]] = {
    "net.ipv4.conf.all.log_martians": ("1", "CIS Debian 12 3.3.9"),
    "net.ipv4.conf.default.log_martians": ("1", "CIS Debian 12 3.3.9"),
    "kernel.randomize_va_space": ("2", "CIS Debian 12 1.5.1"),
    "kernel.yama.ptrace_scope": ("1", "CIS Debian 12 1.5.2"),
    "fs.suid_dumpable": ("0", "CIS Debian 12 1.5.3"),
    "kernel.dmesg_restrict": ("1", "CIS Debian 12 1.5.x (dmesg restricted)"),
    "fs.protected_hardlinks": ("1", "CIS distribution-independent Linux 1.5.x"),
    "fs.protected_symlinks": ("1", "CIS distribution-independent Linux 1.5.x"),
    # The kubelet's --protect-kernel-defaults (CIS Kubernetes 4.2.6) refuses to start unless these
    # hold; the k3s and RKE2 hardening guides set exactly these before installing.
    "vm.overcommit_memory": ("1", "CIS Kubernetes 4.2.6"),
    "vm.panic_on_oom": ("0", "CIS Kubernetes 4.2.6"),
    "kernel.panic": ("10", "CIS Kubernetes 4.2.6"),
    "kernel.panic_on_oops": ("1", "CIS Kubernetes 4.2.6"),
    "kernel.keys.root_maxkeys": ("1000000", "CIS Kubernetes 4.2.6"),
    "kernel.keys.root_maxbytes": ("25000000", "CIS Kubernetes 4.2.6"),
}

BASELINE_PERMISSIONS: tuple[Permission, ...] = (
    Permission("/etc/ssh/sshd_config", "600", "root", "root", "CIS Debian 12 5.1.1"),
)
CIS_PERMISSIONS: tuple[Permission, ...] = (
    Permission("/etc/passwd", "644", "root", "root", "CIS Debian 12 7.1.1"),
    Permission("/etc/group", "644", "root", "root", "CIS Debian 12 7.1.3"),
    Permission("/etc/shadow", "640", "root", "shadow", "CIS Debian 12 7.1.5"),
    Permission("/etc/gshadow", "640", "root", "shadow", "CIS Debian 12 7.1.7"),
    Permission("/etc/crontab", "600", "root", "root", "CIS Debian 12 2.4.1.2"),
    Permission("/etc/cron.hourly", "700", "root", "root", "CIS Debian 12 2.4.1.3"),
    Permission("/etc/cron.daily", "700", "root", "root", "CIS Debian 12 2.4.1.4"),
    Permission("/etc/cron.weekly", "700", "root", "root", "CIS Debian 12 2.4.1.5"),
    Permission("/etc/cron.monthly", "700", "root", "root", "CIS Debian 12 2.4.1.6"),
    Permission("/etc/cron.d", "700", "root", "root", "CIS Debian 12 2.4.1.7"),
)
#: SSH host private keys (a glob on the node): 600 root:root, CIS Debian 12 5.1.2.
HOST_KEY_GLOB = "/etc/ssh/ssh_host_*_key"
HOST_KEY_CONTROL = "CIS Debian 12 5.1.2"

#: Filesystems and protocols a node never needs (CIS Debian 12 1.1.1.x, 3.2.x). Not sctp:
#: Kubernetes Services may use SCTP.
CIS_DISABLED_MODULES: dict[str, str] = {
    "cramfs": "CIS Debian 12 1.1.1.1",
    "freevxfs": "CIS Debian 12 1.1.1.2",
    "hfs": "CIS Debian 12 1.1.1.3",
    "hfsplus": "CIS Debian 12 1.1.1.4",
    "jffs2": "CIS Debian 12 1.1.1.5",
    "udf": "CIS Debian 12 1.1.1.9",
    "usb-storage": "CIS Debian 12 1.1.1.10",
    "dccp": "CIS Debian 12 3.2.1",
    "tipc": "CIS Debian 12 3.2.2",
    "rds": "CIS Debian 12 3.2.3",
}
#: Core dumps off for every user (CIS Debian 12 1.5.3, with fs.suid_dumpable=0).
CIS_LIMITS = "* hard core 0\n"


def sshd_options(profile: Profile) -> tuple[SshdOption, ...]:
    if profile == "none":
        return ()
    return BASELINE_SSHD + (CIS_SSHD if profile == "cis" else ())


def sysctls(profile: Profile) -> dict[str, tuple[str, str]]:
    if profile == "none":
        return {}
    return {**BASELINE_SYSCTLS, **(CIS_SYSCTLS if profile == "cis" else {})}


def permissions(profile: Profile) -> tuple[Permission, ...]:
    if profile == "none":
        return ()
    return BASELINE_PERMISSIONS + (CIS_PERMISSIONS if profile == "cis" else ())


def sshd_dropin(profile: Profile) -> str:
    """The drop-in's text ("" for ``none``: the file is removed)."""
    options = sshd_options(profile)
    if not options:
        return ""
    lines = [f"# Written by sloth-kubernetes (hardening profile {profile}); do not edit."]
    lines += [f"{option.keyword} {option.value}" for option in options]
    return "\n".join(lines) + "\n"


def modprobe_blacklist() -> str:
    lines = ["# Written by sloth-kubernetes (hardening profile cis); do not edit."]
    for module in CIS_DISABLED_MODULES:
        lines += [f"install {module} /bin/false", f"blacklist {module}"]
    return "\n".join(lines) + "\n"
