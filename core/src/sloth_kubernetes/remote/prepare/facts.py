"""pyinfra facts for the prepare phase, and :class:`NodeProbe`, which runs them all at once.

Each fact is a small ``FactBase`` (``command()`` + ``process(lines)``), testable on captured
output. pyinfra 3 does not cache facts, and every fact is one remote command, so the phase asks
for :class:`NodeProbe` once per node per run: it concatenates the facts' commands between
section markers and hands each section to that fact's ``process``.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from typing import Any, ClassVar

from pyinfra.api.facts import FactBase

from . import baseline, firewall, hardening
from .facts_model import FileState, NodeFacts

_MARK = "@@sloth-section "


class OsRelease(FactBase[dict[str, str]]):
    """``/etc/os-release`` as a dict (keys as written: ID, VERSION_ID, ...)."""

    def command(self) -> str:
        return "cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release"

    def process(self, output: list[str]) -> dict[str, str]:
        values: dict[str, str] = {}
        for line in output:
            key, sep, value = line.strip().partition("=")
            if sep and key and not key.startswith("#"):
                parts = shlex.split(value) if value else [""]
                values[key] = parts[0] if parts else ""
        return values


class Uname(FactBase[dict[str, str]]):
    """Machine architecture and kernel release."""

    def command(self) -> str:
        return "uname -m; uname -r"

    def process(self, output: list[str]) -> dict[str, str]:
        lines = [line.strip() for line in output] + ["", ""]
        return {"arch": lines[0], "kernel": lines[1]}


class KernelModules(FactBase[dict[str, str]]):
    """State of the modules Kubernetes cares about: loaded | available | missing.

    "loaded" also covers built-in modules, detected by what they provide (a built-in module
    without parameters has no /sys/module entry): /proc/sys/net/bridge for br_netfilter,
    /proc/filesystems for overlay, /proc/net/ip_tables_names for ip_tables, a working
    ``nft list tables`` for nf_tables.
    """

    MODULES: ClassVar[tuple[str, ...]] = baseline.REQUIRED_MODULES + baseline.OPTIONAL_MODULES

    def command(self) -> str:
        return (
            "for m in " + " ".join(self.MODULES) + "; do s=missing; "
            'if grep -q "^$m " /proc/modules 2>/dev/null || [ -d "/sys/module/$m" ]; '
            "then s=loaded; "
            "else case $m in "
            "br_netfilter) [ -d /proc/sys/net/bridge ] && s=loaded ;; "
            "overlay) grep -qw overlay /proc/filesystems && s=loaded ;; "
            "ip_tables) [ -e /proc/net/ip_tables_names ] && s=loaded ;; "
            "nf_tables) nft list tables >/dev/null 2>&1 && s=loaded ;; "
            "esac; fi; "
            'if [ $s = missing ] && modinfo "$m" >/dev/null 2>&1; then s=available; fi; '
            'echo "$m $s"; done'
        )

    def process(self, output: list[str]) -> dict[str, str]:
        states = {}
        for line in output:
            name, _, state = line.strip().partition(" ")
            if state in ("loaded", "available", "missing"):
                states[name] = state
        return states


class Cgroups(FactBase[str]):
    """``v2``, ``v1`` (incl. hybrid) or ``none`` (nothing mounted on /sys/fs/cgroup)."""

    def command(self) -> str:
        return (
            "stat -fc %T /sys/fs/cgroup 2>/dev/null || echo none; "
            "[ -d /sys/fs/cgroup/memory ] && echo memory-controller; true"
        )

    def process(self, output: list[str]) -> str:
        lines = [line.strip() for line in output]
        kind = lines[0] if lines else ""
        if kind == "cgroup2fs":
            return "v2"
        if kind == "tmpfs" and "memory-controller" in lines:
            return "v1"
        return "none"


class InitSystem(FactBase[str]):
    """What PID 1 is (``systemd``, ``tini``, ``init``...), read from /proc/1 — never from
    whether a ``systemctl`` binary exists."""

    def command(self) -> str:
        return "cat /proc/1/comm 2>/dev/null; readlink /proc/1/exe 2>/dev/null; true"

    def process(self, output: list[str]) -> str:
        lines = [line.strip() for line in output if line.strip()]
        exe = lines[1].rsplit("/", 1)[-1] if len(lines) > 1 else ""
        if "systemd" in (lines[0] if lines else "", exe):
            return "systemd"
        return lines[0] if lines else "unknown"


class Resources(FactBase[dict[str, int]]):
    """Free KiB on the filesystem holding /var, total memory KiB."""

    def command(self) -> str:
        return (
            "df -Pk /var | awk 'NR==2 {print \"var_free \" $4}'; "
            "awk '/^MemTotal:/ {print \"mem_total \" $2}' /proc/meminfo"
        )

    def process(self, output: list[str]) -> dict[str, int]:
        values = {}
        for line in output:
            key, _, value = line.strip().partition(" ")
            if value.isdigit():
                values[key] = int(value)
        return values


class KernelControl(FactBase[dict[str, Any]]):
    """Whether this node may change kernel settings: writable /proc/sys (kernel-global and
    net), a module-capable kernel, the effective capability mask."""

    def command(self) -> str:
        return (
            "if [ -w /proc/sys/kernel/dmesg_restrict ]; then echo kernel_rw; fi; "
            "if [ -w /proc/sys/net/ipv4/ip_forward ]; then echo net_rw; fi; "
            "if [ -e /proc/modules ]; then echo modules; fi; "
            "awk '/^CapEff:/ {print \"caps \" $2}' /proc/self/status"
        )

    def process(self, output: list[str]) -> dict[str, Any]:
        lines = [line.strip() for line in output]
        caps = next((line.split()[1] for line in lines if line.startswith("caps ")), "0")
        return {
            "kernel_rw": "kernel_rw" in lines,
            "net_rw": "net_rw" in lines,
            "modules": "modules" in lines,
            "caps": int(caps, 16),
        }


class Swap(FactBase[dict[str, list[str]]]):
    """Active swap devices (/proc/swaps) and swap lines in /etc/fstab not commented out."""

    def command(self) -> str:
        return (
            "awk 'NR>1 {print \"active \" $1}' /proc/swaps 2>/dev/null; "
            'awk \'$1 !~ /^#/ && $3 == "swap" {print "fstab " $1}\' /etc/fstab 2>/dev/null; true'
        )

    def process(self, output: list[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {"active": [], "fstab": []}
        for line in output:
            kind, _, device = line.strip().partition(" ")
            if kind in found and device:
                found[kind].append(device)
        return found


class TimeSync(FactBase[dict[str, Any]]):
    """Installed time daemons and which one is active (asked only when PID 1 is systemd)."""

    def command(self) -> str:
        return (
            "command -v chronyd >/dev/null 2>&1 && echo chrony; "
            "[ -x /lib/systemd/systemd-timesyncd ] || [ -x /usr/lib/systemd/systemd-timesyncd ] "
            "&& echo timesyncd; "
            'if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then '
            "for s in chrony systemd-timesyncd; do "
            'systemctl is-active --quiet "$s" 2>/dev/null && echo "active $s"; done; fi; true'
        )

    def process(self, output: list[str]) -> dict[str, Any]:
        lines = [line.strip() for line in output]
        active = next((line.split()[1] for line in lines if line.startswith("active ")), "")
        return {"chrony": "chrony" in lines, "timesyncd": "timesyncd" in lines, "active": active}


class DebPackagesInstalled(FactBase[list[str]]):
    """Which of ``packages`` dpkg reports installed (not just known)."""

    def command(self, packages: Iterable[str]) -> str:
        names = " ".join(shlex.quote(name) for name in packages)
        return f"dpkg-query -W -f='${{db:Status-Abbrev}} ${{Package}}\\n' {names} 2>/dev/null; true"

    def process(self, output: list[str]) -> list[str]:
        installed = []
        for line in output:
            parts = line.split()
            if len(parts) == 2 and parts[0].startswith("ii"):
                installed.append(parts[1].split(":")[0])
        return installed


class Sysctls(FactBase[dict[str, str]]):
    """Current values of ``keys`` (absent keys are left out, e.g. bridge keys before
    br_netfilter is loaded). One ``grep -H`` reads every ``/proc/sys`` file (``PATH:VALUE``
    lines): a process per key made this the probe's slowest section. The older ``KEY=VALUE``
    lines (captured probes) are read too."""

    PREFIX: ClassVar[str] = "/proc/sys/"

    def command(self, keys: Iterable[str]) -> str:
        paths = " ".join(shlex.quote(self.PREFIX + key.replace(".", "/")) for key in keys)
        return f"grep -H '' {paths} 2>/dev/null; true"

    def process(self, output: list[str]) -> dict[str, str]:
        values = {}
        for line in output:
            text = line.strip()
            if text.startswith(self.PREFIX):
                path, sep, value = text.partition(":")
                key = path[len(self.PREFIX) :].replace("/", ".")
            else:
                key, sep, value = text.partition("=")
            if sep:
                values[key] = " ".join(value.split())
        return values


class Files(FactBase[dict[str, FileState]]):
    """Mode, owner, group and (for regular files) sha256 of ``paths``; globs are expanded."""

    def command(self, paths: Iterable[str]) -> str:
        words = " ".join(
            path if "*" in path else shlex.quote(path) for path in paths
        )  # globs are ours (constants), never user input
        return (
            f'for f in {words}; do if [ -e "$f" ]; then '
            'if [ -f "$f" ]; then h=$(sha256sum < "$f" | cut -d" " -f1); else h=-; fi; '
            'printf "%s %s\\n" "$(stat -c "%a %U %G" "$f") $h" "$f"; fi; done'
        )

    def process(self, output: list[str]) -> dict[str, FileState]:
        files = {}
        for line in output:
            parts = line.split(" ", 4)
            if len(parts) == 5:
                mode, owner, group, digest, path = parts
                files[path] = FileState(mode, owner, group, "" if digest == "-" else digest)
        return files


class SshdFacts(FactBase[dict[str, Any]]):
    """Whether sshd_config includes the drop-in directory, and sshd's listener pid."""

    def command(self) -> str:
        return (
            "grep -Eqi '^[[:space:]]*Include[[:space:]]+/etc/ssh/sshd_config\\.d/\\*\\.conf' "
            "/etc/ssh/sshd_config 2>/dev/null && echo include; "
            '[ -r /run/sshd.pid ] && echo "pid $(cat /run/sshd.pid)"; true'
        )

    def process(self, output: list[str]) -> dict[str, Any]:
        lines = [line.strip() for line in output]
        pid = next((line.split()[1] for line in lines if line.startswith("pid ")), "")
        return {"include": "include" in lines, "pid": int(pid) if pid.isdigit() else None}


class FirewallState(FactBase[dict[str, Any]]):
    """Hash of the live ``inet sloth`` table, the hash recorded at the last apply, and
    whether the boot unit is enabled."""

    def command(self) -> str:
        return (
            f"if nft list table inet {firewall.TABLE} >/dev/null 2>&1; then "
            f'echo "live $(nft list table inet {firewall.TABLE} | sha256sum | cut -d" " -f1)"; fi; '
            f'[ -r {firewall.RECORD_FILE} ] && echo "recorded $(cat {firewall.RECORD_FILE})"; '
            "systemctl is-enabled --quiet sloth-firewall.service 2>/dev/null && echo boot; true"
        )

    def process(self, output: list[str]) -> dict[str, Any]:
        values: dict[str, Any] = {"live": "", "recorded": "", "boot": False}
        for line in output:
            key, _, value = line.strip().partition(" ")
            if key in ("live", "recorded"):
                values[key] = value.strip()
            elif key == "boot":
                values["boot"] = True
        return values


class SshClient(FactBase[str]):
    """The operator's address as this SSH session sees it (empty under sudo's env reset)."""

    def command(self) -> str:
        return 'echo "${SSH_CONNECTION:-}"'

    def process(self, output: list[str]) -> str:
        words = " ".join(output).split()
        address = words[0] if words else ""
        return address.removeprefix("::ffff:")


#: Files the phase writes or checks, for :class:`Files`.
MANAGED_FILES: tuple[str, ...] = (
    baseline.MODULES_LOAD_FILE,
    baseline.SYSCTL_FILE,
    hardening.SSHD_DROPIN,
    hardening.MODPROBE_FILE,
    hardening.LIMITS_FILE,
    firewall.RULES_FILE,
    firewall.BOOT_UNIT,
    *(p.path for p in hardening.BASELINE_PERMISSIONS + hardening.CIS_PERMISSIONS),
    hardening.HOST_KEY_GLOB,
)


def _all_sysctl_keys() -> list[str]:
    keys = dict.fromkeys(baseline.KUBERNETES_SYSCTLS)
    keys.update(dict.fromkeys(hardening.BASELINE_SYSCTLS))
    keys.update(dict.fromkeys(hardening.CIS_SYSCTLS))
    return list(keys)


def _sections(
    extra_packages: Iterable[str] = (),
) -> list[tuple[str, FactBase[Any], dict[str, Any]]]:
    """The probe's sections; ``extra_packages`` (what plugins need, ``node_packages``) are
    checked together with the baseline's."""
    probed = dict.fromkeys([*baseline.PACKAGES, baseline.TIME_SYNC_PACKAGE, *extra_packages])
    return [
        ("os", OsRelease(), {}),
        ("uname", Uname(), {}),
        ("modules", KernelModules(), {}),
        ("cgroups", Cgroups(), {}),
        ("init", InitSystem(), {}),
        ("resources", Resources(), {}),
        ("kernel", KernelControl(), {}),
        ("swap", Swap(), {}),
        ("time", TimeSync(), {}),
        (
            "packages",
            DebPackagesInstalled(),
            {"packages": list(probed)},
        ),
        ("sysctls", Sysctls(), {"keys": _all_sysctl_keys()}),
        ("files", Files(), {"paths": MANAGED_FILES}),
        ("sshd", SshdFacts(), {}),
        ("firewall", FirewallState(), {}),
        ("client", SshClient(), {}),
    ]


class NodeProbe(FactBase[NodeFacts]):
    """Every fact above in one remote command, assembled into a :class:`NodeFacts`.

    ``extra_packages``: packages plugins need on the nodes; ``NodeFacts.packages`` says which
    of them (and of the baseline's) are installed.
    """

    def command(self, extra_packages: Iterable[str] = ()) -> str:
        parts = []
        for name, fact, kwargs in _sections(extra_packages):
            parts.append(f"echo '{_MARK}{name}'; ( {fact.command(**kwargs)} ) 2>/dev/null")
        return "; ".join(parts) + "; true"

    def process(self, output: list[str]) -> NodeFacts:
        return assemble(split_sections(output))


def split_sections(output: list[str]) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in output:
        if line.startswith(_MARK):
            current = sections.setdefault(line[len(_MARK) :].strip(), [])
        elif current is not None:
            current.append(line)
    return sections


def assemble(sections: dict[str, list[str]]) -> NodeFacts:
    """Build a :class:`NodeFacts` from the probe's sections (missing sections → defaults)."""
    parsed = {name: fact.process(sections.get(name, [])) for name, fact, _ in _sections()}
    os_release, uname, kernel = parsed["os"], parsed["uname"], parsed["kernel"]
    swap, time, sshd, fw = parsed["swap"], parsed["time"], parsed["sshd"], parsed["firewall"]
    return NodeFacts(
        os_id=os_release.get("ID", ""),
        os_version=os_release.get("VERSION_ID", ""),
        os_like=tuple(os_release.get("ID_LIKE", "").split()),
        os_pretty=os_release.get("PRETTY_NAME", ""),
        arch=uname["arch"],
        kernel=uname["kernel"],
        modules=parsed["modules"],
        cgroup=parsed["cgroups"],
        init=parsed["init"],
        var_free_kib=parsed["resources"].get("var_free", 0),
        mem_total_kib=parsed["resources"].get("mem_total", 0),
        kernel_sysctls_writable=kernel["kernel_rw"],
        net_sysctls_writable=kernel["net_rw"],
        modules_supported=kernel["modules"],
        capabilities=kernel["caps"],
        swap_active=tuple(swap["active"]),
        fstab_swap=tuple(swap["fstab"]),
        chrony_installed=time["chrony"],
        timesyncd_installed=time["timesyncd"],
        time_sync_active=time["active"],
        packages=frozenset(parsed["packages"]),
        sysctls=parsed["sysctls"],
        files=parsed["files"],
        sshd_includes_dropins=sshd["include"],
        sshd_pid=sshd["pid"],
        firewall_listing_sha256=fw["live"],
        firewall_recorded_sha256=fw["recorded"],
        firewall_boot_enabled=fw["boot"],
        ssh_client_address=parsed["client"],
    )
