"""K3s/RKE2's own manifest deployer: files in every server's ``<data dir>/server/manifests``.

The distribution's deploy controller applies what appears there (and its helm-controller installs
``HelmChart`` objects), so the add-on phase needs no API access from the operator's machine.
Files are written 0600 over SFTP (manifests may carry secrets) on every server, so whichever
server leads applies the same set.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..context import ClusterContext
from ..errors import RemoteError
from .installer import Installer

if TYPE_CHECKING:
    from ..addons.manifests import Manifest

_NOT_IN_ADDON_NAME = re.compile(r"[^a-z0-9-]+")


def manifest_path(manifests_dir: str, manifest: Manifest) -> str:
    """``sloth-<component>-<kind>-<namespace>-<name>.yaml``: ours, and stable per object.

    The deploy controller names each file's ``Addon`` after the text before the file name's
    *first* period (k3s-io/k3s ``pkg/deploy/controller.go``), and that name must be a valid
    object name. So the stem holds only ``[a-z0-9-]``: an object name with dots
    (``v1beta1.metrics.k8s.io``) would otherwise share the Addon of every other object with the
    same first label, and the later file would prune the earlier one's objects. Where the stem
    had to change, a short hash of the original keeps two objects apart (``a.b`` vs ``a-b``).
    """
    return f"{manifests_dir}/{_stem(manifest)}.yaml"


def _stem(manifest: Manifest) -> str:
    component = _NOT_IN_ADDON_NAME.sub("-", str(manifest.component).lower()).strip("-")
    name = manifest.file_name.removesuffix(".yaml")
    safe = _NOT_IN_ADDON_NAME.sub("-", name.lower()).strip("-")
    stem = f"sloth-{component}-{safe}"
    if safe != name or len(stem) > 240:  # distinct, and in bounds for a file and object name
        stem = f"{stem[:230].rstrip('-')}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
    return stem


def deliver(
    context: ClusterContext,
    installer: Installer,
    settings: Any,  # the distro plugin's own settings model
    manifests: Sequence[Manifest],
    removed: Sequence[Manifest],
) -> list[str] | None:
    """Write ``manifests`` and delete ``removed`` on every server; ``None`` without SSH access
    (the core then applies through the API)."""
    session = context.remote
    if session is None or context.state is None:
        return None
    servers = [
        n.name
        for n in context.state.list_nodes(context.name)
        if n.is_server and n.name in session.records
    ]
    if not servers:
        return None
    data_dir = str(getattr(settings, "data_dir", installer.data_dir))
    directory = f"{data_dir}/server/manifests"

    from pyinfra.operations import files

    def deploy(_node: Any) -> None:  # Any: a pyinfra Host (untyped)
        files.directory(name="manifests directory", path=directory, present=True)
        for manifest in manifests:
            files.put(
                name=f"manifest {manifest.label}",
                src=io.StringIO(manifest.to_yaml()),
                dest=manifest_path(directory, manifest),
                mode="600",
            )
        for manifest in removed:
            files.file(
                name=f"remove {manifest.label}",
                path=manifest_path(directory, manifest),
                present=False,
            )

    result = session.apply("deliver manifests", deploy, nodes=servers)
    errors = [r.error for r in result.per_node.values() if r.error is not None]
    if errors:
        error = errors[0]
        raise error if isinstance(error, RemoteError) else RemoteError(str(error))
    return [m.key for m in manifests]
