"""Export/import of one cluster, and migration of a whole store to another backend.

An export is JSON-able: records as dicts, secrets still sealed (base64) together with the
fingerprint of their key (and the scrypt parameters when the key came from a passphrase, so the
same passphrase can open them in another store). Migration re-encrypts secrets with the target's
key and copies the audit log verbatim, hashes included, so the chain still verifies there.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import attrs

from sloth_kubernetes.errors import StateError
from sloth_kubernetes.state import audit, rows
from sloth_kubernetes.state.db import Tx
from sloth_kubernetes.state.keys import associated_data, derive_key, fingerprint, seal, unseal
from sloth_kubernetes.state.records import (
    ClusterRecord,
    JournalEntry,
    ManifestRecord,
    NodeRecord,
    OperationRecord,
)
from sloth_kubernetes.state.store import StateStore
from sloth_kubernetes.state.util import utc_now

FORMAT = "sloth-kubernetes-state-export"
FORMAT_VERSION = 1
Resealer = Callable[[str, str, bytes], bytes]


def _dump(store: StateStore, tx: Tx, name: str) -> dict[str, Any]:
    record = store.get_cluster(name)
    cluster = None if record is None else attrs.asdict(record)
    allocations = [
        {"pool": p, "owner": o, "address": a, "allocated_at": at, "released_at": rel}
        for p, o, a, at, rel in tx.query(
            "SELECT pool, owner, address, allocated_at, released_at FROM allocations "
            "WHERE cluster = ? ORDER BY pool, owner",
            (name,),
        )
    ]
    secrets = [
        {"name": n, "sealed": base64.b64encode(bytes(s)).decode("ascii"), "updated_at": u}
        for n, s, u in tx.query(
            "SELECT name, sealed, updated_at FROM secrets WHERE cluster = ? ORDER BY name",
            (name,),
        )
    ]
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "name": name,
        "cluster": cluster,
        "nodes": [attrs.asdict(n) for n in store.list_nodes(name)],
        "allocations": allocations,
        "secrets": {
            "key_fingerprint": store.keyring.fingerprint(tx) if secrets else None,
            "kdf": store.keyring.kdf(tx) if secrets else None,
            "items": secrets,
        },
        "journal": [
            {k: v for k, v in attrs.asdict(e).items() if k != "id"}
            for e in store.journal_entries(name)
        ],
        "operations": [
            {k: v for k, v in attrs.asdict(o).items() if k != "id"}
            for o in reversed(store.list_operations(name))
        ],
        "manifests": [attrs.asdict(m) for m in store.list_manifests(name)],
    }


def export_cluster(store: StateStore, name: str) -> dict[str, Any]:
    with store.read() as tx:
        data = _dump(store, tx, name)
        data["audit"] = [attrs.asdict(e) for e in audit.entries(tx, name)]
    if (
        data["cluster"] is None
        and not any(data[k] for k in ("nodes", "allocations", "journal", "operations", "manifests"))
        and not data["secrets"]["items"]
    ):
        raise StateError(
            f"there is no cluster {name!r} in {store.describe()}",
            hint="`sloth-kubernetes state list` shows the clusters it holds",
        )
    data["exported_at"] = utc_now()
    data["source"] = store.describe()
    return data


#: The keys an export has (``export_cluster``), at the top and in its secrets section: a key
#: that is not one of them is refused, never skipped — a misspelled ``secrets`` or ``items``
#: would otherwise import the cluster without its secrets.
EXPORT_KEYS = (
    "format", "version", "name", "cluster", "nodes", "allocations", "secrets", "journal",
    "operations", "manifests", "audit", "exported_at", "source",
)  # fmt: skip
SECRETS_KEYS = ("key_fingerprint", "kdf", "items")
SECRET_ITEM_KEYS = ("name", "sealed", "updated_at")


def _check_keys(data: dict[str, Any]) -> None:
    """Every key of the export is one it can have, and every secret has all of its own;
    the error names the key (never a value: the sealed secrets stay out of messages)."""
    from ..config.problem import did_you_mean

    def refuse(where: str, key: str, known: tuple[str, ...], what: str) -> StateError:
        hint = did_you_mean(key, list(known)) or f"known keys here: {', '.join(known)}"
        return StateError(
            f"{what} {where}{key!r} in the cluster export ({hint})",
            hint="fix the key, or export the cluster again from its source state",
        )

    for key in data:
        if key not in EXPORT_KEYS:
            raise refuse("", str(key), EXPORT_KEYS, "unknown key")
    section = data.get("secrets")
    if section is None:
        return
    if not isinstance(section, dict):
        raise StateError(
            "'secrets' in the cluster export is not a mapping",
            hint="export the cluster again from its source state",
        )
    for key in section:
        if key not in SECRETS_KEYS:
            raise refuse("secrets.", str(key), SECRETS_KEYS, "unknown key")
    for index, item in enumerate(section.get("items") or []):
        if not isinstance(item, dict):
            raise StateError(
                f"secrets.items[{index}] in the cluster export is not a mapping",
                hint="export the cluster again from its source state",
            )
        where = f"secrets.items[{index}]."
        for key in item:
            if key not in SECRET_ITEM_KEYS:
                raise refuse(where, str(key), SECRET_ITEM_KEYS, "unknown key")
        for key in SECRET_ITEM_KEYS:
            if key not in item:
                raise StateError(
                    f"{where}{key} is missing in the cluster export",
                    hint="fix the key, or export the cluster again from its source state",
                )


def _resealer_for(store: StateStore, data: dict[str, Any]) -> Resealer | None:
    """How to turn the export's sealed secrets into ones sealed with ``store``'s key."""
    section = data.get("secrets") or {}
    if not section.get("items"):
        return None
    target_key = store.keyring.key()
    source_fp = section.get("key_fingerprint")
    passphrase = store.keyring.passphrase()
    kdf = section.get("kdf")
    source_key = (
        target_key
        if source_fp == fingerprint(target_key)
        else derive_key(passphrase, kdf)
        if passphrase and kdf
        else None
    )
    if source_key is not None and fingerprint(source_key) == source_fp:

        def reseal(cluster: str, name: str, sealed: bytes) -> bytes:
            # opened even under the same key: an altered secret is refused here, not found
            # broken by the next command that needs it
            ad = associated_data(cluster, name)
            plaintext = unseal(source_key, sealed, ad)
            if plaintext is None:
                raise StateError(
                    f"secret {name!r} in the export does not decrypt: the file was altered",
                    hint="export the cluster again from its source state",
                )
            return sealed if source_key == target_key else seal(target_key, plaintext, ad)

        return reseal
    raise StateError(
        f"the exported secrets are encrypted with key {source_fp}, but "
        f"{store.describe()} uses key {fingerprint(target_key)}",
        hint="import into a state with the same key: set SLOTH_STATE_PASSPHRASE to the source "
        "state's passphrase (or copy its state.key), or move whole stores with `state migrate`",
    )


def _load(store: StateStore, tx: Tx, data: dict[str, Any], reseal: Resealer | None) -> None:
    name = str(data["name"])
    if data.get("cluster"):
        rows.put_cluster(tx, ClusterRecord(**{**data["cluster"], "name": name}))
    for node in data.get("nodes", []):
        rows.put_node(tx, NodeRecord(**{**node, "cluster": name}))
    for a in data.get("allocations", []):
        tx.execute(
            "INSERT INTO allocations (cluster, pool, owner, address, allocated_at, released_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (name, a["pool"], a["owner"], a["address"], a["allocated_at"], a["released_at"]),
        )
    for item in (data.get("secrets") or {}).get("items", []):
        assert reseal is not None
        sealed = reseal(name, item["name"], base64.b64decode(item["sealed"]))
        tx.execute(
            "INSERT INTO secrets (cluster, name, sealed, updated_at) VALUES (?, ?, ?, ?)",
            (name, item["name"], sealed, item["updated_at"]),
        )
    for e in data.get("journal", []):
        rows.insert_journal(tx, JournalEntry(**{**e, "id": 0, "cluster": name}))
    for o in data.get("operations", []):
        rows.insert_operation(tx, OperationRecord(**{**o, "id": 0, "cluster": name}))
    for m in data.get("manifests", []):
        rows.put_manifest(tx, ManifestRecord(**{**m, "cluster": name}))


def import_cluster(store: StateStore, data: dict[str, Any], *, replace: bool = False) -> str:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise StateError(
            "this is not a sloth-kubernetes cluster export",
            hint="create one with `sloth-kubernetes state export NAME`",
        )
    if data.get("version") != FORMAT_VERSION:
        raise StateError(
            f"cluster export format v{data.get('version')} is not supported "
            f"(this sloth-kubernetes reads v{FORMAT_VERSION})",
            hint="use the sloth-kubernetes version that wrote it, or a newer one",
        )
    name = str(data["name"])
    _check_keys(data)
    reseal = _resealer_for(store, data)
    try:
        with store.write() as tx:
            exists = name in rows.names_with_rows(tx)
            if exists and not replace:
                raise StateError(
                    f"cluster {name!r} already exists in {store.describe()}",
                    hint="pass --replace to overwrite it with the export",
                )
            if exists:
                rows.delete_cluster_rows(tx, name)
            _load(store, tx, data, reseal)
            audit.append(
                tx, actor=store.identity.user, host=store.identity.host,
                command="state import", cluster=name,
                outcome="replaced" if exists else "imported",
                resources={"source": data.get("source"), "exported_at": data.get("exported_at"),
                           "nodes": len(data.get("nodes", []))},
            )  # fmt: skip
    except (KeyError, TypeError, ValueError) as error:
        raise StateError(
            f"the export of cluster {name!r} is damaged: {error!r}",
            hint="export the cluster again from its source state",
        ) from error
    return name


def migrate(source: StateStore, target: StateStore) -> list[str]:
    with target.read() as tx:
        target_names = rows.names_with_rows(tx)
        _, target_count = audit.head(tx)
    if target_names or target_count:
        raise StateError(
            f"the target state {target.describe()} is not empty",
            hint="migrate into a new, empty database; copy single clusters with "
            "`sloth-kubernetes state export` / `state import`",
        )
    with source.read() as tx:
        locked = tx.query("SELECT cluster FROM locks ORDER BY cluster")
        has_secrets = tx.scalar("SELECT COUNT(*) FROM secrets") > 0
    if locked:
        names = ", ".join(str(row[0]) for row in locked)
        raise StateError(
            f"cannot migrate while clusters are locked: {names}",
            hint="wait for the running commands to finish (or `state unlock NAME --force`)",
        )
    resealer: Resealer | None = None
    if has_secrets:
        source_key, target_key = source.keyring.key(), target.keyring.key()

        def resealer(cluster: str, name: str, sealed: bytes) -> bytes:
            plaintext = source._unseal(source_key, cluster, name, sealed).encode("utf-8")
            return seal(target_key, plaintext, associated_data(cluster, name))

    with source.read() as tx:
        dumps = [_dump(source, tx, name) for name in sorted(rows.names_with_rows(tx))]
        chain = audit.entries(tx)
        head_hash, count = audit.head(tx)
    with target.write() as tx:
        for data in dumps:
            _load(target, tx, data, resealer)
        audit.copy_chain(tx, chain, head_hash, count)
    return [str(d["name"]) for d in dumps]
