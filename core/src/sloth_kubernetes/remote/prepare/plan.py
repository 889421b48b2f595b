"""From a node's facts and the cluster's settings to the steps the phase runs on it.

Pure (no pyinfra import): which operations run with which arguments, and which items belong to
the machine (kernel-global settings a node cannot change: reported, never faked).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ...model import ClusterConfig, NodePackage, NodeRecord
from ...model.cluster import PluginBlock
from . import baseline, firewall, hardening
from .facts_model import NodeFacts

MACHINE = "managed by the machine"


@attrs.frozen
class PrepareSettings:
    """What the phase needs from the cluster spec for one node."""

    hardening: hardening.Profile = "baseline"
    firewall: firewall.FirewallSpec | None = attrs.field(factory=firewall.FirewallSpec)
    #: Packages plugins need on this node (``node_packages``: the mesh's wireguard-tools,
    #: longhorn's open-iscsi...).
    extra_packages: tuple[NodePackage, ...] = ()


def settings_for(config: ClusterConfig, node: NodeRecord) -> PrepareSettings:
    """Derive one node's settings from ``spec.security``, ``spec.mesh``, the pod CIDR and the
    node's role."""
    security = config.spec.security
    mesh = config.spec.mesh
    mesh_settings = mesh.settings if isinstance(mesh, PluginBlock) else None
    spec = None
    if security.firewall:
        spec = firewall.firewall_spec(
            ssh_port=node.ssh_port,
            ssh_allowed_cidrs=security.ssh_allowed_cidrs,
            mesh=mesh_settings,
            pod_cidr=config.spec.kubernetes.pod_cidr,
            # the API is served by servers only: an agent keeps 6443 on the mesh
            api_allowed_cidrs=security.api_allowed_cidrs if node.is_server else (),
        )
    return PrepareSettings(hardening=security.hardening, firewall=spec)


@attrs.frozen
class Step:
    """One pyinfra operation to run: ``operation`` names a function of :mod:`.operations`."""

    name: str
    operation: str
    kwargs: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class NodePlan:
    steps: tuple[Step, ...] = ()
    machine: tuple[str, ...] = ()  # "<item>: managed by the machine (<current state>)"
    notes: tuple[str, ...] = ()
    #: Packages not installed yet (the baseline's and the plugins'): installed with apt before
    #: the steps (see ``run``), or reported as the machine's where apt cannot install them.
    packages: tuple[str, ...] = ()


def installable_packages(extra: Iterable[str | NodePackage] = ()) -> list[str]:
    """Every package prepare may install on a node whose plugins need ``extra`` (fallbacks
    included): what a provider whose machines have no mirror of their own must serve them (the
    local provider's repository)."""
    names = {p.name if isinstance(p, NodePackage) else p for p in extra}
    return sorted({*baseline.PACKAGES, baseline.TIME_SYNC_PACKAGE, *names})


def _desired_sysctls(profile: hardening.Profile) -> dict[str, str]:
    values = dict(baseline.KUBERNETES_SYSCTLS)
    values.update({key: value for key, (value, _) in hardening.sysctls(profile).items()})
    return values


def plan_node(facts: NodeFacts, settings: PrepareSettings) -> NodePlan:
    """The steps for one node (support has been checked before)."""
    steps: list[Step] = []
    machine: list[str] = []
    notes: list[str] = []

    wanted = list(baseline.PACKAGES)
    manage_time = facts.can_set_clock and facts.is_systemd
    if manage_time and not (facts.chrony_installed or facts.timesyncd_installed):
        wanted.append(baseline.TIME_SYNC_PACKAGE)
    wanted += [p.name for p in settings.extra_packages if _needed(p, facts)]

    if facts.can_load_modules:
        steps.append(
            Step(
                "kernel modules",
                "kernel_modules",
                {
                    "modules": list(baseline.REQUIRED_MODULES),
                    "persist_file": baseline.MODULES_LOAD_FILE,
                },
            )
        )
    else:
        for module in baseline.REQUIRED_MODULES:
            machine.append(f"kernel module {module}: {MACHINE} ({facts.modules.get(module)})")

    own: dict[str, str] = {}
    bridge_coming = facts.modules.get("br_netfilter") in ("loaded", "available")
    for key, value in _desired_sysctls(settings.hardening).items():
        current = facts.sysctls.get(key)
        if current is None and not (key.startswith("net.bridge.") and bridge_coming):
            notes.append(f"sysctl {key}: not available on kernel {facts.kernel}")
        elif facts.sysctl_writable(key):
            own[key] = value
        else:
            state = "as wanted" if current == value else f"is {current}, wanted {value}"
            machine.append(f"sysctl {key}: {MACHINE} ({state})")
    steps.append(
        Step("kernel parameters", "sysctls", {"values": own, "persist_file": baseline.SYSCTL_FILE})
    )

    if facts.swap_active and not facts.can_control_swap:
        machine.append(f"swap: {MACHINE} (active: {', '.join(facts.swap_active)})")
    elif not facts.swap_active and not facts.can_control_swap:
        machine.append(f"swap: {MACHINE} (off)")
    steps.append(Step("swap off", "swap_off"))

    if not facts.can_set_clock:
        machine.append(f"time sync: {MACHINE} (the clock is the machine's)")
    elif facts.is_systemd:
        steps.append(Step("time sync", "time_sync"))
    else:
        notes.append(f"time sync: not managed (PID 1 is {facts.init}, not systemd)")

    profile = settings.hardening
    steps.append(
        Step("sshd hardening", "sshd_hardening", {"content": hardening.sshd_dropin(profile)})
    )
    entries = [(p.path, p.mode, p.owner, p.group) for p in hardening.permissions(profile)]
    if profile != "none":
        entries += [
            (path, "600", "root", "root")
            for path in sorted(facts.files)
            if path.startswith("/etc/ssh/ssh_host_") and path.endswith("_key")
        ]
    if entries:
        steps.append(Step("file permissions", "permissions", {"entries": entries}))
    cis = profile == "cis"
    steps.append(
        Step(
            "module blacklist",
            "file",
            {
                "path": hardening.MODPROBE_FILE,
                "content": hardening.modprobe_blacklist() if cis else "",
            },
        )
    )
    steps.append(
        Step(
            "core dump limits",
            "file",
            {"path": hardening.LIMITS_FILE, "content": hardening.CIS_LIMITS if cis else ""},
        )
    )

    content = firewall.render(settings.firewall) if settings.firewall is not None else ""
    steps.append(Step("firewall", "nftables_firewall", {"content": content}))
    missing = tuple(sorted(set(wanted) - facts.packages))
    return NodePlan(tuple(steps), tuple(machine), tuple(notes), missing)


def _needed(package: NodePackage, facts: NodeFacts) -> bool:
    """A fallback package (``unless_module``) is needed where the kernel cannot provide the
    module: not loaded, and not loadable by this node."""
    if not package.unless_module:
        return True
    state = facts.modules.get(package.unless_module, "missing")
    return not (state == "loaded" or (state == "available" and facts.can_load_modules))
