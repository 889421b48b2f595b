"""The cluster's join token and admin kubeconfig, kept encrypted in the state store.

The token is generated once per cluster (never a default) and only ever leaves the store inside a
0600 config file on a node. The kubeconfig is fetched from the first server after install and
rewritten to point at the API endpoint.
"""

from __future__ import annotations

import secrets as random
from typing import TYPE_CHECKING

from ..errors import StateError
from ..secrets import Secret

if TYPE_CHECKING:
    from ..state import StateStore

TOKEN_SECRET = "distro-token"  # noqa: S105 (the secret's name, not its value)
KUBECONFIG_SECRET = "kubeconfig"  # noqa: S105 (the secret's name, not its value)


def ensure_token(store: StateStore, cluster: str) -> Secret:
    """The cluster's join token, generated (256 random bits) the first time."""
    if store is None:
        raise StateError("the distro phase needs the state store to keep the cluster token")
    token = store.get_secret(cluster, TOKEN_SECRET)
    if token is None:
        store.put_secret(cluster, TOKEN_SECRET, Secret(random.token_hex(32)))
        token = store.get_secret(cluster, TOKEN_SECRET)
    assert token is not None
    return token


def store_kubeconfig(store: StateStore, cluster: str, kubeconfig: str) -> None:
    store.put_secret(cluster, KUBECONFIG_SECRET, Secret(kubeconfig))


def stored_kubeconfig(store: StateStore, cluster: str) -> Secret:
    value = store.get_secret(cluster, KUBECONFIG_SECRET)
    if value is None:
        raise StateError(
            f"cluster {cluster!r} has no kubeconfig in the state store",
            hint="it is fetched by the distro phase of `up`; run `up` (it resumes) first",
        )
    return value
