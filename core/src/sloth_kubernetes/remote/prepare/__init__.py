"""The ``prepare`` phase: node facts, support check, Kubernetes baseline, hardening profiles and
the nftables host firewall (docs/prepare.md, docs/hardening.md).

Importing this package does not import pyinfra; :func:`prepare_nodes` does when called.
"""

from __future__ import annotations

from .facts_model import NodeFacts
from .firewall import FirewallSpec, render
from .plan import (
    MACHINE,
    NodePlan,
    PrepareSettings,
    Step,
    installable_packages,
    plan_node,
    settings_for,
)
from .run import NodePrepareResult, PrepareResult, prepare_nodes
from .support import support_problems

__all__ = [
    "MACHINE",
    "FirewallSpec",
    "NodeFacts",
    "NodePlan",
    "NodePrepareResult",
    "PrepareResult",
    "PrepareSettings",
    "Step",
    "installable_packages",
    "plan_node",
    "prepare_nodes",
    "render",
    "settings_for",
    "support_problems",
]
