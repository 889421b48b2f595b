"""The hook specifications: the whole plugin API of sloth-kubernetes.

Every built-in feature is a plugin implementing these hooks, exactly as third-party plugins do.
Calling conventions, stated per hook:

* **discovery** — broadcast; each plugin calls the ``register`` callback it is given.
* **dispatch** — ``firstresult``; the core names the component (provider ``aws``, distro ``k3s``…);
  the plugin that owns it answers, every other plugin returns ``None``. No answer is an error
  naming the installed components.
* **broadcast** — every plugin may contribute; results are collected into a list.

The core calls hooks only through :class:`sloth_kubernetes.plugins.Hooks`, never ``pm.hook``.
Each hook is documented in docs/reference/hooks.md and tested by ``test_hook_<name>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from .addons.manifests import AddonManifests, ManifestDelivery
    from .context import ClusterContext, DoctorCheck, DoctorContext
    from .model.mesh import MeshCheckResult, MeshNodeStatus, VpnJoin, VpnPeer
    from .model.nodes import NodePackage, NodeRecord, NodeRequest, ResourceChange
    from .registry import Register

PROJECT = "sloth_kubernetes"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- discovery -------------------------------------------------------------------------------


@hookspec
def register_providers(register: Register) -> None:
    """Discovery. Register machine providers: ``register(Component(kind="provider", name=…))``."""


@hookspec
def register_distros(register: Register) -> None:
    """Discovery. Register Kubernetes distributions: ``register(Component(kind="distro", …))``."""


@hookspec
def register_meshes(register: Register) -> None:
    """Discovery. Register node meshes: ``register(Component(kind="mesh", …))``."""


@hookspec
def register_addons(register: Register) -> None:
    """Discovery. Register CNIs, storage and other add-ons (``kind`` cni, storage or addon)."""


@hookspec
def register_config_models(register: Register) -> None:
    """Discovery. Register the attrs model validating a block: ``register(ConfigBlock(…))``."""


@hookspec
def register_commands(cli: click.Group) -> None:
    """Discovery. Add click commands or groups to the ``sloth-kubernetes`` CLI."""


# --- the four central hooks (dispatch) ---------------------------------------------------------


@hookspec(firstresult=True)
def provision_nodes(
    context: ClusterContext, provider: str, requests: Sequence[NodeRequest]
) -> Sequence[NodeRecord] | None:
    """Dispatch. Create (or adopt) the machines in ``requests`` on ``provider``; return records."""


@hookspec(firstresult=True)
def configure_mesh(
    context: ClusterContext, mesh: str, nodes: Sequence[NodeRecord]
) -> Sequence[NodeRecord] | None:
    """Dispatch. Bring up mesh ``mesh`` between ``nodes``; return them with mesh addresses set."""


@hookspec(firstresult=True)
def install_distro(
    context: ClusterContext, distro: str, nodes: Sequence[NodeRecord]
) -> Sequence[NodeRecord] | None:
    """Dispatch. Install distribution ``distro`` on ``nodes`` (servers first); return them."""


# ``settings`` (below): the add-on plugin's own attrs model, instance of the class it registered
# for its block — each plugin knows its type, the core cannot name it.


@hookspec(firstresult=True)
def distro_wait_ready(
    context: ClusterContext, distro: str, nodes: Sequence[NodeRecord]
) -> Sequence[NodeRecord] | None:
    """Dispatch. Wait until every node of ``nodes`` is Ready; the add-ons phase calls it once it
    delivered a CNI the distribution does not start itself. Return the nodes (recorded Ready);
    raise a ``RemoteError`` naming the nodes that are not, with their condition and log tail."""


@hookspec(firstresult=True)
def install_addon(context: ClusterContext, addon: str, settings: Any) -> Sequence[str] | None:
    """Dispatch. Install add-on/CNI/storage ``addon`` with its settings; return applied objects."""


@hookspec(firstresult=True)
def render_addon(context: ClusterContext, addon: str, settings: Any) -> AddonManifests | None:
    """Dispatch. The objects add-on/CNI/storage ``addon`` installs, without side effects."""


@hookspec(firstresult=True)
def manifest_delivery(context: ClusterContext, distro: str) -> ManifestDelivery | None:
    """Dispatch. Optional (no answer: add-ons are server-side applied). Distro ``distro``'s own
    deployer of add-on manifests; asked once per run, it reaches add-ons as
    ``context.delivery``."""


@hookspec
def node_packages(  # type: ignore[empty-body]
    context: ClusterContext, node: NodeRecord
) -> Sequence[str | NodePackage]:
    """Broadcast. Debian packages ``node`` needs for this plugin (installed by prepare with apt);
    a ``NodePackage`` with ``unless_module`` only where the kernel lacks that module."""


# --- lifecycle --------------------------------------------------------------------------------


@hookspec(firstresult=True)
def list_nodes(context: ClusterContext, provider: str) -> Sequence[NodeRecord] | None:
    """Dispatch. List the machines on ``provider`` tagged with this cluster (live inventory)."""


@hookspec(firstresult=True)
def describe_nodes(
    context: ClusterContext, provider: str, requests: Sequence[NodeRequest]
) -> Mapping[str, str] | None:
    """Dispatch. Optional (no answer: no description). Node name → how ``provider`` builds it:
    the size chosen for a portable ``{cpu, memoryGiB}`` and why; ``plan`` shows it. Read-only."""


@hookspec(firstresult=True)
def plan_shared_changes(context: ClusterContext, provider: str) -> Sequence[ResourceChange] | None:
    """Dispatch. Optional (no answer: nothing to change). What ``up``'s provision phase would
    change on the resources the cluster's machines share on ``provider`` (a cloud firewall's
    rules to add and remove); ``plan`` shows it, and ``up`` runs the provision phase for it.
    Read-only; nothing for resources that do not exist yet (``up`` creates them as wanted)."""


@hookspec(firstresult=True)
def destroy_nodes(
    context: ClusterContext, provider: str, nodes: Sequence[NodeRecord]
) -> Sequence[str] | None:
    """Dispatch. Delete ``nodes`` on ``provider``; return the names of the machines removed."""


@hookspec(firstresult=True)
def uninstall_distro(
    context: ClusterContext, distro: str, nodes: Sequence[NodeRecord]
) -> Sequence[str] | None:
    """Dispatch. Remove ``distro`` from ``nodes`` whose machines stay (``ssh``); return names."""


# --- render (no machine touched) ----------------------------------------------------------------


@hookspec
def render_node_files(  # type: ignore[empty-body]
    context: ClusterContext, nodes: Sequence[NodeRecord]
) -> dict[str, dict[str, str]]:
    """Broadcast. Files each node would receive, ``{node: {path: content}}``, secrets masked."""


@hookspec
def doctor_checks(context: DoctorContext) -> Sequence[DoctorCheck]:  # type: ignore[empty-body]
    """Broadcast. Return checks of the local environment for ``doctor``."""


# --- mesh day-2 (dispatch to the cluster's mesh) --------------------------------------------------


@hookspec(firstresult=True)
def mesh_status(
    context: ClusterContext, mesh: str, nodes: Sequence[NodeRecord]
) -> Sequence[MeshNodeStatus] | None:
    """Dispatch. Read mesh ``mesh`` live on ``nodes`` (``context.remote``): peers, handshakes."""


@hookspec(firstresult=True)
def distro_drift(
    context: ClusterContext, distro: str, nodes: Sequence[NodeRecord]
) -> Sequence[str] | None:
    """Dispatch. What differs live on ``nodes`` from what the distro phase installs (one read
    round over ``context.remote``: installed version, service state): one line per finding,
    empty when nothing; ``up`` runs the phase only when there is one. None: no live check."""


@hookspec(firstresult=True)
def mesh_drift(
    context: ClusterContext, mesh: str, nodes: Sequence[NodeRecord]
) -> Sequence[str] | None:
    """Dispatch. What differs live on ``nodes`` from what the mesh phase would make them (one
    read round over ``context.remote``): one line per finding, empty when nothing; ``up`` runs
    the mesh phase only when there is one. A plugin without a live check returns None."""


@hookspec(firstresult=True)
def mesh_check(
    context: ClusterContext, mesh: str, nodes: Sequence[NodeRecord], repair: bool
) -> MeshCheckResult | None:
    """Dispatch. Reachability matrix of mesh ``mesh`` over ``nodes``; ``repair`` fixes first."""


@hookspec(firstresult=True)
def vpn_join(
    context: ClusterContext, mesh: str, nodes: Sequence[NodeRecord], peer: str
) -> VpnJoin | None:
    """Dispatch. Add operator device ``peer`` to mesh ``mesh``; return its config as a Secret."""


@hookspec(firstresult=True)
def vpn_leave(
    context: ClusterContext, mesh: str, nodes: Sequence[NodeRecord], peer: str
) -> VpnPeer | None:
    """Dispatch. Remove operator device ``peer`` from mesh ``mesh`` on every node."""


@hookspec(firstresult=True)
def vpn_list(context: ClusterContext, mesh: str) -> Sequence[VpnPeer] | None:
    """Dispatch. The operator devices that joined mesh ``mesh`` (from the state store)."""
