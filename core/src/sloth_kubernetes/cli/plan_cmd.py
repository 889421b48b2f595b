"""``plan``: what `up` would create, change or delete."""

from __future__ import annotations

import click

from .. import api
from ..errors import EXIT_CHANGES
from .common import config_files_option, manager
from .output import chosen_format, console, emit_data, output_option

SYMBOLS = {
    "create": "+",
    "adopt": "=",
    "change": "~",
    "delete": "-",
    "configure": "*",
    "install": "*",
}


def register(cli: click.Group) -> None:
    cli.add_command(plan)


@click.command()
@config_files_option
@output_option
@click.option("--detailed-exitcode", is_flag=True, help="Exit 3 when the plan has changes.")
def plan(files: tuple[str, ...], output: str | None, detailed_exitcode: bool) -> None:
    """Show what `up` would do, per phase and per node, without changing anything."""
    result = api.plan(api.load(files, manager=manager()), manager=manager())
    fmt = chosen_format(output)
    if fmt != "table":
        emit_data(result.to_data(), fmt)
    else:
        out = console()
        out.print(f"Plan for cluster [bold]{result.cluster}[/bold]:")
        phase = None
        for action in result.actions:
            if action.phase != phase:
                phase = action.phase
                out.print(f"\n  [bold]{phase}[/bold]")
            detail = f"  ({action.detail})" if action.detail else ""
            out.print(
                f"    {SYMBOLS.get(action.kind, '?')} {action.kind} {action.target}{detail}",
                markup=False,
            )
        counts = result.counts()
        summary = ", ".join(f"{n} to {k}" for k, n in sorted(counts.items())) or "no changes"
        out.print(f"\n{summary}.")
    if detailed_exitcode and result.has_changes:
        raise click.exceptions.Exit(EXIT_CHANGES)
