"""Address allocation for mesh pools: stable per owner, unique per (cluster, pool).

Released addresses are kept as tombstones so that (a) an owner that comes back gets its old
address when it is still free, and (b) a freed address is handed to someone else only after every
never-used address of the range is gone — a removed node's address lingers in peers' caches and
firewall rules for a while, so reusing it late is the safer choice.
"""

from __future__ import annotations

import ipaddress

from sloth_kubernetes.errors import StateError
from sloth_kubernetes.state.db import Tx
from sloth_kubernetes.state.util import utc_now

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_cidr(cidr: str) -> Network:
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError as error:
        raise StateError(
            f"{cidr!r} is not a valid CIDR", hint="write it as e.g. 10.8.0.0/16 or fd00:8::/64"
        ) from error


def _inside(address: str, network: Network) -> bool:
    return ipaddress.ip_address(address) in network


def allocate(tx: Tx, cluster: str, pool: str, owner: str, cidr: str) -> str:
    """The owner's address in ``cidr``, allocating the next suitable one if it has none."""
    network = parse_cidr(cidr)
    rows = tx.query(
        "SELECT owner, address, released_at FROM allocations WHERE cluster = ? AND pool = ?",
        (cluster, pool),
    )
    active = {address for _, address, released in rows if released is None}
    mine = next((row for row in rows if row[0] == owner), None)
    if mine is not None and mine[2] is None:
        if not _inside(mine[1], network):
            raise StateError(
                f"{owner!r} holds {mine[1]} in pool {pool!r} of cluster {cluster!r}, which is "
                f"outside {network}",
                hint="the pool's CIDR changed; release the old addresses first "
                "(or keep the previous CIDR)",
            )
        return str(mine[1])
    address: str | None = None
    if mine is not None and mine[1] not in active and _inside(mine[1], network):
        address = str(mine[1])  # the owner comes back: same address as before
    if address is None:
        address = _first_never_used(network, {row[1] for row in rows})
    if address is None:
        released = sorted(
            (row[2], row[1])
            for row in rows
            if row[2] is not None and row[1] not in active and _inside(row[1], network)
        )
        address = released[0][1] if released else None
    if address is None:
        raise StateError(
            f"address pool {pool!r} of cluster {cluster!r} ({network}) is full: "
            f"{len(active)} addresses allocated",
            hint="remove nodes that are gone (their addresses are released) or use a larger CIDR",
        )
    tx.execute(
        "INSERT INTO allocations (cluster, pool, owner, address, allocated_at, released_at) "
        "VALUES (?, ?, ?, ?, ?, NULL) ON CONFLICT (cluster, pool, owner) DO UPDATE SET "
        "address = excluded.address, allocated_at = excluded.allocated_at, released_at = NULL",
        (cluster, pool, owner, address, utc_now()),
    )
    return address


def _first_never_used(network: Network, used: set[str]) -> str | None:
    # Walks at most len(used) + 1 addresses, so large ranges (IPv6 /64) cost nothing.
    for host in network.hosts():
        text = str(host)
        if text not in used:
            return text
    return None


def release(tx: Tx, cluster: str, pool: str, owner: str) -> bool:
    """Mark the owner's address free; True if it had one."""
    changed = tx.execute(
        "UPDATE allocations SET released_at = ? WHERE cluster = ? AND pool = ? AND owner = ? "
        "AND released_at IS NULL",
        (utc_now(), cluster, pool, owner),
    )
    return changed > 0


def allocations(tx: Tx, cluster: str, pool: str) -> dict[str, str]:
    rows = tx.query(
        "SELECT owner, address FROM allocations WHERE cluster = ? AND pool = ? "
        "AND released_at IS NULL ORDER BY owner",
        (cluster, pool),
    )
    return {str(owner): str(address) for owner, address in rows}
