"""``kubeconfig NAME [-o FILE] [--merge]``: the cluster's admin kubeconfig, written 0600."""

from __future__ import annotations

from pathlib import Path

import click

from ..api import distro as api_distro
from .common import state_store


def register(cli: click.Group) -> None:
    cli.add_command(kubeconfig)


@click.command()
@click.argument("name")
@click.option(
    "-o",
    "--output-file",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here (0600). Default: ./NAME.kubeconfig, or with --merge ~/.kube/config.",
)
@click.option(
    "--merge",
    is_flag=True,
    help="Add the cluster's context (named NAME) to the kubeconfig; other contexts are kept.",
)
def kubeconfig(name: str, output: Path | None, merge: bool) -> None:
    """Write the admin kubeconfig of cluster NAME (kept encrypted in the state store)."""
    with state_store(readonly=True) as store:
        result = api_distro.write_kubeconfig(store, name, output=output, merge=merge)
    action = "merged context" if result.merged else "wrote kubeconfig for"
    click.echo(f"{action} {result.context!r} into {result.path} (server {result.server})")
    if result.merged:
        click.echo(f"use it: kubectl --context {result.context} get nodes", err=True)
    else:
        click.echo(f"use it: KUBECONFIG={result.path} kubectl get nodes", err=True)
