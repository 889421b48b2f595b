"""``up``, ``destroy`` and ``status``: the mutating commands and the view of what exists."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from .. import api
from ..errors import SlothError
from .common import app_state, files_option, manager, state_store, yes_option
from .output import chosen_format, console, emit_data, output_option, table
from .progress import progress

if TYPE_CHECKING:
    from ..engine.run import UpResult

PHASE_CHOICE = click.Choice(
    ["provision", "connect", "prepare", "mesh", "distro", "addons", "verify"]
)


def register(cli: click.Group) -> None:
    cli.add_command(up)
    cli.add_command(destroy)
    cli.add_command(status)


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    return click.confirm(question, default=False, err=True)


@click.command()
@files_option(required=False, help="Cluster config; repeat to overlay.")
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False, exists=True),
    help="Apply exactly this saved plan (refused if the state changed since).",
)
@click.option("--dry-run", is_flag=True, help="Show what would happen; change nothing.")
@click.option("--until", type=PHASE_CHOICE, help="Stop after this phase.")
@click.option("--only", type=PHASE_CHOICE, help="Run only this phase.")
@click.option("--no-progress", is_flag=True, help="Plain progress lines even on a terminal.")
@click.option("--no-refresh", is_flag=True, help="Trust the state; skip the providers' inventory.")
@click.option(
    "--parallel",
    type=click.IntRange(1, 256),
    default=16,
    show_default=True,
    help="Concurrent machine operations per provider.",
)
@click.option(
    "--max-parallel",
    type=click.IntRange(1, 1024),
    default=64,
    show_default=True,
    help="Concurrent operations in all: providers together, and SSH sessions.",
)
@click.option(
    "--trust-new-host-keys",
    is_flag=True,
    help="Record unknown SSH host keys on first use (audited).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Remove servers even if etcd would drop below its quorum or to an even count.",
)
@yes_option
@output_option
def up(
    files: tuple[str, ...],
    plan_file: str | None,
    dry_run: bool,
    until: str | None,
    only: str | None,
    no_progress: bool,
    no_refresh: bool,
    parallel: int,
    max_parallel: int,
    trust_new_host_keys: bool,
    force: bool,
    output: str | None,
) -> None:
    """Create the cluster, or bring it back to its spec; resumes an interrupted run."""
    state = app_state()
    saved = None
    if plan_file:
        config, saved = api.load_plan(plan_file, manager=manager())
    elif files:
        config = api.load(files, manager=manager())
    else:
        raise click.UsageError("give the config with -f FILE, or a saved plan with --plan")
    options = api.UpOptions(
        yes=state.yes,
        dry_run=dry_run,
        until=until,
        only=only,
        refresh=not no_refresh,
        trust_new_host_keys=trust_new_host_keys,
        parallel=parallel,
        max_parallel=max_parallel,
        force=force,
    )
    with progress(live=not no_progress, debug=state.debug) as emit, state_store() as store:
        result = api.up(
            config,
            store,
            options,
            manager=manager(),
            emit=emit,
            confirm=_confirm,
            saved_plan=saved,
        )
    fmt = chosen_format(output)
    if fmt != "table":
        emit_data(result.to_data(), fmt)
    else:
        _summary(result)
    if result.failures:
        first = result.failures[0]
        raise SlothError(
            f"{len(result.failures)} step(s) failed (first: {first.node or 'cluster'} in "
            f"{first.phase}: {first.message})",
            hint=first.hint or "fix the cause and run `up` again: it resumes where it stopped",
        )
    if result.blocked:
        blocked = result.blocked[0]
        raise SlothError(
            f"phase {blocked.phase} could not run: {blocked.detail}",
            hint="run `up` without --only/--until, or fix what it builds on first",
        )


def _summary(result: UpResult) -> None:
    out = console()
    quiet = not (result.changed or result.repaired or result.failures or result.blocked)
    if not result.plan.has_changes and quiet:
        checked = [o.phase for o in result.outcomes if "checked live" in o.detail]
        how = f" (checked live: {', '.join(checked)})" if checked else ""
        out.print(f"Cluster [bold]{result.cluster}[/bold] is up to date: no changes{how}.")
        return
    if not result.phases:
        out.print(f"Dry run for [bold]{result.cluster}[/bold]: {result.plan.counts()}")
        for action in result.plan.actions:
            out.print(f"  {action.kind} {action.target}  {action.detail}", markup=False)
        return
    counts = (
        ", ".join(f"{len(v)} {k}" for k, v in sorted(result.changed.items()))
        or "no machines changed"
    )
    out.print(f"Cluster [bold]{result.cluster}[/bold]: {counts} (run {result.run_id}).")
    for outcome in result.outcomes:
        detail = f" — {outcome.detail}" if outcome.detail else ""
        out.print(f"  {outcome.phase:<10} {outcome.status}{detail}", markup=False)
    for line in result.repaired:
        out.print(f"  repaired: {line}", markup=False)
    for failure in result.failures:
        out.print(
            f"  ✗ {failure.node or 'cluster'} ({failure.phase}): {failure.message}", markup=False
        )
        if failure.hint:
            out.print(f"    hint: {failure.hint}", markup=False)
    if result.api_retries:
        retried = ", ".join(f"{p}: {n}" for p, n in sorted(result.api_retries.items()))
        out.print(f"API requests retried (rate limits, throttling, 5xx): {retried}")
    if result.converged:
        out.print("Converged.")


@click.command()
@click.argument("name")
@click.option("--dry-run", is_flag=True, help="List what would be removed; change nothing.")
@click.option("--force", is_flag=True, help="Destroy even if metadata.protect is true.")
@click.option(
    "--lost-key",
    is_flag=True,
    help="The state's passphrase or key file is lost for good: destroy anyway and discard the "
    "cluster's encrypted secrets (recorded in the audit log).",
)
@yes_option
@output_option
def destroy(name: str, dry_run: bool, force: bool, lost_key: bool, output: str | None) -> None:
    """Remove every machine of cluster NAME, check nothing tagged remains, forget it.

    A wrong or unset SLOTH_STATE_PASSPHRASE is refused, as `up` refuses it.
    """
    state = app_state()
    with progress(live=False, debug=state.debug) as emit, state_store() as store:
        result = api.destroy(
            store,
            name,
            yes=state.yes,
            dry_run=dry_run,
            force=force,
            lost_key=lost_key,
            manager=manager(),
            confirm=_confirm,
            emit=emit,
        )
    fmt = chosen_format(output)
    if fmt != "table":
        emit_data(result.to_data(), fmt)
        return
    verb = "would remove" if result.dry_run else "removed"
    click.echo(
        f"{name}: {verb} {len(result.removed)} machine(s): {', '.join(result.removed) or '-'}"
    )


@click.command()
@click.argument("name", required=False)
@output_option
def status(name: str | None, output: str | None) -> None:
    """Nodes, roles, provider, addresses, per-phase state and the last operation."""
    with state_store(readonly=True) as store:
        clusters = api.status(store, name)
    fmt = chosen_format(output)
    if fmt != "table":
        emit_data(clusters if name is None else clusters[0], fmt)
        return
    if not clusters:
        click.echo("No clusters in the state. Create one with `up -f FILE`.")
    for cluster in clusters:
        last = cluster["lastOperation"]
        click.echo(
            f"Cluster {cluster['name']}: "
            f"{'converged' if cluster['converged'] else 'not converged'}; last: "
            f"{(last['command'] + ' ' + str(last['outcome'])) if last else 'none'}"
        )
        distribution = cluster["distribution"]
        click.echo(
            f"Distribution {distribution['name'] or '?'}: "
            + (
                "installed"
                if distribution["installed"]
                else f"not installed ({distribution['detail']})"
            )
        )
        table(
            None,
            ["node", "roles", "provider", "public", "private", "mesh", "phases"],
            [
                (
                    n["name"],
                    ",".join(n["roles"]),
                    n["provider"],
                    n["publicAddress"] or "-",
                    n["privateAddress"] or "-",
                    n["meshAddress"] or "-",
                    " ".join(f"{k}:{v}" for k, v in sorted(n["phases"].items())) or "-",
                )
                for n in cluster["nodes"]
            ],
        )
