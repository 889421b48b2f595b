"""``render -f FILE --out DIR``: what every node would receive, written for review; no machine
is touched and secrets are replaced by a marker."""

from __future__ import annotations

from pathlib import Path

import click

from .. import api
from ..api import distro as api_distro
from .common import app_state, config_files_option, manager


def register(cli: click.Group) -> None:
    cli.add_command(render)


@click.command()
@config_files_option
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write into: nodes/<node>/<path> and manifests/<path>.",
)
def render(files: tuple[str, ...], out: Path) -> None:
    """Write each node's distro config, systemd units and drop-ins, and the manifests, to DIR."""
    config = api.load(files, manager=manager())
    with api_distro.state_if_present(app_state().state_url) as store:
        written = api_distro.render(config, out, store=store, manager=manager())
    nodes = {p.relative_to(out).parts[1] for p in written if p.relative_to(out).parts[0] == "nodes"}
    click.echo(f"wrote {len(written)} files for {len(nodes)} nodes under {out}")
