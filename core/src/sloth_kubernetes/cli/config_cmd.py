"""``config``: validate, show, schema, templates, init."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from .. import api
from ..errors import UsageError
from .common import config_files_option, manager
from .output import chosen_format, emit_data, output_option, table


def register(cli: click.Group) -> None:
    cli.add_command(config)


@click.group()
def config() -> None:
    """Write, check and inspect cluster configs."""


@config.command()
@config_files_option
def validate(files: tuple[str, ...]) -> None:
    """Validate config files; every problem is listed as FILE:LINE:COL: key: what (hint)."""
    cfg = api.load(files, manager=manager())
    pools = cfg.spec.node_pools
    click.echo(
        f"{', '.join(files)}: valid — cluster {cfg.name!r}, {len(pools)} pool(s), "
        f"{sum(p.count for p in pools)} node(s)"
    )


@config.command()
@config_files_option
@output_option
def show(files: tuple[str, ...], output: str | None) -> None:
    """Print the effective config: overlays merged, defaults filled in, secrets masked."""
    data = api.show(api.load(files, manager=manager()))
    fmt = chosen_format(output)
    emit_data(data, "yaml" if fmt == "table" else fmt)


@config.command()
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Write to FILE.")
def schema(out: str | None) -> None:
    """Print the JSON Schema (2020-12) of the config, installed plugins' blocks included."""
    text = json.dumps(api.schema(manager=manager()), indent=2) + "\n"
    if out:
        Path(out).write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}", err=True)
    else:
        click.echo(text, nl=False)


@config.command()
@output_option
def templates(output: str | None) -> None:
    """List the templates `config init --template` can write."""
    items = api.templates()
    fmt = chosen_format(output)
    if fmt == "table":
        table(None, ["template", "description"], [(t.name, t.description) for t in items])
    else:
        emit_data([{"name": t.name, "description": t.description} for t in items], fmt)


@config.command()
@click.option("--template", "template", metavar="NAME", help="Start from this template.")
@click.option("--interactive", "-i", is_flag=True, help="Ask a few questions (sane defaults).")
@click.option(
    "-o",
    "--output",
    "out",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Write to FILE (refuses to overwrite) instead of stdout.",
)
def init(template: str | None, interactive: bool, out: str | None) -> None:
    """Write a new cluster config from a template or a short wizard."""
    if bool(template) == interactive:
        raise UsageError(
            "choose one of --template NAME or --interactive",
            hint="`sloth-kubernetes config templates` lists the templates",
        )
    text = api.template_text(template) if template else _wizard()
    if out:
        path = Path(out)
        if path.exists():
            raise UsageError(f"{out} already exists", hint="choose another name or delete it")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        click.echo(f"wrote {out}; next: sloth-kubernetes plan -f {out}", err=True)
    else:
        click.echo(text, nl=False)


def _wizard() -> str:
    catalog = manager().hooks.catalog()
    providers = catalog.names("provider") or ["local"]
    distros = catalog.names("distro") or ["k3s"]
    name = click.prompt("Cluster name", default="demo", err=True)
    provider = click.prompt(
        "Provider",
        type=click.Choice(providers),
        default="local" if "local" in providers else providers[0],
        err=True,
    )
    servers = click.prompt(
        "Servers (1, 3 or 5 for HA)", type=click.Choice(["1", "3", "5"]), default="1", err=True
    )
    agents = click.prompt("Agents", type=click.IntRange(0, 1000), default=2, err=True)
    distribution = click.prompt(
        "Distribution",
        type=click.Choice(distros),
        default="k3s" if "k3s" in distros else distros[0],
        err=True,
    )
    return api.wizard_config(api.WizardAnswers(name, provider, int(servers), agents, distribution))
