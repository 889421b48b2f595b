"""``vpn join|leave|list``: operator devices (laptops, phones) as peers of the node mesh."""

from __future__ import annotations

from pathlib import Path

import click

from ..api import mesh as api_mesh
from ..errors import SlothError
from ..secrets import Secret
from .common import manager, state_store
from .output import chosen_format, emit_data, output_option, table


def register(cli: click.Group) -> None:
    cli.add_command(vpn)


@click.group()
def vpn() -> None:
    """Give operator devices access to the cluster's mesh (each its own key and address)."""


@vpn.command()
@click.argument("name")
@click.option("--peer", required=True, help="Device name, e.g. laptop or alice-phone.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the device's WireGuard config (0600). Default: ./NAME-PEER.conf",
)
@click.option("--qr", is_flag=True, help="Also print the config as a QR code (mobile apps).")
def join(name: str, peer: str, out: Path | None, qr: bool) -> None:
    """Add device PEER to cluster NAME's mesh: its key is generated here and written only to
    the output file; its address comes from spec.mesh.clientCidr; other peers are untouched."""
    with state_store() as store:
        joined, path = api_mesh.vpn_join(store, name, peer, out=out, manager=manager())
    click.echo(
        f"peer {joined.peer.name} joined {name} with address {joined.peer.address}; "
        f"config written to {path} (0600)"
    )
    if joined.pending_nodes:
        click.echo(
            "not reachable now (they get the peer on the next `up`): "
            + ", ".join(joined.pending_nodes),
            err=True,
        )
    if qr:
        click.echo(qr_text(joined.config))
    click.echo(f"bring it up with: wg-quick up {path}")


@vpn.command()
@click.argument("name")
@click.option("--peer", required=True, help="Device name given to `vpn join`.")
def leave(name: str, peer: str) -> None:
    """Remove device PEER from every node of cluster NAME and free its address."""
    with state_store() as store:
        gone = api_mesh.vpn_leave(store, name, peer, manager=manager())
    click.echo(f"peer {gone.name} ({gone.address}) removed from {name}")


@vpn.command("list")
@click.argument("name")
@output_option
def list_(name: str, output: str | None) -> None:
    """List the devices that joined cluster NAME's mesh."""
    with state_store() as store:
        peers = api_mesh.vpn_list(store, name, manager=manager())
    data = [
        {"name": p.name, "address": p.address, "publicKey": p.public_key, "created": p.created}
        for p in peers
    ]
    fmt = chosen_format(output)
    if fmt != "table":
        emit_data(data, fmt)
        return
    rows = [[d["name"], d["address"], d["publicKey"], d["created"]] for d in data]
    table(f"vpn peers of {name}", ["PEER", "ADDRESS", "PUBLIC KEY", "JOINED"], rows)


def qr_text(content: Secret) -> str:
    """The config as a QR code drawn with text blocks (for a phone's WireGuard app)."""
    try:
        import segno
    except ImportError:
        raise SlothError(
            "--qr needs the `segno` package", hint="pip install 'sloth-kubernetes[qr]' (or segno)"
        ) from None
    import io

    buffer = io.StringIO()
    segno.make(content.reveal(), error="l").terminal(out=buffer, compact=True)
    return buffer.getvalue()
