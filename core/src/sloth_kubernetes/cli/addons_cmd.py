"""``addons list NAME [-f FILE]``: the add-on objects a cluster wants vs those recorded as
applied."""

from __future__ import annotations

import click

from .. import api
from ..api import addons as api_addons
from .common import files_option, manager, state_store
from .output import chosen_format, emit_data, output_option, table


def register(cli: click.Group) -> None:
    cli.add_command(addons)


@click.group()
def addons() -> None:
    """Look at a cluster's CNI, storage and add-ons."""


@addons.command("list")
@click.argument("name")
@files_option(
    required=False,
    help="Compare this config (a new spec) instead of the one last applied; repeat to overlay.",
)
@output_option
def list_(name: str, files: tuple[str, ...], output: str | None) -> None:
    """Per component and object of cluster NAME: desired vs recorded digest, and whether it is
    in sync, changed, missing (not applied yet) or removed (no longer desired)."""
    with state_store() as store:
        config = api.load(files, manager=manager()) if files else None
        report = api_addons.addons_list(store, name, config, manager=manager())
    fmt = chosen_format(output)
    if fmt != "table":
        emit_data(report.to_data(), fmt)
        return
    distribution = report.distribution
    if distribution and not distribution["installed"]:
        click.echo(
            f"{distribution['name'] or 'the distribution'} is not installed on {name} "
            f"({distribution['detail']}): no add-on is applied"
        )
    if not report.components:
        click.echo(f"cluster {name!r} has no add-ons (desired or recorded)")
        return
    rows = [
        [o.component, o.key, o.status, o.desired_sha256[:12] or "-", o.recorded_sha256[:12] or "-"]
        for component in report.components
        for o in component.objects
    ]
    table(
        f"add-ons of {name} ({report.source})",
        ["COMPONENT", "OBJECT", "STATUS", "DESIRED", "RECORDED"],
        rows,
    )
    for component in report.components:
        click.echo(f"{component.component}: {component.status}")
