"""The state and audit commands as a library: inspect, move, unlock and re-key a state store.

Each function takes an open :class:`~sloth_kubernetes.state.StateStore` and returns plain data
(JSON-able dicts, or small attrs records with ``to_data()``), never secret values. Functions that
change a cluster take its lock (refused at once with ``LockedError`` naming the holder) and write
an audit entry. The shapes returned here are the documented ``-o json`` output (docs/state.md).
No click import here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ..errors import SlothError, StateError

if TYPE_CHECKING:
    from ..state import AuditEntry, LockInfo, OperationRecord, StateStore

#: Default number of rows shown by ``state history`` and ``audit log`` (0 means all).
DEFAULT_LIMIT = 50


# -- looking things up -----------------------------------------------------------------------


def locked_clusters(store: StateStore) -> dict[str, LockInfo]:
    """Every held cluster lock by cluster name."""
    with store.read() as tx:
        names = [str(row[0]) for row in tx.query("SELECT cluster FROM locks ORDER BY cluster")]
        return {name: info for name in names if (info := store.lock_info(name)) is not None}


def known_clusters(store: StateStore) -> list[str]:
    """Names of every cluster the store knows: a record, any rows, or a lock (an ``up`` that
    died right after taking its lock leaves nothing else)."""
    with store.read():
        return sorted(set(store.cluster_names()) | set(locked_clusters(store)))


def unknown_cluster(store: StateStore, name: str, known: list[str]) -> SlothError:
    listing = f"known clusters: {', '.join(known)}" if known else "it holds no clusters"
    return SlothError(
        f"there is no cluster {name!r} in the state {store.describe()} ({listing})",
        hint="check the name with `sloth-kubernetes state list`, and that --state / SLOTH_STATE "
        "points at the right store",
    )


def require_cluster(store: StateStore, name: str) -> None:
    """Raise SlothError naming the known clusters unless ``name`` is one of them."""
    known = known_clusters(store)
    if name not in known:
        raise unknown_cluster(store, name, known)


def _lock_data(info: LockInfo | None) -> dict[str, Any] | None:
    if info is None:
        return None
    data = attrs.asdict(info)
    data.pop("process_key")
    return {**data, "holder": info.describe()}


def _operation_data(op: OperationRecord) -> dict[str, Any]:
    return attrs.asdict(op)


def host_key_fingerprint(host_key: str | None) -> str | None:
    """OpenSSH's ``SHA256:…`` fingerprint of a public host key line, or None."""
    if not host_key:
        return None
    fields = host_key.split()
    blob_text = fields[1] if len(fields) > 1 else fields[0]
    try:
        blob = base64.b64decode(blob_text, validate=True)
    except (binascii.Error, ValueError):
        return None
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")
    return f"SHA256:{digest}"


# -- read views ------------------------------------------------------------------------------


def list_clusters(store: StateStore) -> list[dict[str, Any]]:
    """One summary per cluster: name, node count, last operation, updated, lock holder."""
    summaries = []
    with store.read():  # one consistent snapshot; the calls below join this transaction
        locks = locked_clusters(store)
        for name in known_clusters(store):
            record = store.get_cluster(name)
            last = store.list_operations(name, limit=1)
            op = last[0] if last else None
            times = [t for t in (record and record.updated_at, op and op.started_at) if t]
            summaries.append(
                {
                    "name": name,
                    "nodes": len(store.list_nodes(name)),
                    "last_operation": None if op is None else _operation_data(op),
                    "updated_at": max(times) if times else None,
                    "lock": _lock_data(locks.get(name)),
                }
            )
    return summaries


def _allocations(store: StateStore, name: str) -> list[dict[str, Any]]:
    # Every pool at once, released addresses included (the store's API reads one pool).
    with store.read() as tx:
        found = tx.query(
            "SELECT pool, owner, address, allocated_at, released_at FROM allocations "
            "WHERE cluster = ? ORDER BY pool, owner",
            (name,),
        )
    keys = ("pool", "owner", "address", "allocated_at", "released_at")
    return [dict(zip(keys, row, strict=True)) for row in found]


def show_cluster(store: StateStore, name: str) -> dict[str, Any]:
    """The cluster record, nodes, secret names (never values), allocations, manifests, lock."""
    with store.read():
        require_cluster(store, name)
        record = store.get_cluster(name)
        nodes = []
        for node in store.list_nodes(name):
            data = attrs.asdict(node)
            data["roles"] = list(node.roles)
            data["host_key_fingerprint"] = host_key_fingerprint(node.host_key)
            nodes.append(data)
        return {
            "name": name,
            "store": store.describe(),
            "cluster": None if record is None else attrs.asdict(record),
            "nodes": nodes,
            "secrets": store.list_secret_names(name),
            "allocations": _allocations(store, name),
            "manifests": [
                {k: v for k, v in attrs.asdict(m).items() if k != "body_json"}
                for m in store.list_manifests(name)
            ],
            "lock": _lock_data(store.lock_info(name)),
        }


def cluster_history(store: StateStore, name: str, limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
    """Operations newest first (at most ``limit``; 0 = all) and the journal of the last run."""
    with store.read():
        require_cluster(store, name)
        operations = store.list_operations(name, limit=limit or None)
        journal = store.journal_entries(name)
    last_run = journal[-1].run_id if journal else None
    return {
        "name": name,
        "operations": [_operation_data(op) for op in operations],
        "last_run": None
        if last_run is None
        else {
            "run_id": last_run,
            "journal": [
                {k: v for k, v in attrs.asdict(e).items() if k not in ("id", "cluster")}
                for e in journal
                if e.run_id == last_run
            ],
        },
    }


# -- export / import / migrate -----------------------------------------------------------------


def _write_private(path: Path, text: str, *, force: bool) -> None:
    """Write ``text`` to ``path`` as a 0600 file; refuse an existing file unless ``force``."""
    if path.exists() and not force:
        raise SlothError(f"{path} already exists", hint="pass --force to overwrite it")
    if not path.parent.is_dir():
        raise SlothError(
            f"cannot write {path}: the directory {path.parent} does not exist",
            hint="create the directory first, or choose another file",
        )
    # A temp file is 0600 from birth; renaming it also replaces a wider-mode file we overwrite.
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


@attrs.frozen
class Transfer:
    """What an export or import moved."""

    cluster: str
    path: str
    nodes: int
    secrets: int
    key_fingerprint: str | None = None
    replaced: bool = False


def export_cluster(store: StateStore, name: str, path: Path, *, force: bool = False) -> Transfer:
    """Write the cluster's export (secrets still encrypted) to ``path`` (0600); audited."""
    require_cluster(store, name)
    data = store.export_cluster(name)
    _write_private(path, json.dumps(data, indent=2, sort_keys=True) + "\n", force=force)
    secrets = data["secrets"]
    result = Transfer(
        name, str(path), len(data["nodes"]), len(secrets["items"]), secrets["key_fingerprint"]
    )
    store.audit_append(
        command="state export",
        cluster=name,
        outcome="exported",
        resources={"file": str(path), "nodes": result.nodes, "secrets": result.secrets},
    )
    return result


_EXPORT_HINT = "pass a file written by `sloth-kubernetes state export`"


def read_export(path: Path) -> dict[str, Any]:
    """The parsed export file; SlothError when it cannot be read or is not an export."""
    from ..untrusted import parse_json, read_text

    what = "a sloth-kubernetes cluster export"
    text = read_text(path, what=what, hint=_EXPORT_HINT)
    data = parse_json(text, source=str(path), what=what, hint=_EXPORT_HINT)
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise SlothError(f"{path} is not {what}", hint=_EXPORT_HINT)
    return data


def import_cluster(store: StateStore, path: Path, *, replace: bool = False) -> Transfer:
    """Load an export under the cluster's lock (the store audits the import)."""
    data = read_export(path)
    name = str(data["name"])
    existed = name in store.cluster_names()
    with store.lock(name, "state import"):
        try:
            store.import_cluster(data, replace=replace)
        except SlothError as error:  # name the file: the store's messages cannot
            raise type(error)(f"{path}: {error.message}", hint=error.hint) from None
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            # An export is a file someone may have edited: a field of the wrong shape or type
            # is the file's fault, reported as such (the import's transaction rolled back).
            raise SlothError(
                f"{path} is not a valid cluster export: a field has the wrong shape "
                f"({type(error).__name__}: {error})",
                hint=_EXPORT_HINT,
            ) from None
    return Transfer(
        name,
        str(path),
        len(data.get("nodes") or []),
        len((data.get("secrets") or {}).get("items") or []),
        (data.get("secrets") or {}).get("key_fingerprint"),
        replaced=existed,
    )


@attrs.frozen
class Migration:
    """What ``migrate_state`` copied: per cluster its node and secret counts, and the audit log."""

    source: str
    target: str
    clusters: dict[str, dict[str, int]]
    audit_entries: int
    audit_problems: tuple[str, ...]

    def to_data(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "audit_problems": list(self.audit_problems)}


def migrate_state(
    store: StateStore, target_url: str, *, target_passphrase: str | None = None
) -> Migration:
    """Copy everything into the empty store at ``target_url``; both logs record the move."""
    from ..state import open_store

    target = open_store(target_url, passphrase=target_passphrase)
    try:
        if target.describe() == store.describe():
            raise StateError(
                "the target of the migration is the current state itself",
                hint="pass another, empty store to --to",
            )
        names = store.migrate_to(target)
        clusters = {
            name: {
                "nodes": len(target.list_nodes(name)),
                "secrets": len(target.list_secret_names(name)),
            }
            for name in names
        }
        moved = {"clusters": names, "from": store.describe(), "to": target.describe()}
        target.audit_append(
            command="state migrate", cluster="", outcome="migrated-in", resources=moved
        )
        store.audit_append(
            command="state migrate", cluster="", outcome="migrated-out", resources=moved
        )
        problems = tuple(target.audit_verify())
        return Migration(
            store.describe(), target.describe(), clusters, target.audit_head()[1], problems
        )
    finally:
        target.close()


# -- locks and keys ------------------------------------------------------------------------------


def unlock_cluster(store: StateStore, name: str, *, force: bool) -> LockInfo | None:
    """Break the cluster's lock (``force`` required while it is held); returns the holder.

    Without ``force`` a held lock is refused with LockedError naming the holder. Audited.
    """
    from ..errors import LockedError
    from ..state.locking import holder_is_gone

    require_cluster(store, name)
    held = store.lock_info(name)
    if held is not None and not force:
        if holder_is_gone(held, store.identity):
            situation = "its holder is no longer running, so the next command takes it over"
        else:
            situation = "its holder may still be running"
        raise LockedError(
            f"cluster {name!r} is locked by {held.describe()}; {situation}",
            holder=held.describe(),
            hint=f"make sure that command has finished or died, then run "
            f"`sloth-kubernetes state unlock {name} --force` (the unlock is audited)",
        )
    if held is None and not force:
        return None
    return store.force_unlock(name, store.identity.user)


@attrs.frozen
class KeyStatus:
    """How a store's secrets are encrypted: ``source`` is ``passphrase``, ``keyfile`` or None
    (no key yet); ``secrets`` their number; ``fingerprint`` the key's public identifier."""

    source: str | None
    fingerprint: str | None
    secrets: int
    key_file: str | None


def key_status(store: StateStore) -> KeyStatus:
    with store.read() as tx:
        source = tx.get_meta("key_source")
        count = int(tx.scalar("SELECT COUNT(*) FROM secrets") or 0)
    key_file = store.keyring.key_file
    return KeyStatus(
        source, store.key_fingerprint(), count, str(key_file) if source == "keyfile" else None
    )


def check_current_key(store: StateStore) -> None:
    """Fail now (StateError with a hint) when the current key cannot open the secrets."""
    store.check_key()


def rekey_state(store: StateStore, new_passphrase: str | None) -> KeyStatus:
    """Re-encrypt every secret with a key from ``new_passphrase`` or (None, SQLite only) a new key
    file, holding every cluster's lock meanwhile so no running command is left with a retired key.
    The store audits the rekey."""
    # A cluster locked by a live command refuses at once (LockedError naming the holder); a
    # stale lock is taken over as usual.
    with ExitStack() as held:
        for name in known_clusters(store):
            held.enter_context(store.lock(name, "state rekey"))
        store.rekey(new_passphrase)
    return key_status(store)


# -- audit log ---------------------------------------------------------------------------------


def audit_log(
    store: StateStore, cluster: str | None = None, limit: int = DEFAULT_LIMIT
) -> list[AuditEntry]:
    """The newest ``limit`` entries (0 = all), oldest first; of one cluster when given. A name
    with no entries must still be a known cluster (entries outlive a deleted cluster)."""
    from ..state.audit import DamagedRow

    try:
        entries = store.audit_entries(cluster)
    except DamagedRow as error:
        reason = error.message.split(": ", 1)[1]
        raise DamagedRow(error.seq, f"{reason} (in {store.describe()})") from None
    if cluster is not None and not entries:
        require_cluster(store, cluster)
    return entries[-limit:] if limit else entries


@attrs.frozen
class AuditReport:
    """The result of checking the hash chain: ``problems`` is empty when the log is intact."""

    entries: int
    head: str
    problems: tuple[str, ...]

    @property
    def intact(self) -> bool:
        return not self.problems

    def to_data(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "entries": self.entries,
            "head": self.head,
            "problems": list(self.problems),
        }


def audit_verify(store: StateStore) -> AuditReport:
    with store.read() as tx:
        problems = tuple(store.audit_verify())
        entries = int(tx.scalar("SELECT COUNT(*) FROM audit") or 0)  # damaged rows count too
        head, _ = store.audit_head()
    return AuditReport(entries, head, problems)
