"""Refuse nodes the cluster cannot run on, saying which node and what is missing."""

from __future__ import annotations

from . import baseline
from .facts_model import NodeFacts


def _version_number(os_id: str, version: str) -> int | None:
    major, _, minor = version.partition(".")
    if not major.isdigit():
        return None
    if os_id == "ubuntu":  # 22.04 → 2204
        return int(major) * 100 + (int(minor) if minor.isdigit() else 0)
    return int(major)


def support_problems(node: str, facts: NodeFacts, *, require_cgroups: bool) -> list[str]:
    """Why ``node`` cannot be prepared (empty when it can).

    ``require_cgroups`` is passed by callers that will run the kubelet next (the distro phase):
    ``up --until prepare`` on a fast-mode local host (no cgroups) is fine, ``up`` is not.
    """
    problems = []
    supported = ", ".join(text for _, text in baseline.SUPPORTED_OS.values())
    name = facts.os_pretty or facts.os_id or "an unknown system"
    minimum = baseline.SUPPORTED_OS.get(facts.os_id)
    number = _version_number(facts.os_id, facts.os_version)
    if minimum is None or number is None or number < minimum[0]:
        problems.append(f"node {node}: {name} is not supported (need {supported})")
    if facts.arch not in baseline.SUPPORTED_ARCHES:
        arches = ", ".join(baseline.SUPPORTED_ARCHES)
        problems.append(
            f"node {node}: architecture {facts.arch or '?'} is not supported (need {arches})"
        )
    for module in baseline.REQUIRED_MODULES:
        if facts.modules.get(module, "missing") == "missing":
            problems.append(
                f"node {node}: kernel module {module} is neither loaded nor available "
                f"(kernel {facts.kernel}); Kubernetes needs it"
            )
    if require_cgroups and facts.cgroup == "none":
        problems.append(
            f"node {node}: no cgroups: the kubelet cannot run on this node "
            "(a fast-mode local host); use mode: systemd"
        )
    if facts.mem_total_kib and facts.mem_total_kib < baseline.MIN_MEMORY_KIB:
        problems.append(
            f"node {node}: {facts.mem_total_kib // 1024} MiB of memory; "
            f"Kubernetes needs at least {baseline.MIN_MEMORY_KIB // 1024} MiB"
        )
    if facts.var_free_kib < baseline.MIN_VAR_FREE_KIB:
        problems.append(
            f"node {node}: {facts.var_free_kib // 1024} MiB free on /var; "
            f"need at least {baseline.MIN_VAR_FREE_KIB // 1024} MiB"
        )
    return problems
