"""``nodes list|ssh|exec``: look at and reach a cluster's machines."""

from __future__ import annotations

from typing import Any

import click

from ..api import nodes as api_nodes
from .common import state_store
from .output import chosen_format, emit_data, output_option, table


class _DashDashCommand(click.Command):
    """Keeps what follows ``--`` apart (click would merge it into the positional arguments)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            cut = args.index("--")
            ctx.meta["remote_command"] = args[cut + 1 :]
            args = args[:cut]
        else:
            ctx.meta["remote_command"] = []
        return super().parse_args(ctx, args)


def register(cli: click.Group) -> None:
    cli.add_command(nodes)


@click.group()
def nodes() -> None:
    """List the nodes of a cluster, open a shell on one, run a command on several."""


@nodes.command("list")
@click.argument("name")
@output_option
def list_(name: str, output: str | None) -> None:
    """List the nodes of cluster NAME as recorded in the state store."""
    with state_store() as store:
        records = api_nodes.list_nodes(store, name)
    data = [api_nodes.node_summary(r) for r in records]
    fmt = chosen_format(output)
    if fmt != "table":
        emit_data(data, fmt)
        return
    rows = [
        [
            d["name"],
            d["pool"],
            d["provider"],
            ",".join(d["roles"]),
            d["public_address"] or "-",
            d["private_address"] or "-",
            d["mesh_address"] or "-",
            " ".join(f"{k}:{v}" for k, v in d["phases"].items()) or "-",
        ]
        for d in data
    ]
    columns = ["NODE", "POOL", "PROVIDER", "ROLES", "PUBLIC", "PRIVATE", "MESH", "PHASES"]
    table(f"cluster {name}", columns, rows)


@nodes.command(cls=_DashDashCommand)
@click.argument("name")
@click.argument("node")
@click.pass_context
def ssh(ctx: click.Context, name: str, node: str) -> None:
    """Open an SSH session on NODE of cluster NAME (or run `-- CMD` there).

    Uses the cluster's operator key and the host key recorded for the node (strict checking).
    """
    command: list[str] = ctx.meta["remote_command"]
    with state_store() as store:
        code = api_nodes.ssh(store, name, node, command)
    ctx.exit(code)


@nodes.command("exec", cls=_DashDashCommand)
@click.argument("name")
@click.argument("node_names", metavar="[NODE]...", nargs=-1)
@click.option("--all", "all_nodes", is_flag=True, help="Run on every node of the cluster.")
@click.option(
    "--parallel", default=20, show_default=True, type=click.IntRange(1), help="Nodes at once."
)
@click.pass_context
def exec_(
    ctx: click.Context, name: str, node_names: tuple[str, ...], all_nodes: bool, parallel: int
) -> None:
    """Run `-- CMD` on the named nodes of cluster NAME (or --all) in parallel.

    Several words after `--` are passed exactly, as `kubectl exec` does
    (`-- sh -c 'echo "a b"'`); one word is a command line run as written (`-- 'ls | wc -l'`).
    Output lines are prefixed with `[node]`; exits 1 if the command failed on any node.
    """
    command: list[str] = ctx.meta["remote_command"]
    if not command:
        raise click.UsageError(
            "give the command after `--`, e.g. `nodes exec NAME --all -- uptime`"
        )
    if all_nodes and node_names:
        raise click.UsageError("name nodes or pass --all, not both")
    chosen = [api_nodes.ALL_NODES] if all_nodes else list(node_names)
    with state_store() as store:
        results = api_nodes.exec_command(store, name, command, chosen, parallel=parallel)
    failed = _print_results(results)
    ok = len(results) - len(failed)
    summary = f"{len(results)} node{'s' if len(results) != 1 else ''}: {ok} ok"
    if failed:
        summary += f", {len(failed)} failed (" + ", ".join(failed) + ")"
    click.echo(summary, err=True)
    ctx.exit(1 if failed else 0)


def _print_results(results: dict[str, Any]) -> list[str]:
    failed = []
    for node, result in results.items():
        for line in result.stdout.splitlines():
            click.echo(f"[{node}] {line}")
        for line in result.stderr.splitlines():
            click.echo(f"[{node}] {line}", err=True)
        if result.exit_status != 0:
            failed.append(f"{node}: exit {result.exit_status}")
    return failed
