"""``destroy``: remove every machine a cluster created, prove nothing tagged remains, forget it."""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ..context import ClusterContext
from ..errors import SlothError, StateError
from ..paths import data_dir
from ..runfiles import sweep_dead
from .operator import runtime_dir

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..model.cluster import ClusterConfig
    from ..plugins import PluginManager
    from ..state import StateStore


@attrs.frozen
class DestroyResult:
    cluster: str
    removed: tuple[str, ...]
    dry_run: bool

    def to_data(self) -> dict[str, Any]:
        return {"cluster": self.cluster, "removed": list(self.removed), "dryRun": self.dry_run}


def stored_config(manager: PluginManager, store: StateStore, name: str) -> ClusterConfig:
    """The config a cluster was last applied with, validated again (references stay references)."""
    from ..config.loader import load_config_text

    record = store.get_cluster(name)
    if record is None:
        known = ", ".join(store.cluster_names()) or "none"
        raise SlothError(
            f"no cluster named {name!r} in the state ({store.describe()})",
            hint=f"known clusters: {known}; `state list` shows them",
        )
    return load_config_text(
        json.dumps(record.spec), manager.hooks.catalog(), file=f"<state:{name}>"
    )


def destroy(
    manager: PluginManager,
    store: StateStore,
    name: str,
    *,
    yes: bool = False,
    dry_run: bool = False,
    force: bool = False,
    lost_key: bool = False,
    confirm: Callable[[str], bool] | None = None,
    emit: Callable[[dict[str, Any]], None] | None = None,
) -> DestroyResult:
    """``lost_key``: the state's passphrase or key file is gone for good; destroy without it,
    discarding the cluster's encrypted secrets (audited). Otherwise a key that cannot open the
    secrets is refused before anything is touched, exactly as ``up`` refuses it."""
    with store.lock(name, "destroy"):
        config = stored_config(manager, store, name)
        nodes = store.list_nodes(name)
        if config.metadata.protect and not force:
            raise SlothError(
                f"cluster {name!r} is protected (metadata.protect: true)",
                hint="set protect: false and run `up`, or pass --force",
            )
        if not lost_key:
            _require_key(store, name)
        if dry_run:
            return DestroyResult(name, tuple(sorted(n.name for n in nodes)), True)
        listing = ", ".join(sorted(n.name for n in nodes)) or "no machines"
        question = f"Destroy cluster {name!r} ({listing})?"
        if lost_key:
            question = (
                f"Destroy cluster {name!r} ({listing}) without the state's key, discarding its "
                f"{store.count_secrets(name)} encrypted secret(s) for good?"
            )
        if not yes and (confirm is None or not confirm(question)):
            raise SlothError("not confirmed", hint="re-run with --yes to destroy without asking")
        context = ClusterContext(
            config=config, state=store, data_dir=data_dir(), emit=emit or (lambda _e: None)
        )
        identity = store.identity
        operation = store.begin_operation(name, "destroy", identity.user, identity.host)
        removed: list[str] = []
        outcome = "failed"
        try:
            by_provider: dict[str, list[Any]] = defaultdict(list)
            for node in nodes:
                by_provider[node.provider].append(node)
            providers = {p.provider for p in config.spec.node_pools} | set(by_provider)
            kept = _kept_machines(manager, by_provider)
            if kept:  # machines that outlive the cluster: take the distribution off them first
                context.event(
                    "destroy",
                    f"uninstalling {config.spec.kubernetes.distribution} "
                    f"from {len(kept)} kept machine(s)",
                )
                _uninstall_distro(manager, context, config, kept)
            for provider, items in sorted(by_provider.items()):
                context.event("destroy", f"{provider}: deleting {len(items)} machine(s)")
                removed += manager.hooks.destroy_nodes(context, provider, items)
            leftovers = [
                f"{n.name} ({provider}, {n.cloud_id})"
                for provider in sorted(providers)
                for n in manager.hooks.list_nodes(context, provider)
            ]
            if leftovers:
                raise SlothError(
                    f"machines tagged with cluster {name!r} remain: {', '.join(leftovers)}",
                    hint="run `destroy` again; if they persist, remove them in the provider's "
                    "console — the state is kept until nothing remains",
                )
            outcome = "succeeded"
        finally:
            store.end_operation(operation, outcome, {"removed": removed})
            resources: dict[str, Any] = {"removed": removed}
            if lost_key:  # who threw the secrets away, and how many, stays on record
                resources["key_lost_secrets_discarded"] = store.count_secrets(name)
            store.audit_append(
                command="destroy --lost-key" if lost_key else "destroy",
                cluster=name,
                outcome=outcome,
                resources=resources,
            )
        store.delete_cluster(name)  # last: its history goes with it; the audit log keeps it
        forget_local_files(context.data_dir, name)
        return DestroyResult(name, tuple(removed), False)


def forget_local_files(data_dir: Path, name: str) -> None:
    """Remove what runs left on this machine for cluster ``name``: key copies and SSH session
    directories of runs that died, and the cluster's folders once they are empty. (Nothing of
    this cluster runs now: destroy holds its lock.)"""
    sweep_dead(runtime_dir(), prefix=f"{name}-")
    folder = data_dir / "clusters" / name
    sweep_dead(folder / "remote")
    for directory in sorted(
        (p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True
    ):
        with contextlib.suppress(OSError):  # not empty: a plugin's files stay
            directory.rmdir()
    with contextlib.suppress(OSError):
        folder.rmdir()


def _require_key(store: StateStore, name: str) -> None:
    try:
        store.check_key()
    except StateError as error:
        raise StateError(
            f"refusing to destroy cluster {name!r}: {error.message}",
            hint=f"{error.hint}. If the passphrase or key file is lost for good, "
            f"`sloth-kubernetes destroy {name} --lost-key` destroys the cluster anyway and "
            "discards its encrypted secrets (recorded in the audit log)",
        ) from None


def _kept_machines(manager: PluginManager, by_provider: dict[str, list[Any]]) -> list[Any]:
    """Nodes whose provider keeps the machine on destroy (feature ``existing-machines``: ssh)."""
    catalog = manager.hooks.catalog()
    kept = []
    for provider, nodes in by_provider.items():
        component = catalog.component("provider", provider)
        if component is not None and "existing-machines" in component.features:
            kept += nodes
    return kept


def _uninstall_distro(
    manager: PluginManager, context: ClusterContext, config: ClusterConfig, nodes: list[Any]
) -> None:
    from ..remote.session import RemoteSession
    from .operator import operator_key

    with operator_key(context.store, context.name) as key:
        session = RemoteSession.for_operator(nodes, key, work_dir=context.plugin_dir("remote"))
        context.remote = session
        context.operator = key
        try:
            failures = session.connect()
            if failures:
                name, error = next(iter(failures.items()))
                raise SlothError(
                    f"cannot reach {name} to uninstall the distribution: {error}",
                    hint="make the machine reachable, or remove it from the state "
                    "with `state` commands and clean it by hand",
                )
            done = set(
                manager.hooks.uninstall_distro(context, config.spec.kubernetes.distribution, nodes)
            )
            missed = sorted(n.name for n in nodes if n.name not in done)
            if missed:  # keep the state: destroy can be run again once they are fixed
                raise SlothError(
                    f"the distribution could not be removed from {', '.join(missed)}",
                    hint="see the messages above; fix the machines and run `destroy` again",
                )
        finally:
            session.close()
            context.remote = None
