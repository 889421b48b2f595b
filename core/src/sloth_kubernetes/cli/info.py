"""``version``, ``plugins`` and ``doctor``: what is installed and whether it can work."""

from __future__ import annotations

import platform

import attrs
import click

from .. import __version__, api
from ..errors import SlothError
from .common import app_state, files_option, manager
from .output import chosen_format, console, emit_data, output_option, table


def register(cli: click.Group) -> None:
    cli.add_command(version)
    cli.add_command(plugins)
    cli.add_command(doctor)


@click.command()
@output_option
def version(output: str | None) -> None:
    """Show the version of sloth-kubernetes and of its plugins."""
    infos = api.plugins(manager=manager())
    plugin_versions = {
        i.distribution: i.version for i in infos if i.distribution != "sloth-kubernetes"
    }
    data = {
        "version": __version__,
        "python": platform.python_version(),
        "plugins": plugin_versions,
    }
    fmt = chosen_format(output)
    if fmt == "table":
        click.echo(f"sloth-kubernetes {__version__} (Python {data['python']})")
        for name, plugin_version in sorted(plugin_versions.items()):
            click.echo(f"  {name} {plugin_version}")
        return
    emit_data(data, fmt)


@click.command()
@output_option
def plugins(output: str | None) -> None:
    """List loaded plugins: name, kind, distribution, version and the hooks they implement."""
    pm = manager()
    infos = api.plugins(manager=pm)
    fmt = chosen_format(output)
    external = [i for i in infos if i.distribution != "sloth-kubernetes"]
    if fmt != "table":
        emit_data(
            [
                {
                    "name": i.name,
                    "kind": ",".join(i.kinds),
                    "distribution": i.distribution,
                    "version": i.version,
                    "hooks": list(i.hooks),
                }
                for i in infos
            ],
            fmt,
        )
        return
    if not external:
        click.echo("No plugins are installed: only the core is available.")
        click.echo("Install some with: pip install 'sloth-kubernetes[all]' (or `make install`).")
    table(
        None,
        ["name", "kind", "distribution", "version", "hooks"],
        [(i.name, ",".join(i.kinds), i.distribution, i.version, ", ".join(i.hooks)) for i in infos],
    )


@click.command()
@files_option(required=False, help="Also check this config's credentials.")
@output_option
def doctor(files: tuple[str, ...], output: str | None) -> None:
    """Check the local environment: Python, ssh, plugins, credentials, state store.

    Exits 1 when any check FAILs. Credentials are checked for presence only; values are never
    printed.
    """
    config = api.load(files, manager=manager()) if files else None
    checks = api.doctor(config, state_url=app_state().state_url, manager=manager())
    fmt = chosen_format(output)
    if fmt != "table":
        emit_data([attrs.asdict(c) for c in checks], fmt)
    else:
        styles = {
            "ok": "[green]OK[/green]",
            "warn": "[yellow]WARN[/yellow]",
            "fail": "[red]FAIL[/red]",
        }
        from rich.table import Table

        view = Table(header_style="bold")
        for column in ("check", "status", "detail", "fix"):
            view.add_column(column)
        for check in checks:
            view.add_row(check.name, styles[check.status], check.detail, check.fix)
        console().print(view)
    failed = [c.name for c in checks if c.status == "fail"]
    if failed:
        raise SlothError(
            f"{len(failed)} check(s) failed: {', '.join(failed)}",
            hint="apply the fixes listed in the table",
        )
