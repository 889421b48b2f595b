"""Server-side apply and deletion through lightkube (field manager ``sloth-kubernetes``).

Used where the distribution has no deployer of its own (kubeadm), and for pruning there. lightkube
is imported inside the functions: the CLI's ``--help`` never pays for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import RemoteError, StateError
from .helm import helm_kinds
from .manifests import CustomKind, Manifest

if TYPE_CHECKING:
    from lightkube import Client

    from ..context import ClusterContext

FIELD_MANAGER = "sloth-kubernetes"
#: The state-store secret holding the cluster's admin kubeconfig (written by the distro phase).
KUBECONFIG_SECRET = "kubeconfig"  # noqa: S105 (the secret's name, not its value)
#: Applied first (and deleted last): what other objects need to exist.
_FIRST = ("Namespace", "CustomResourceDefinition")


def kube_client(context: ClusterContext, kubeconfig: Mapping[str, Any] | None = None) -> Client:
    """A lightkube ``Client`` for the cluster, from ``kubeconfig`` or the recorded admin one."""
    from lightkube import Client, KubeConfig
    from ruamel.yaml import YAML

    if kubeconfig is None:
        secret = (
            context.state.get_secret(context.name, KUBECONFIG_SECRET) if context.state else None
        )
        if secret is None:
            raise StateError(
                f"no admin kubeconfig is recorded for cluster {context.name}",
                hint="run `sloth-kubernetes up` through the distro phase first",
            )
        kubeconfig = YAML(typ="safe").load(secret.reveal())
    config = KubeConfig.from_dict(dict(kubeconfig))
    return Client(config=config, field_manager=FIELD_MANAGER, trust_env=False)


def _resource_type(manifest: Manifest, kinds: Sequence[CustomKind]) -> Any:
    from lightkube.core.resource_registry import resource_registry
    from lightkube.generic_resource import create_global_resource, create_namespaced_resource

    model = resource_registry.get(manifest.api_version, manifest.kind)
    if model is not None:
        return model
    for kind in (*helm_kinds(), *kinds):
        if (kind.api_version, kind.kind) == (manifest.api_version, manifest.kind):
            group, version = kind.api_version.split("/", 1)
            create = create_namespaced_resource if kind.namespaced else create_global_resource
            return create(group, version, kind.kind, kind.plural)
    return resource_registry.load(manifest.api_version, manifest.kind)


def _api_failure(action: str, manifest: Manifest, error: Exception) -> RemoteError:
    status = getattr(error, "status", None)
    reason = getattr(status, "message", None) or str(error)
    return RemoteError(
        f"{action} {manifest.label} failed: {reason}",
        host="kubernetes API",
        command=f"{action} {manifest.key}",
        hint="check that the API server is reachable and healthy (`sloth-kubernetes status`)",
    )


def _first(manifest: Manifest) -> int:
    return 0 if manifest.kind in _FIRST else 1


def apply_objects(
    client: Client, manifests: Sequence[Manifest], kinds: Sequence[CustomKind] = ()
) -> None:
    """Server-side apply each manifest (namespaces and CRDs first), forcing ownership of the fields
    we set: this tool is the source of truth for the objects it renders."""
    from lightkube import ApiError

    for manifest in sorted(manifests, key=_first):
        resource = _resource_type(manifest, kinds)
        obj = resource.from_dict(dict(manifest.body))
        try:
            client.apply(obj, field_manager=FIELD_MANAGER, force=True)
        except ApiError as error:
            raise _api_failure("apply", manifest, error) from None


def delete_objects(
    client: Client, manifests: Sequence[Manifest], kinds: Sequence[CustomKind] = ()
) -> None:
    """Delete each object (reverse order, namespaces last); already gone is fine."""
    from lightkube import ApiError

    backwards = list(manifests)
    backwards.reverse()  # dependents before what they depend on
    for manifest in sorted(backwards, key=lambda m: -_first(m)):
        resource = _resource_type(manifest, kinds)
        try:
            if manifest.namespace:
                client.delete(resource, manifest.name, namespace=manifest.namespace)
            else:
                client.delete(resource, manifest.name)
        except ApiError as error:
            if getattr(error.status, "code", None) == 404:
                continue
            raise _api_failure("delete", manifest, error) from None
