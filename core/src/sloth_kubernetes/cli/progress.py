"""Progress of long commands: a live table on a terminal, prefixed lines elsewhere.

Events come from the engine (``ClusterContext.event``): ``{"phase", "node", "status",
"message"}``. Lines look like ``[demo-agent-1] provision: done`` and go to stderr, so
``-o json`` output on stdout stays machine-readable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from ..secrets import redact

Emit = Callable[[dict[str, Any]], None]
SYMBOLS = {"started": "…", "done": "✓", "failed": "✗", "skipped": "-", "info": " ", "warning": "!"}


def _line(event: dict[str, Any], started: float) -> str:
    who = event.get("node") or "cluster"
    message = event.get("message") or ""
    status = event.get("status", "info")
    text = f"[{who}] {event.get('phase', '')}: {status}"
    if message and message != status and message != event.get("phase"):
        text += f" — {message}"
    return redact(f"{time.monotonic() - started:6.1f}s {text}")


@contextmanager
def progress(*, live: bool, debug: bool = False) -> Iterator[Emit]:
    """Yield an ``emit`` callback; ``live`` draws a rich table (TTY only)."""
    started = time.monotonic()
    if not live or not sys.stderr.isatty():

        def emit_line(event: dict[str, Any]) -> None:
            if event.get("status") != "info" or debug:
                click.echo(_line(event, started), err=True)

        yield emit_line
        return
    from rich.console import Console
    from rich.live import Live
    from rich.table import Table

    rows: dict[str, dict[str, str]] = {}
    phases: list[str] = []

    def render() -> Table:
        table = Table(title=f"elapsed {time.monotonic() - started:.1f}s", header_style="bold")
        table.add_column("node")
        for phase in phases:
            table.add_column(phase)
        for node, states in sorted(rows.items()):
            table.add_row(node, *(states.get(p, "") for p in phases))
        return table

    with Live(render(), console=Console(stderr=True), refresh_per_second=8) as view:

        def emit_live(event: dict[str, Any]) -> None:
            phase = str(event.get("phase", ""))
            if phase and phase not in phases:
                phases.append(phase)
            node = str(event.get("node") or "(cluster)")
            status = str(event.get("status", "info"))
            if status == "warning":  # a line above the table: a cell would hide the message
                view.console.print(_line(event, started))
            elif status != "info":
                rows.setdefault(node, {})[phase] = f"{SYMBOLS.get(status, '')} {status}"
            view.update(render())

        yield emit_live
