"""``mesh status|check``: the node mesh as it is on the nodes right now."""

from __future__ import annotations

import time
from collections.abc import Sequence

import attrs
import click

from ..api import mesh as api_mesh
from ..model.mesh import MeshCheckResult, MeshNodeStatus
from .common import manager, state_store
from .output import chosen_format, emit_data, output_option, table


def register(cli: click.Group) -> None:
    cli.add_command(mesh)


@click.group()
def mesh() -> None:
    """Look at the encrypted mesh between a cluster's nodes, and check it end to end."""


@mesh.command()
@click.argument("name")
@output_option
def status(name: str, output: str | None) -> None:
    """Per node of cluster NAME: its peers, their endpoints, last handshakes and bytes.

    Read live from the nodes (`wg show IFACE dump` for WireGuard).
    """
    with state_store() as store:
        statuses = api_mesh.mesh_status(store, name, manager=manager())
    fmt = chosen_format(output)
    if fmt != "table":
        emit_data([attrs.asdict(s) for s in statuses], fmt)
        return
    columns = ["NODE", "MESH ADDRESS", "PEER", "ENDPOINT", "HANDSHAKE", "RECEIVED", "SENT"]
    table(f"mesh of {name}", columns, status_rows(statuses, time.time()))


@mesh.command()
@click.argument("name")
@click.option(
    "--repair",
    is_flag=True,
    help="First re-apply the mesh: restart stopped interfaces, nudge stuck pairs, fail over "
    "gateways of nodes that are unreachable over SSH.",
)
@output_option
@click.pass_context
def check(ctx: click.Context, name: str, repair: bool, output: str | None) -> None:
    """Ping every node from every node over the mesh (cluster NAME); exit 1 listing what is
    broken: dead nodes once, and broken links between working nodes."""
    with state_store() as store:
        result = api_mesh.mesh_check(store, name, manager=manager(), repair=repair)
    fmt = chosen_format(output)
    if fmt != "table":
        emit_data(result.to_data(), fmt)
    else:
        from .output import console

        nodes = list(result.nodes)
        short = {node: str(index + 1) for index, node in enumerate(nodes)}
        rows = [[f"{short[row[0]]} {row[0]}", *row[1:]] for row in _grid(result, nodes)]
        table(
            f"mesh reachability of {name} (row pings column)", ["FROM \\ TO", *short.values()], rows
        )
        for line in result.repaired:
            console().print(f"repair: {line}")
        for node, reason in sorted(result.down.items()):
            console().print(f"[red]node down[/red]: {node} — {reason}")
        for a, b in result.broken_links:
            console().print(f"[red]broken link[/red]: {a} <-> {b}")
        if result.ok:
            pairs = len(nodes) * (len(nodes) - 1)
            console().print(f"[green]all {pairs} directed pairs answer[/green]")
    if not result.ok:
        parts = [f"node {n} down" for n in sorted(result.down)]
        parts += [f"link {a} <-> {b}" for a, b in result.broken_links]
        click.echo("mesh check failed: " + "; ".join(parts), err=True)
        ctx.exit(1)


def _grid(result: MeshCheckResult, nodes: list[str]) -> list[list[str]]:
    rows = []
    for source in nodes:
        row = [source]
        for target in nodes:
            reached = result.matrix.get(source, {}).get(target)
            row.append(
                "-" if target == source else "ok" if reached else "?" if reached is None else "FAIL"
            )
        rows.append(row)
    return rows


def status_rows(statuses: Sequence[MeshNodeStatus], now: float) -> list[list[str]]:
    """Table rows: one per peer of each node (or one line for a node that is not running)."""
    rows = []
    for status in statuses:
        if not status.running or not status.peers:
            rows.append([status.node, status.address or "-", status.detail, "-", "-", "-", "-"])
            continue
        for peer in status.peers:
            rows.append(
                [
                    status.node,
                    status.address or "-",
                    peer.name,
                    peer.endpoint or "-",
                    _age(peer.latest_handshake, now),
                    _bytes(peer.transfer_rx),
                    _bytes(peer.transfer_tx),
                ]
            )
    return rows


def _age(timestamp: int, now: float) -> str:
    if not timestamp:
        return "never"
    seconds = max(0, int(now - timestamp))
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 7200:
        return f"{seconds // 60}m ago"
    return f"{seconds // 3600}h ago"


def _bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{count} B"
