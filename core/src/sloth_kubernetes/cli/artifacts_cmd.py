"""``artifacts fetch|import|check``: the distribution's release files, checksum-verified."""

from __future__ import annotations

from pathlib import Path

import click

from .. import api
from ..api import distro as api_distro
from .common import config_files_option, manager
from .output import chosen_format, emit_data, output_option


def register(cli: click.Group) -> None:
    cli.add_command(artifacts)


@click.group()
def artifacts() -> None:
    """Fetch, import and check the release files the distro phase installs (air-gap support)."""


def _show(result: api_distro.ArtifactsResult, output: str | None, verb: str) -> None:
    fmt = chosen_format(output)
    data = {
        "distro": result.distro,
        "version": result.version,
        "arch": result.arch,
        "directory": str(result.directory),
        "files": list(result.files),
    }
    if fmt != "table":
        emit_data(data, fmt)
        return
    click.echo(
        f"{verb} {result.distro} {result.version} ({result.arch}): {', '.join(result.files)} "
        f"in {result.directory}"
    )


@artifacts.command()
@click.option("--distro", required=True, help="Distribution: k3s, rke2…")
@click.option("--version", "version", help="Release version (default: the plugin's pinned one).")
@click.option("--arch", default="amd64", show_default=True, type=click.Choice(["amd64", "arm64"]))
@click.option("--airgap", is_flag=True, help="Also fetch the container image bundle.")
@click.option("--mirror", help="Base URL serving the release files (default: official release).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write a bundle directory to carry to a machine without internet.",
)
@output_option
def fetch(
    distro: str,
    version: str | None,
    arch: str,
    airgap: bool,
    mirror: str | None,
    out: Path | None,
    output: str | None,
) -> None:
    """Download a release into the cache, verified against the release's SHA-256 file."""
    result = api_distro.artifacts_fetch(
        distro, version, arch=arch, airgap=airgap, mirror=mirror, out=out, manager=manager()
    )
    _show(result, output, "cached")
    if out is not None:
        click.echo(f"bundle written to {out}; on the target machine: artifacts import {out}")


@artifacts.command("import")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--distro", help="Distribution (default: from the bundle's manifest).")
@click.option("--version", "version", help="Version (default: from the bundle's manifest).")
@click.option("--arch", type=click.Choice(["amd64", "arm64"]), help="Default: from the manifest.")
@output_option
def import_(
    directory: Path,
    distro: str | None,
    version: str | None,
    arch: str | None,
    output: str | None,
) -> None:
    """Verify a bundle (release files + checksum file) and copy it into the cache."""
    result = api_distro.artifacts_import(
        directory, distro=distro, version=version, arch=arch, manager=manager()
    )
    _show(result, output, "imported")


@artifacts.command()
@config_files_option
@click.option("--arch", default="amd64", show_default=True, type=click.Choice(["amd64", "arm64"]))
@click.option("--offline", is_flag=True, help="Only look in the cache; never download.")
@output_option
def check(files: tuple[str, ...], arch: str, offline: bool, output: str | None) -> None:
    """Exit 0 when the release a config needs is cached (downloading it unless --offline)."""
    config = api.load(files, manager=manager())
    result = api_distro.artifacts_check(
        config, arch=arch, try_download=not offline, manager=manager()
    )
    _show(result, output, "available:")
