"""The ``tailscale`` mesh component: ``configure_mesh`` over SSH.

Install (package repository or pinned static tarball), join with the auth key (streamed to a file
that is 0600 from its creation, never on a command line), then read each node's address with
``tailscale ip -4``. Membership, ACLs and key expiry belong to the control server (Tailscale or
Headscale). ``mesh status``/``mesh check`` are not implemented yet (``tailscale status`` and
``tailscale ping`` are the tools); ``vpn join`` answers with a clear error: devices join the
tailnet themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
from sloth_kubernetes.plugin import (
    ClusterContext,
    Mesh,
    NodeRecord,
    PluginBlock,
    SlothError,
    VpnJoin,
    put_private,
)

from . import commands
from .model import TailscaleMeshSpec

NAME = "tailscale"


def spec_of(context: ClusterContext) -> TailscaleMeshSpec:
    block = context.config.spec.mesh
    settings = block.settings if isinstance(block, PluginBlock) else None
    return settings if isinstance(settings, TailscaleMeshSpec) else TailscaleMeshSpec()


def configure(
    context: ClusterContext, spec: TailscaleMeshSpec, nodes: Sequence[NodeRecord]
) -> list[NodeRecord]:
    """Install, join and read addresses on every node (in parallel over ``context.remote``)."""
    session = context.remote
    missing = [n.name for n in nodes if session is None or n.name not in session.records]
    if missing or session is None:
        raise SlothError(
            f"Tailscale is installed over SSH; not reached over SSH: {', '.join(missing)}"
        )
    auth_key = spec.auth_key.resolve()  # a Secret, registered for redaction

    def deploy(node: NodeRecord) -> None:
        from pyinfra.operations import server

        server.shell(name="install tailscale", commands=[commands.install(spec)])
        # never readable by others, not even until a chmod (SFTP creates files 0644)
        put_private("tailscale auth key", auth_key.reveal() + "\n", commands.KEY_FILE)
        server.shell(name="tailscale up", commands=[commands.join(spec, node.name)])

    names = sorted(n.name for n in nodes)
    result = session.apply("tailscale", deploy, nodes=names)
    failed = {n: r.error for n, r in result.per_node.items() if r.error is not None}
    if failed:
        raise SlothError(
            "joining the tailnet failed on: " + "; ".join(f"{n}: {e}" for n, e in failed.items()),
            hint="check the auth key (reusable, not expired) and loginServer",
        )
    return addresses(session, nodes)


def addresses(session: Any, nodes: Sequence[NodeRecord]) -> list[NodeRecord]:
    """Each node with ``mesh_address`` from ``tailscale ip -4``."""
    results = session.shell(commands.address(), nodes=[n.name for n in nodes])
    updated = []
    for node in nodes:
        result = results[node.name]
        address = result.stdout.strip().splitlines()[0] if result.stdout.strip() else ""
        if result.exit_status != 0 or not address:
            raise SlothError(
                f"{node.name}: `tailscale ip -4` gave no address ({result.stderr.strip()})",
                hint="the node may not be approved on the control server yet",
            )
        updated.append(
            attrs.evolve(
                node,
                mesh_address=address,
                extra={**node.extra, "tailscale": {"hostname": node.name}},
            )
        )
    return updated


class TailscaleMesh(Mesh):
    """Nodes join a tailnet (Tailscale or Headscale) with the auth key."""

    def configure(self, context: ClusterContext, nodes: Sequence[NodeRecord]) -> list[NodeRecord]:
        return configure(context, spec_of(context), nodes)

    def join_vpn(self, context: ClusterContext, nodes: Sequence[NodeRecord], peer: str) -> VpnJoin:
        raise SlothError(
            "with the Tailscale mesh, operator devices join the tailnet themselves",
            hint="install Tailscale on the device and log in to the same tailnet (or Headscale)",
        )


PLUGIN = TailscaleMesh(
    NAME,
    "Tailscale or self-hosted Headscale (loginServer) between nodes",
    settings=TailscaleMeshSpec,
    features=frozenset({"full"}),
)
