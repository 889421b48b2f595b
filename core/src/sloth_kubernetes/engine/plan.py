"""The plan: what ``up`` would do, phase by phase and node by node.

Until the state store is wired in, nothing is recorded, so every node is a create; the engine issue
compares against recorded state and live inventory (adopt / change / delete).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

import attrs

from ..config.dump import effective_config
from ..model.cluster import ClusterConfig, PluginBlock, SizeRequest, StorageBlock
from ..model.nodes import NodeRequest

PHASES = ("provision", "connect", "prepare", "mesh", "distro", "addons", "verify")


@attrs.frozen
class Action:
    """One planned change. ``kind`` is create, adopt, change, delete, configure or install."""

    phase: str
    kind: str
    target: str
    detail: str = ""


@attrs.frozen
class Plan:
    cluster: str
    spec_hash: str
    actions: tuple[Action, ...]
    nodes: tuple[NodeRequest, ...]

    def counts(self) -> dict[str, int]:
        return dict(Counter(action.kind for action in self.actions))

    @property
    def has_changes(self) -> bool:
        return bool(self.actions)

    def to_data(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "specHash": self.spec_hash,
            "counts": self.counts(),
            "actions": [attrs.asdict(a) for a in self.actions],
        }


def spec_hash(config: ClusterConfig) -> str:
    canonical = json.dumps(effective_config(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def node_requests(config: ClusterConfig) -> list[NodeRequest]:
    """The nodes the spec asks for, with stable names ``<cluster>-<pool>-<n>``."""
    requests = []
    for pool in config.spec.node_pools:
        for index in range(pool.count):
            requests.append(
                NodeRequest(
                    name=f"{config.name}-{pool.name}-{index + 1}",
                    pool=pool.name,
                    provider=pool.provider,
                    roles=tuple(pool.roles),
                    index=index,
                    size=pool.size,
                    image=pool.image,
                    region=pool.region,
                    labels=dict(pool.labels),
                    options=pool.options,
                )
            )
    return requests


def _size_text(size: Any) -> str:
    if isinstance(size, SizeRequest):
        return f"{size.cpu} vCPU / {size.memory_gib:g} GiB"
    return str(size) if size else "provider default size"


def build_plan(config: ClusterConfig) -> Plan:
    requests = node_requests(config)
    actions = [
        Action(
            "provision",
            "create",
            request.name,
            f"{request.provider}: {'+'.join(request.roles)}, {_size_text(request.size)}"
            + (f", {request.region}" if request.region else ""),
        )
        for request in requests
    ]
    spec = config.spec
    mesh = spec.mesh.name if isinstance(spec.mesh, PluginBlock) else "wireguard"
    actions.append(Action("mesh", "configure", mesh, f"{len(requests)} nodes"))
    kubernetes = spec.kubernetes
    servers = sum(1 for r in requests if "server" in r.roles)
    actions.append(
        Action(
            "distro",
            "install",
            kubernetes.distribution,
            f"version {kubernetes.version or 'pinned default'}, {servers} server(s), "
            f"{len(requests) - servers} agent(s)",
        )
    )
    if isinstance(kubernetes.cni, PluginBlock):
        actions.append(Action("addons", "install", f"cni/{kubernetes.cni.name}"))
    for block in spec.storage:
        if isinstance(block, StorageBlock):
            classes = ", ".join(c.name + (" (default)" if c.default else "") for c in block.classes)
            actions.append(Action("addons", "install", f"storage/{block.type}", classes))
    for addon in spec.addons:
        if isinstance(addon, PluginBlock):
            actions.append(Action("addons", "install", f"addon/{addon.name}"))
    return Plan(config.name, spec_hash(config), tuple(actions), tuple(requests))
