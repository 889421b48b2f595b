"""The ``local`` provider component: the model of ``spec.providers.local`` and the node methods.

Each node is a lightweight host on this machine (see :mod:`sloth_provider_local.hosts`) on a
network named after the cluster; hosts outlive the CLI and are found again by name, so a re-run
adopts them instead of creating duplicates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs
from sloth_kubernetes.plugin import (
    ClusterContext,
    InvalidValue,
    NodeRecord,
    NodeRequest,
    PluginBlock,
    Provider,
    ProviderError,
    doc,
    installable_packages,
    ipv4_network,
)

NAME = "local"
IMAGES = ("debian-12-genericcloud", "debian-12-preloaded")  # rootfs.IMAGES (not imported: slow)


def _check_image(_instance: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and value not in IMAGES:
        raise InvalidValue(
            f"{value!r} is not a local host image",
            hint="use one of: " + ", ".join(IMAGES),
            field=attribute.name,
        )


#: The nodes' network when the spec names none (also examples/local.yaml's, so `make demo`'s).
DEFAULT_CIDR = "10.251.0.0/24"


@attrs.frozen
class LocalSettings:
    """Settings of ``spec.providers.local``."""

    mode: Literal["fast", "systemd"] = attrs.field(
        default="fast",
        metadata=doc("fast: private mounts + tiny init; systemd: systemd as PID 1 per node."),
    )
    cidr: str = attrs.field(
        default=DEFAULT_CIDR,
        validator=ipv4_network(private=True),
        metadata=doc("Bridge network of the nodes; must not overlap a route of this machine."),
    )
    image: str | None = attrs.field(
        default=None,
        validator=_check_image,
        metadata=doc(
            "systemd mode: the nodes' root filesystem. debian-12-genericcloud (default): what "
            "Debian's 12 genericcloud image contains; the nodes install the rest with their own "
            "apt from a repository built from this machine's apt. debian-12-preloaded: not a "
            "stock image, the tool's packages pre-installed."
        ),
    )

    def __attrs_post_init__(self) -> None:
        if self.image is not None and self.mode != "systemd":
            raise InvalidValue(
                f"image {self.image} needs mode: systemd (fast-mode nodes run this machine's "
                "own system)",
                hint="set mode: systemd, or remove image",
                field="image",
            )

    @property
    def systemd_image(self) -> str | None:
        """The image systemd-mode nodes get (None in fast mode)."""
        return (self.image or "debian-12-genericcloud") if self.mode == "systemd" else None


def _settings(context: ClusterContext) -> LocalSettings:
    block = context.config.spec.providers.get(NAME)
    settings = block.settings if isinstance(block, PluginBlock) else None
    return settings if isinstance(settings, LocalSettings) else LocalSettings()


def _network(context: ClusterContext) -> Any:
    from .hosts import LocalNetwork

    name = context.name
    if len(name) > 32:  # network names are at most 32 characters; keep them unique
        name = name[:23] + "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return LocalNetwork(name=name, cidr=_settings(context).cidr)


def _state_dir(context: ClusterContext) -> Path:
    return context.plugin_dir(NAME)


def _record(
    context: ClusterContext,
    host: Any,
    request: NodeRequest | None = None,
    previous: NodeRecord | None = None,
) -> NodeRecord:
    base = request or previous
    return NodeRecord(
        cluster=context.name,
        name=host.name,
        pool=base.pool if base else "",
        provider=NAME,
        roles=base.roles if base else (),
        cloud_id=f"local://{_network(context).name}/{host.name}",
        private_address=host.address,
        host_key=host.host_public_key,
        ssh_port=host.port,
        ssh_user="root",
        labels={"sloth/cluster": context.name, **(request.labels if request else {})},
        extra={"mode": host.mode},
    )


class LocalProvider(Provider):
    """Hosts in network namespaces on this machine; found again by name, so a re-run adopts."""

    def provision(
        self, context: ClusterContext, requests: Sequence[NodeRequest]
    ) -> list[NodeRecord]:
        return _provision(context, requests)

    def list_nodes(self, context: ClusterContext) -> list[NodeRecord]:
        return _list(context)

    def destroy(self, context: ClusterContext, nodes: Sequence[NodeRecord]) -> list[str]:
        return _destroy(context, nodes)

    def describe(
        self, context: ClusterContext, requests: Sequence[NodeRequest]
    ) -> Mapping[str, str] | None:
        """Nothing to describe; ``plan`` asks, so the network is checked here, before
        anything is created (read-only)."""
        del requests
        _check_network(context)
        return None


def _check_network(context: ClusterContext) -> None:
    """Refuse, at plan time, a cidr another local network or this machine's routes already
    use, or this cluster's bridge left with another range while its hosts are recorded. A stale
    bridge with no hosts is left to ``up``, which makes it again (plan changes nothing)."""
    import shutil

    from .hosts import list_hosts
    from .network import bridge_addresses, check_bridge_range, check_no_overlap

    if shutil.which("ip") is None:  # not Linux with iproute2: creating says what is missing
        return
    network = _network(context)
    found = bridge_addresses(network)
    if found is not None and f"{network.gateway}/{network.network.prefixlen}" in found:
        return  # this cluster's own bridge, as configured
    if found is not None and list_hosts(network, state_dir=_state_dir(context)):
        check_bridge_range(network, attached=True)  # raises, naming both ranges
    check_no_overlap(network)


def _provision(context: ClusterContext, requests: Sequence[NodeRequest]) -> list[NodeRecord]:
    from .hosts import create_hosts

    if context.operator is None:
        raise ProviderError(
            "no operator key to install on the hosts",
            provider=NAME,
            hint="run through `up`, which creates the cluster's operator key",
        )
    settings = _settings(context)
    hosts = create_hosts(
        _network(context),
        [r.name for r in requests],
        authorized_key=context.operator.public_key,
        state_dir=_state_dir(context),
        mode=settings.mode,
        parallel=context.concurrency,
        image=settings.systemd_image,
        packages=_served_packages(context, requests) if settings.systemd_image else (),
    )
    by_name = {r.name: r for r in requests}
    return [_record(context, host, by_name[host.name]) for host in hosts]


def _served_packages(context: ClusterContext, requests: Sequence[NodeRequest]) -> list[str]:
    """What the nodes' repository must hold: everything prepare may install on them (the
    baseline's and each node's ``node_packages``, which the engine puts in
    ``context.node_packages`` before nodes are created or adopted)."""
    wanted = [p for r in requests for p in context.node_packages.get(r.name, ())]
    return installable_packages(wanted)


def _list(context: ClusterContext) -> list[NodeRecord]:
    from .hosts import list_hosts

    return [
        _record(context, h)
        for h in list_hosts(_network(context), state_dir=_state_dir(context))
        if h.alive or h.booting  # booting: a killed run started it; `up` adopts it
    ]


def _destroy(context: ClusterContext, nodes: Sequence[NodeRecord]) -> list[str]:
    from .hosts import destroy_hosts

    destroy_hosts(_network(context), [n.name for n in nodes], state_dir=_state_dir(context))
    return [n.name for n in nodes]


PLUGIN = LocalProvider(
    NAME,
    "Lightweight Linux hosts in network namespaces on this machine (root)",
    settings=LocalSettings,
    features=frozenset({"ssh", "ssh-host-key-at-creation", "private-network"}),
)
