"""What hooks receive: the cluster being worked on, and doctor check results."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import attrs

if TYPE_CHECKING:
    from .addons.manifests import ManifestDelivery
    from .model.cluster import ClusterConfig
    from .model.nodes import NodePackage
    from .registry import Catalog
    from .remote.session import RemoteSession
    from .secrets import Secret
    from .state.store import StateStore

CheckStatus = Literal["ok", "warn", "fail"]


@attrs.frozen
class DoctorCheck:
    """One line of ``doctor``: what was checked, the outcome, and how to fix it when not ok."""

    name: str
    status: CheckStatus
    detail: str
    fix: str = ""


def _no_event(_event: dict[str, Any]) -> None:
    return None


@attrs.frozen
class OperatorKey:
    """The cluster's operator SSH key pair.

    Generated once per cluster; the private half is stored encrypted in the state store. A
    command holds it in memory (``private_key``; SSH sessions hand it to paramiko as a key
    object). Only a command that runs the system ``ssh`` client (``nodes ssh``) has it written
    to ``private_key_path`` (0600, in a 0700 per-run directory removed when the run ends);
    otherwise that file does not exist. Providers install ``public_key`` on the machines they
    create.
    """

    public_key: str
    private_key_path: Path
    private_key: Secret | None = None

    @property
    def run_dir(self) -> Path:
        """The command's own 0700 directory (known_hosts, ssh config), removed at its end."""
        return self.private_key_path.parent


@attrs.define
class ClusterContext:
    """The cluster a hook works on: its validated config, where state lives, and an event sink.

    ``state`` is the open state store (``None`` for read-only commands that do not need one);
    ``emit`` sends progress events to the renderer (use :meth:`event`); ``dry_run`` tells a plugin
    to report what it would do and change nothing; ``run_id`` names this run in the journal;
    ``data_dir`` is where plugins keep files (``data_dir/clusters/<name>/<plugin>/``);
    ``operator`` is the operator key (set from the provision phase on); ``trust_new_host_keys``
    is the user's ``--trust-new-host-keys`` (trust on first use, recorded in the audit log);
    ``concurrency`` bounds parallel work per provider; ``remote`` is the node-access session
    (:mod:`sloth_kubernetes.remote`) once the connect phase has run; ``delivery`` is the
    distribution's own deployer of add-on manifests (set by the engine before the add-on phase
    from ``manifest_delivery``; ``None``: server-side apply); ``node_packages`` is, by node name,
    what prepare will install on the nodes being provisioned (set by the engine before
    ``provision_nodes``: a provider that serves packages to its machines reads it).
    """

    config: ClusterConfig
    state: StateStore | None = None
    dry_run: bool = False
    emit: Callable[[dict[str, Any]], None] = _no_event
    run_id: str = ""
    data_dir: Path = attrs.field(factory=lambda: Path("."))
    operator: OperatorKey | None = None
    trust_new_host_keys: bool = False
    concurrency: int = 16
    remote: RemoteSession | None = None
    delivery: ManifestDelivery | None = None
    node_packages: dict[str, list[NodePackage]] = attrs.field(factory=dict)

    @property
    def name(self) -> str:
        return self.config.metadata.name

    @property
    def store(self) -> StateStore:
        """``state`` for code that writes or reads it (every command running such code opens
        one); a clear error instead of an ``AttributeError`` on ``None`` otherwise."""
        if self.state is None:
            from .errors import StateError

            raise StateError(
                f"cluster {self.name!r}: no state store is open for this operation",
                hint="a bug in the caller: report it",
            )
        return self.state

    def plugin_dir(self, plugin: str) -> Path:
        """A directory (0700) for one plugin's files about this cluster."""
        path = self.data_dir / "clusters" / self.name / plugin
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def event(
        self,
        phase: str,
        message: str,
        *,
        node: str | None = None,
        status: str = "info",
        **fields: Any,
    ) -> None:
        """Report progress: ``status`` is info, started, done, failed, skipped or warning
        (something to act on; shown even where info is not)."""
        self.emit({"phase": phase, "node": node, "status": status, "message": message, **fields})


@attrs.frozen
class DoctorContext:
    """What ``doctor`` checks: the config (if ``-f`` was given), the state URL and the plugins."""

    catalog: Catalog
    config: ClusterConfig | None = None
    state_url: str | None = None
    plugin_failures: tuple[str, ...] = ()
