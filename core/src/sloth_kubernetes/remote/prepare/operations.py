"""pyinfra operations of the prepare phase.

Each operation takes the node's :class:`NodeFacts` (gathered once by :class:`.facts.NodeProbe`)
instead of asking for facts itself: pyinfra 3 does not cache facts, and one probe per node keeps
a converged re-run to one round trip. An operation yields nothing when the node already matches,
so pyinfra reports "no change" and the phase says "no changes".
"""

from __future__ import annotations

import hashlib
import posixpath
import shlex
from collections.abc import Generator, Mapping, Sequence

from pyinfra.api.operation import operation

from . import firewall as fw
from . import hardening
from .facts_model import NodeFacts

Commands = Generator[str, None, None]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def write_file_command(path: str, content: str, mode: str = "644") -> str:
    """Atomic write (temp file + rename) creating the parent directory."""
    target = shlex.quote(path)
    temporary = shlex.quote(path + ".sloth-tmp")
    return (
        f"install -d -m 755 {shlex.quote(posixpath.dirname(path))} && "
        f"printf '%s' {shlex.quote(content)} > {temporary} && "
        f"chmod {mode} {temporary} && chown root:root {temporary} && mv -f {temporary} {target}"
    )


def _file_matches(facts: NodeFacts, path: str, content: str, mode: str) -> bool:
    current = facts.files.get(path)
    return current is not None and current.sha256 == sha256(content) and current.mode == mode


@operation()
def file(path: str, content: str, facts: NodeFacts, mode: str = "644") -> Commands:
    """Ensure ``path`` holds ``content`` with ``mode`` (root:root); ``content`` "" removes it."""
    if not content:
        if path in facts.files:
            yield f"rm -f {shlex.quote(path)}"
        return
    if not _file_matches(facts, path, content, mode):
        yield write_file_command(path, content, mode)


@operation()
def kernel_modules(modules: Sequence[str], persist_file: str, facts: NodeFacts) -> Commands:
    """Load ``modules`` that are available but not loaded; persist them for boot."""
    content = "# Written by sloth-kubernetes; do not edit.\n" + "".join(f"{m}\n" for m in modules)
    yield from file._inner(persist_file, content, facts)
    for module in modules:
        if facts.modules.get(module) == "available":
            yield f"modprobe {shlex.quote(module)}"


@operation()
def sysctls(values: Mapping[str, str], persist_file: str, facts: NodeFacts) -> Commands:
    """Persist ``values`` in ``persist_file`` and apply those whose live value differs."""
    lines = ["# Written by sloth-kubernetes; do not edit."]
    lines += [f"{key} = {value}" for key, value in sorted(values.items())]
    yield from file._inner(persist_file, "\n".join(lines) + "\n", facts)
    for key, value in values.items():
        if facts.sysctls.get(key) != value:
            yield f"sysctl -q -w {shlex.quote(f'{key}={value}')}"


@operation()
def swap_off(facts: NodeFacts) -> Commands:
    """Turn swap off now (when this node may) and comment swap lines out of /etc/fstab."""
    if facts.swap_active and facts.can_control_swap:
        yield "swapoff -a"
    if facts.fstab_swap:
        yield (
            'awk \'$1 !~ /^#/ && $3 == "swap" {print "# swap off (sloth-kubernetes): " $0; next}'
            " {print}' /etc/fstab > /etc/fstab.sloth-tmp && cat /etc/fstab.sloth-tmp > /etc/fstab"
            " && rm -f /etc/fstab.sloth-tmp"
        )


@operation()
def time_sync(facts: NodeFacts) -> Commands:
    """Enable and start chrony if installed, else systemd-timesyncd (systemd nodes only)."""
    unit = "chrony" if facts.chrony_installed else "systemd-timesyncd"
    if facts.time_sync_active != unit:
        yield f"systemctl unmask {unit} >/dev/null 2>&1; systemctl enable --now {unit}"


@operation()
def permissions(entries: Sequence[tuple[str, str, str, str]], facts: NodeFacts) -> Commands:
    """chown/chmod each existing ``(path, mode, owner, group)`` that differs; absent paths are
    skipped (nothing to protect)."""
    for path, mode, owner, group in entries:
        current = facts.files.get(path)
        if current is None:
            continue
        if (current.owner, current.group) != (owner, group):
            yield f"chown {owner}:{group} {shlex.quote(path)}"
        if current.mode != mode:
            yield f"chmod {mode} {shlex.quote(path)}"


def _reload_sshd(facts: NodeFacts) -> str:
    if facts.is_systemd:
        return "systemctl reload ssh 2>/dev/null || systemctl reload sshd"
    return 'kill -HUP "$(cat /run/sshd.pid)"'


@operation()
def sshd_hardening(content: str, facts: NodeFacts) -> Commands:
    """Install (or, with ``content`` "", remove) the sshd drop-in, make sure sshd_config
    includes the drop-in directory, check the result with ``sshd -t`` (restoring the previous
    drop-in if it fails) and only then reload sshd."""
    path = hardening.SSHD_DROPIN
    needs_include = bool(content) and not facts.sshd_includes_dropins
    if content and _file_matches(facts, path, content, "600") and not needs_include:
        return
    if not content and path not in facts.files:
        return
    quoted = shlex.quote(path)
    script = ["set -e", f"if [ -e {quoted} ]; then cp -p {quoted} {quoted}.sloth-bak; fi"]
    if needs_include:
        # sshd keeps the first value it reads: the include must come before everything else.
        script.append(f"sed -i '1i {hardening.SSHD_INCLUDE}' /etc/ssh/sshd_config")
    script.append(write_file_command(path, content, "600") if content else f"rm -f {quoted}")
    script.append(
        f"if ! sshd -t; then if [ -e {quoted}.sloth-bak ]; then mv -f {quoted}.sloth-bak {quoted};"
        f" else rm -f {quoted}; fi;"
        " echo 'sshd -t rejected the hardened configuration' >&2; exit 1; fi"
    )
    script += [f"rm -f {quoted}.sloth-bak", _reload_sshd(facts)]
    yield "\n".join(script)


@operation()
def nftables_firewall(content: str, facts: NodeFacts) -> Commands:
    """Load the ``inet sloth`` table from ``content`` (checked with ``nft -c`` first), record
    the loaded table's hash to notice later drift, and (systemd) load it at boot. ``content``
    "" removes the table, the file and the boot unit."""
    rules, record = shlex.quote(fw.RULES_FILE), shlex.quote(fw.RECORD_FILE)
    if not content:
        if facts.firewall_listing_sha256 or fw.RULES_FILE in facts.files:
            yield f"nft delete table inet {fw.TABLE} 2>/dev/null; rm -f {rules} {record}"
        if fw.BOOT_UNIT in facts.files:
            yield f"systemctl disable sloth-firewall.service 2>/dev/null; rm -f {fw.BOOT_UNIT}"
        return
    in_sync = (
        _file_matches(facts, fw.RULES_FILE, content, "600")
        and facts.firewall_listing_sha256 != ""
        and facts.firewall_listing_sha256 == facts.firewall_recorded_sha256
    )
    if not in_sync:
        candidate = shlex.quote(fw.RULES_FILE + ".sloth-new")
        yield "\n".join(
            [
                "set -e",
                f"install -d -m 755 {shlex.quote(posixpath.dirname(fw.RULES_FILE))}",
                f"install -d -m 700 {shlex.quote(posixpath.dirname(fw.RECORD_FILE))}",
                f"umask 077; printf '%s' {shlex.quote(content)} > {candidate}",
                f"nft -c -f {candidate}",
                f"mv -f {candidate} {rules}",
                f"nft -f {rules}",
                f"nft list table inet {fw.TABLE} | sha256sum | cut -d' ' -f1 > {record}",
            ]
        )
    if facts.is_systemd:
        unit = fw.boot_unit()
        if not _file_matches(facts, fw.BOOT_UNIT, unit, "644"):
            yield write_file_command(fw.BOOT_UNIT, unit) + " && systemctl daemon-reload"
        if not facts.firewall_boot_enabled:
            yield "systemctl enable sloth-firewall.service"
