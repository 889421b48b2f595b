"""``plan``: what `up` would create, change or delete."""

from __future__ import annotations

from pathlib import Path

import click

from .. import api
from ..errors import EXIT_CHANGES
from .common import config_files_option, manager, state_store
from .output import chosen_format, console, emit_data, output_option

SYMBOLS = {
    "create": "+",
    "adopt": "=",
    "change": "~",
    "delete": "-",
    "add-rule": "+",
    "remove-rule": "-",
    "configure": "*",
    "install": "*",
}


def register(cli: click.Group) -> None:
    cli.add_command(plan)


@click.command()
@config_files_option
@output_option
@click.option("--detailed-exitcode", is_flag=True, help="Exit 3 when the plan has changes.")
@click.option(
    "--out", "out", type=click.Path(dir_okay=False), help="Save the plan for `up --plan FILE`."
)
@click.option("--no-refresh", is_flag=True, help="Trust the state; skip the providers' inventory.")
def plan(
    files: tuple[str, ...],
    output: str | None,
    detailed_exitcode: bool,
    out: str | None,
    no_refresh: bool,
) -> None:
    """Show what `up` would do, per phase and per node, without changing anything."""
    config = api.load(files, manager=manager())
    with state_store() as store:
        result = api.plan(config, store, manager=manager(), refresh=not no_refresh)
    if out:
        api.save_plan(result, config, Path(out))
        click.echo(f"saved plan to {out}; apply it with `up --plan {out}`", err=True)
    fmt = chosen_format(output)
    if fmt != "table":
        emit_data(result.to_data(), fmt)
    else:
        view = console()
        view.print(f"Plan for cluster [bold]{result.cluster}[/bold]:")
        phase = None
        for action in result.actions:
            if action.phase != phase:
                phase = action.phase
                view.print(f"\n  [bold]{phase}[/bold]")
            detail = f"  ({action.detail})" if action.detail else ""
            view.print(
                f"    {SYMBOLS.get(action.kind, '?')} {action.kind} {action.target}{detail}",
                markup=False,
            )
        counts = result.counts()
        summary = ", ".join(f"{n} to {k}" for k, n in sorted(counts.items())) or "no changes"
        view.print(f"\n{summary}.")
    if detailed_exitcode and result.has_changes:
        raise click.exceptions.Exit(EXIT_CHANGES)
