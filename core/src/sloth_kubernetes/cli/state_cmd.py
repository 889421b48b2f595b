"""``state``: inspect, export/import, migrate, unlock and re-key the state store."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from ..errors import UsageError
from .common import app_state, state_store
from .output import chosen_format, console, emit_data, output_option


def register(cli: click.Group) -> None:
    cli.add_command(state)


def when(timestamp: str | None) -> str:
    """``2026-01-02 03:04:05Z`` from a stored ISO timestamp (for tables; JSON keeps it whole)."""
    return f"{timestamp[:19].replace('T', ' ')}Z" if timestamp else "-"


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A rich table whose long cells wrap instead of being cut off with an ellipsis."""
    from rich.table import Table

    view = Table(title=title, header_style="bold")
    for column in columns:
        view.add_column(column, overflow="fold")
    for row in rows:
        view.add_row(*(str(cell) for cell in row))
    console().print(view)


def holder(lock: dict[str, Any] | None) -> str:
    """``alice@host1 pid 123 (up)``: a lock's holder, short enough for a table cell."""
    return (
        "-"
        if lock is None
        else f"{lock['user']}@{lock['host']} pid {lock['pid']} ({lock['command']})"
    )


def limit_option(func: Any) -> Any:
    from ..api.state import DEFAULT_LIMIT

    return click.option(
        "--limit",
        type=click.IntRange(min=0),
        default=DEFAULT_LIMIT,
        show_default=True,
        help="Show at most N entries (0: all).",
    )(func)


@click.group()
def state() -> None:
    """The state store: what sloth-kubernetes knows about your clusters (docs/state.md)."""


@state.command("list", short_help="Clusters, their last operation and lock.")
@output_option
def list_(output: str | None) -> None:
    """List clusters: nodes, last operation and its outcome, last update, lock holder."""
    from ..api import state as api_state

    with state_store(readonly=True) as store:
        clusters = api_state.list_clusters(store)
        where = store.describe()
    fmt = chosen_format(output)
    if fmt != "table":
        emit_data(clusters, fmt)
        return
    if not clusters:
        click.echo(f"No clusters in {where}.")
        return
    rows = []
    for c in clusters:
        op = c["last_operation"]
        last, outcome = ("-", "-") if op is None else (op["command"], op["outcome"] or "running")
        rows.append(
            (c["name"], c["nodes"], last, outcome, when(c["updated_at"]), holder(c["lock"]))
        )
    table(None, ["cluster", "nodes", "last operation", "outcome", "updated", "locked by"], rows)


@state.command(short_help="One cluster: nodes, secret names, allocations.")
@click.argument("name")
@output_option
def show(name: str, output: str | None) -> None:
    """Show one cluster: its applied spec and hash, nodes, secret names (never values),
    address allocations, manifests and lock."""
    from ..api import state as api_state

    with state_store(readonly=True) as store:
        data = api_state.show_cluster(store, name)
    fmt = chosen_format(output)
    if fmt != "table":
        emit_data(data, fmt)
        return
    out = console()
    record, lock = data["cluster"], data["lock"]
    out.print(f"Cluster [bold]{name}[/bold] in {data['store']}", markup=True, highlight=False)
    if record is None:
        out.print("  no applied spec recorded yet (only node/step rows)", markup=False)
    else:
        protect = "  protected (destroy needs --force)" if record["protect"] else ""
        out.print(f"  spec sha256 {record['spec_hash']}{protect}", markup=False)
        out.print(
            f"  created {when(record['created_at'])}, updated {when(record['updated_at'])}",
            markup=False,
        )
    out.print(f"  lock: {lock['holder'] if lock else 'not locked'}", markup=False)
    # One block per node rather than a wide table: nothing gets truncated on 80 columns.
    out.print(f"nodes ({len(data['nodes'])}):", markup=False)
    for n in data["nodes"]:
        cloud = f", cloud id {n['cloud_id']}" if n["cloud_id"] else ""
        out.print(
            f"  {n['name']}  {','.join(n['roles']) or '-'}  (pool {n['pool'] or '-'}, "
            f"{n['provider'] or '-'}{cloud})",
            markup=False,
        )
        out.print(
            f"    addresses: public {n['public_address'] or '-'}, private "
            f"{n['private_address'] or '-'}, mesh {n['mesh_address'] or '-'}; ssh as "
            f"{n['ssh_user']}, port {n['ssh_port']}",
            markup=False,
        )
        out.print(f"    host key: {n['host_key_fingerprint'] or 'not pinned yet'}", markup=False)
        phases = ", ".join(f"{k}={v}" for k, v in sorted(n["phases"].items()))
        out.print(f"    phases: {phases or '-'}", markup=False)
    if data["allocations"]:
        table(
            "address allocations",
            ["pool", "owner", "address", "state"],
            [
                (a["pool"], a["owner"], a["address"], "released" if a["released_at"] else "held")
                for a in data["allocations"]
            ],
        )
    secrets = ", ".join(data["secrets"]) or "none"
    out.print(f"secrets (names only; values are encrypted): {secrets}", markup=False)
    if data["manifests"]:
        out.print(f"manifests: {len(data['manifests'])} recorded", markup=False)


@state.command(short_help="Operations and the last run's journal.")
@click.argument("name")
@limit_option
@output_option
def history(name: str, limit: int, output: str | None) -> None:
    """Show the cluster's operations (newest first) and the journal of its last run."""
    from ..api import state as api_state

    with state_store(readonly=True) as store:
        data = api_state.cluster_history(store, name, limit)
    fmt = chosen_format(output)
    if fmt != "table":
        emit_data(data, fmt)
        return
    table(
        f"operations of {name}",
        ["#", "command", "user", "host", "started", "ended", "outcome"],
        [
            (
                op["id"], op["command"], op["user"], op["host"], when(op["started_at"]),
                when(op["ended_at"]), op["outcome"] or "running",
            )
            for op in data["operations"]
        ],
    )  # fmt: skip
    run = data["last_run"]
    if run is None:
        click.echo("No run journal recorded.")
        return
    table(
        f"journal of the last run ({run['run_id']})",
        ["time", "phase", "node", "step", "status", "detail"],
        [
            (when(e["ts"]), e["phase"], e["node"] or "-", e["step"], e["status"], e["detail"])
            for e in run["journal"]
        ],
    )


@state.command(short_help="Write a cluster to a file (secrets encrypted).")
@click.argument("name")
@click.option(
    "-o",
    "--output",
    "path",
    required=True,
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (created 0600).",
)
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
def export(name: str, path: Path, force: bool) -> None:
    """Export one cluster as JSON; its secrets stay encrypted (import needs the same key or
    passphrase). Audited."""
    from ..api import state as api_state

    with state_store() as store:
        done = api_state.export_cluster(store, name, path, force=force)
    key = f", encrypted with key {done.key_fingerprint}" if done.key_fingerprint else ""
    click.echo(
        f"exported cluster {name!r} to {path} ({done.nodes} nodes, {done.secrets} secrets{key})"
    )


@state.command("import", short_help="Load a cluster from an export file.")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Replace the cluster if the state already has it.")
def import_(file: Path, replace: bool) -> None:
    """Import a cluster from a `state export` file, under the cluster's lock. Audited."""
    from ..api import state as api_state

    with state_store() as store:
        done = api_state.import_cluster(store, file, replace=replace)
        where = store.describe()
    verb = "replaced" if done.replaced else "imported"
    click.echo(
        f"{verb} cluster {done.cluster!r} in {where} from {file} "
        f"({done.nodes} nodes, {done.secrets} secrets)"
    )


def _passphrase_from(variable: str) -> str:
    """The passphrase in the environment variable the user named (never from argv)."""
    from ..secrets import register

    value = os.environ.get(variable, "")
    if not value:
        raise UsageError(
            f"the environment variable {variable} is not set or empty",
            hint=f"export {variable} with the passphrase first (e.g. `read -rs {variable}; "
            f"export {variable}`); it is read from the environment so it never appears in "
            "your shell history or the process list",
        )
    register(value)
    return value


@state.command(short_help="Copy the whole store to another (empty) one.")
@click.option("--to", "target_url", required=True, metavar="URL", help="The empty target store.")
@click.option(
    "--passphrase-env",
    metavar="VAR",
    help="Environment variable holding the target's passphrase (default: SLOTH_STATE_PASSPHRASE).",
)
def migrate(target_url: str, passphrase_env: str | None) -> None:
    """Copy every cluster, secret and the whole audit log into another (empty) store,
    e.g. from the SQLite file to the team's PostgreSQL. Secrets are re-encrypted with the
    target's key. The source is left as it was."""
    from ..api import state as api_state

    passphrase = _passphrase_from(passphrase_env) if passphrase_env else None
    with state_store() as store:
        moved = api_state.migrate_state(store, target_url, target_passphrase=passphrase)
    click.echo(f"migrated {len(moved.clusters)} cluster(s) from {moved.source} to {moved.target}:")
    for name, counts in moved.clusters.items():
        click.echo(f"  {name}: {counts['nodes']} nodes, {counts['secrets']} secrets")
    verdict = "chain verified" if not moved.audit_problems else "CHAIN BROKEN"
    click.echo(f"  audit log: {moved.audit_entries} entries ({verdict})")
    for problem in moved.audit_problems:
        click.echo(f"    {problem}")
    click.echo(f"Use it with --state {moved.target} (or SLOTH_STATE).")


@state.command(short_help="Break a cluster's lock (--force).")
@click.argument("name")
@click.option("--force", is_flag=True, help="Break the lock whoever holds it.")
def unlock(name: str, force: bool) -> None:
    """Break a cluster's lock left by a command that died (its machine, say). Without --force,
    only explains who holds it. Audited."""
    from ..api import state as api_state

    with state_store() as store:
        held = api_state.unlock_cluster(store, name, force=force)
    if held is None:
        click.echo(f"cluster {name!r} is not locked")
    else:
        click.echo(f"removed the lock of cluster {name!r} held by {held.describe()}")


@state.command(short_help="Re-encrypt every secret with a new key.")
@click.option(
    "--passphrase-env",
    metavar="VAR",
    help="Re-key with a passphrase read from environment variable VAR.",
)
@click.option("--key-file", is_flag=True, help="Re-key with a new generated key file (SQLite).")
@click.option("--yes", "-y", "assume_yes", is_flag=True, help="Do not ask for confirmation.")
def rekey(passphrase_env: str | None, key_file: bool, assume_yes: bool) -> None:
    """Re-encrypt every secret with a new key: from a new passphrase (named by environment
    variable, never on the command line) or a freshly generated key file. The current key must
    still work (SLOTH_STATE_PASSPHRASE or the key file). Holds every cluster's lock; audited."""
    from ..api import state as api_state

    if bool(passphrase_env) == key_file:
        raise UsageError(
            "choose the new key: --passphrase-env VAR or --key-file",
            hint="e.g. `read -rs NEW_PASS; export NEW_PASS; sloth-kubernetes state rekey "
            "--passphrase-env NEW_PASS`",
        )
    passphrase = _passphrase_from(passphrase_env) if passphrase_env else None
    with state_store() as store:
        api_state.check_current_key(store)
        before = api_state.key_status(store)
        target = f"a key from ${passphrase_env}" if passphrase_env else "a new key file"
        question = f"Re-encrypt {before.secrets} secret(s) in {store.describe()} with {target}?"
        if not (assume_yes or app_state().yes):
            click.confirm(question, abort=True, err=True)
        after = api_state.rekey_state(store, passphrase)
    click.echo(
        f"re-encrypted {after.secrets} secret(s); key {before.fingerprint or '-'} -> "
        f"{after.fingerprint}"
    )
    if passphrase_env:
        click.echo(
            f"From now on set SLOTH_STATE_PASSPHRASE to the passphrase in ${passphrase_env}."
        )
    else:
        click.echo(f"New key file: {after.key_file} — back it up together with the database.")
