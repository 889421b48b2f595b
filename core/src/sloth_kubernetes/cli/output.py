"""Rendering: rich tables for people, stable JSON/YAML for programs."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs
import click

if TYPE_CHECKING:
    from ..plugins import PluginManager

OUTPUT_FORMATS = ("table", "json", "yaml")


@attrs.define
class AppState:
    """Global options, available to every command as ``ctx.obj``."""

    debug: bool = False
    log_format: str = "text"
    output: str = "table"
    yes: bool = False
    color: bool = True
    state_url: str | None = None
    manager: PluginManager | None = None  # loaded when a command first needs the plugins


def output_option(func: Any) -> Any:
    """``-o/--output`` for read commands; falls back to the global option."""
    return click.option(
        "-o",
        "--output",
        "output",
        type=click.Choice(OUTPUT_FORMATS),
        default=None,
        help="Output format (default: table, or the global -o).",
    )(func)


def chosen_format(output: str | None) -> str:
    state = click.get_current_context().find_object(AppState)
    return output or (state.output if state else "table")


def emit_data(data: Any, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))
    else:
        from ruamel.yaml import YAML

        yaml = YAML()
        yaml.default_flow_style = False
        buffer = io.StringIO()
        yaml.dump(data, buffer)
        click.echo(buffer.getvalue(), nl=False)


def console() -> Any:
    from rich.console import Console

    state = click.get_current_context().find_object(AppState)
    no_color = state is not None and not state.color
    # Piped into a file or another program, rich would assume 80 columns and cut node names and
    # addresses short ("demo-agen…"); there is no terminal to fit, so give tables room.
    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 200
    return Console(file=sys.stdout, no_color=no_color, highlight=False, soft_wrap=True, width=width)


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    from rich.table import Table

    view = Table(title=title, show_lines=False, header_style="bold")
    for index, column in enumerate(columns):
        # the first column names the row (a node, a cluster): never cut it, even on a terminal
        view.add_column(column, overflow="fold", no_wrap=index == 0)
    for row in rows:
        view.add_row(*(str(cell) for cell in row))
    console().print(view)
