"""``audit``: read and verify the hash-chained audit log of the state store."""

from __future__ import annotations

import json

import attrs
import click

from ..errors import SlothError
from .common import state_store
from .output import chosen_format, emit_data, output_option
from .state_cmd import limit_option, table, when


def register(cli: click.Group) -> None:
    cli.add_command(audit)


@click.group()
def audit() -> None:
    """The audit log: who did what to which cluster, hash-chained (docs/state.md)."""


@audit.command("log", short_help="Audit entries, of one cluster or all.")
@click.argument("name", required=False)
@limit_option
@output_option
def log_(name: str | None, limit: int, output: str | None) -> None:
    """Show the newest audit entries (oldest first), of one cluster when NAME is given."""
    from ..api import state as api_state

    with state_store(readonly=True) as store:
        entries = api_state.audit_log(store, name, limit)
    fmt = chosen_format(output)
    if fmt != "table":
        emit_data([attrs.asdict(e) for e in entries], fmt)
        return
    if not entries:
        click.echo("The audit log is empty.")
        return
    table(
        None,
        ["seq", "time", "actor", "host", "command", "cluster", "outcome", "resources"],
        [
            (
                e.seq, when(e.ts), e.actor, e.host, e.command, e.cluster or "-", e.outcome,
                json.dumps(e.resources, sort_keys=True),
            )
            for e in entries
        ],
    )  # fmt: skip


@audit.command(short_help="Check the hash chain (exit 1 if broken).")
@output_option
def verify(output: str | None) -> None:
    """Check the hash chain: exit 0 when intact, 1 listing every modified or removed entry."""
    from ..api import state as api_state

    with state_store(readonly=True) as store:
        report = api_state.audit_verify(store)
        where = store.describe()
    fmt = chosen_format(output)
    if fmt != "table":
        emit_data(report.to_data(), fmt)
    elif report.intact:
        click.echo(f"audit log intact ({report.entries} entries)")
    if not report.intact:
        count = len(report.problems)
        raise SlothError(
            f"audit log of {where} damaged: {count} problem{'s' if count != 1 else ''} found:\n"
            + "\n".join(f"  {problem}" for problem in report.problems),
            hint="someone changed the state database outside sloth-kubernetes; compare with a "
            "backup or with a head hash recorded elsewhere (`audit verify -o json` shows it)",
        )
