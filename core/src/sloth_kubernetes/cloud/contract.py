"""The provider contract: what a cloud driver offers, in libcloud's style.

A driver declares ``features``; a method behind a feature it does not declare raises
``NotImplementedError`` (the base class does that for it); cloud-only extras are prefixed
``ex_``. Every resource a driver creates carries the cluster's tags (:func:`cluster_tags`) and
every ``list_*`` method finds resources by those tags, so a re-run adopts and ``destroy`` can
prove nothing is left. One driver instance is used by one thread only (libcloud drivers are not
thread-safe); :class:`~sloth_kubernetes.cloud.provider.CloudProvider` creates one per worker.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal

import attrs

#: Every feature a driver may declare, with what it promises (the feature matrix documents them).
FEATURES: dict[str, str] = {
    "ssh": "machines are reached over SSH; the engine connects to them",
    "tags": "every resource carries cluster and node tags; lists filter by them",
    "ssh-key-import": "the operator's public key is imported as a cloud SSH key",
    "user-data": "cloud-init user data is passed at creation",
    "host-key-at-creation": "the machine's SSH host key is known before the first connection",
    "firewall": "a cloud firewall / security group with the cluster's rules",
    "private-network": "a private network / VPC the nodes are attached to",
    "console-output": "the machine's console output can be read (ex: host key cross-check)",
    "catalog": "sizes, images and regions can be listed (portable sizing, image aliases)",
}

MachineState = Literal["pending", "running", "stopped", "terminated", "unknown"]
ResourceKind = Literal["machine", "key", "firewall", "network"]

#: Tag keys. Clouds with key/value tags use them as keys; clouds with plain string tags use
#: ``<key>:<value>`` (see :func:`flat_tags`).
CLUSTER_TAG = "sloth-cluster"
NODE_TAG = "sloth-node"


def cluster_tags(cluster: str, node: str | None = None) -> dict[str, str]:
    """The tags every resource of ``cluster`` carries (plus the node's name on machines)."""
    tags = {CLUSTER_TAG: cluster}
    if node is not None:
        tags[NODE_TAG] = node
    return tags


def flat_tags(tags: dict[str, str]) -> list[str]:
    """``{"sloth-cluster": "demo"}`` → ``["sloth-cluster:demo"]`` for string-tag clouds."""
    return [f"{key}:{value}" for key, value in sorted(tags.items())]


@attrs.frozen
class Machine:
    """A machine as the cloud reports it."""

    id: str
    name: str
    state: MachineState
    public_ip: str | None = None
    private_ip: str | None = None
    tags: dict[str, str] = attrs.field(factory=dict)
    extra: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Resource:
    """A cluster-wide resource: an SSH key, a firewall or a network."""

    kind: ResourceKind
    id: str
    name: str


@attrs.frozen
class MachineSpec:
    """What to create: resolved size/image/region ids, user data, and the shared resources."""

    name: str
    cluster: str
    size: str
    image: str
    region: str
    user_data: str
    tags: dict[str, str]
    key: Resource | None = None
    firewall: Resource | None = None
    network: Resource | None = None
    operator_key: str = ""  # for clouds that take authorized keys at creation


@attrs.frozen
class Size:
    """A machine size; ``price_hourly`` in the cloud's currency (None: unknown)."""

    id: str
    cpu: int
    memory_gib: float
    price_hourly: float | None = None
    regions: tuple[str, ...] = ()  # empty: every region


@attrs.frozen
class Image:
    id: str
    name: str


@attrs.frozen
class Region:
    id: str
    name: str


@attrs.frozen
class FirewallRule:
    """One inbound rule: ``protocol`` tcp/udp/icmp, ports ``"22"`` or ``"30000-32767"``."""

    protocol: Literal["tcp", "udp", "icmp"]
    ports: str
    sources: tuple[str, ...]
    description: str = ""

    @property
    def port_range(self) -> tuple[int, int]:
        low, _, high = self.ports.partition("-")
        return int(low), int(high or low)


#: Called for each HTTP request a driver makes; the provider plugs rate limiting and retries in.
RequestHook = Callable[[str, str], None]


def _missing(driver: CloudDriver, what: str, feature: str) -> NotImplementedError:
    return NotImplementedError(
        f"{driver.name} does not support {what} (feature {feature!r} not declared)"
    )


class CloudDriver:
    """Base class of every cloud driver. Subclasses set the class attributes and override the
    methods of the features they declare; the rest raise ``NotImplementedError``.

    ``settings`` is the provider block's validated model; ``credentials`` the resolved secrets
    (values wrapped in :class:`~sloth_kubernetes.secrets.Secret`, keyed by setting name);
    ``region`` the one region this driver works in; ``guard`` (a
    :class:`~sloth_kubernetes.cloud.retry.Guard`) must see every HTTP request the driver makes
    (:func:`~sloth_kubernetes.cloud.retry.guard_connection` does it for libcloud connections).
    """

    name: ClassVar[str] = ""
    features: ClassVar[frozenset[str]] = frozenset()
    #: Image aliases → this cloud's image id/slug/name.
    image_aliases: ClassVar[dict[str, str]] = {}
    default_region: ClassVar[str] = ""
    default_size: ClassVar[str] = ""
    #: Why this driver cannot change an existing firewall's rules (None: it can, through
    #: :meth:`update_firewall_rules`). The provider then warns, in events and the plan, that a
    #: change of the config's CIDRs does not reach the cloud firewall — never silently.
    firewall_update_blocker: ClassVar[str | None] = (
        "its driver does not implement update_firewall_rules yet"
    )
    #: Machines :meth:`destroy_machines` deletes per call (1: the provider calls
    #: :meth:`destroy_machine` once per machine, in parallel).
    destroy_batch: ClassVar[int] = 1

    def __init__(
        self, settings: Any, credentials: dict[str, Any], region: str, guard: Any = None
    ) -> None:
        self.settings = settings
        self.credentials = credentials
        self.region = region
        self.guard = guard

    @property
    def endpoint(self) -> str:
        """The API base URL in use (the ``endpoint`` override or the cloud's own)."""
        return self.api_endpoint(self.settings)

    @classmethod
    def api_endpoint(cls, settings: Any) -> str:
        """The API base URL ``settings`` point at; requests to one URL share a rate limit.
        Override when a cloud is addressed by another setting (OpenStack's ``authURL``)."""
        return str(getattr(settings, "endpoint", None) or cls.default_endpoint)

    default_endpoint: ClassVar[str] = ""

    # -- required of every driver ---------------------------------------------------------------

    def check_credentials(self) -> None:
        """One cheap authenticated call; raises on invalid credentials."""
        raise NotImplementedError

    def list_machines(self, cluster: str) -> list[Machine]:
        """Machines tagged with ``cluster`` (any state except terminated)."""
        raise NotImplementedError

    def create_machine(self, spec: MachineSpec) -> Machine:
        raise NotImplementedError

    def destroy_machine(self, machine: Machine) -> None:
        raise NotImplementedError

    def refresh_machines(self, cluster: str, machines: Sequence[Machine]) -> list[Machine]:
        """The cloud's current view of ``machines`` (of ``cluster``); those that no longer exist
        are left out. The provider polls with it while machines boot or are deleted. The
        default lists the cluster and keeps these ids; override it when the API can look
        machines up by id, so that a poll does not cost a listing of the whole cluster."""
        ids = {machine.id for machine in machines}
        return [machine for machine in self.list_machines(cluster) if machine.id in ids]

    def destroy_machines(self, machines: Sequence[Machine]) -> None:
        """Delete up to :attr:`destroy_batch` machines; the default deletes them one by one.
        Override it (and raise :attr:`destroy_batch`) when one request deletes several."""
        for machine in machines:
            self.destroy_machine(machine)

    def complete_network(self, network: Resource) -> None:
        """Make ``network`` (just created, or found by tag) ready for machines to join, with
        what it needs besides its id (AWS: its subnet). The provider runs it on its own thread
        while the firewall, which needs only the network's id, is created. Default: nothing."""

    def settle(self) -> None:
        """Finish what ``create_network``/``create_firewall`` deferred so that machines could be
        created sooner (AWS: internet gateway, default route, firewall rules). The provider
        calls it while the machines are being created, and provisioning succeeds only after it
        returned. Raises on failure; the default has nothing to finish."""

    def resolve_image(self, image: str) -> str:
        """Turn what :attr:`image_aliases` mapped an alias to into an image id (may call the
        API, e.g. AWS looks the newest AMI up); called once per image per run."""
        return image

    # -- ssh-key-import -------------------------------------------------------------------------

    def import_key(self, cluster: str, public_key: str) -> Resource:
        raise _missing(self, "SSH key import", "ssh-key-import")

    def list_keys(self, cluster: str) -> list[Resource]:
        raise _missing(self, "SSH key listing", "ssh-key-import")

    def delete_key(self, key: Resource) -> None:
        raise _missing(self, "SSH key deletion", "ssh-key-import")

    # -- firewall -------------------------------------------------------------------------------

    def create_firewall(
        self, cluster: str, rules: Sequence[FirewallRule], network: Resource | None
    ) -> Resource:
        raise _missing(self, "firewalls", "firewall")

    def list_firewalls(self, cluster: str) -> list[Resource]:
        raise _missing(self, "firewalls", "firewall")

    def delete_firewall(self, firewall: Resource) -> None:
        raise _missing(self, "firewalls", "firewall")

    def firewall_rules(self, firewall: Resource) -> list[FirewallRule]:
        """The inbound rules the cloud reports for ``firewall`` (for tests and ``doctor``)."""
        raise _missing(self, "firewalls", "firewall")

    def update_firewall_rules(self, firewall: Resource, rules: Sequence[FirewallRule]) -> None:
        """Make ``firewall``'s inbound rules exactly ``rules`` (the cluster owns the firewall:
        rules it no longer wants go). Drivers that implement it set
        :attr:`firewall_update_blocker` to None."""
        raise NotImplementedError(
            f"{self.name} cannot update firewall rules: {self.firewall_update_blocker}"
        )

    # -- private-network ------------------------------------------------------------------------

    def create_network(self, cluster: str, cidr: str) -> Resource:
        raise _missing(self, "private networks", "private-network")

    def list_networks(self, cluster: str) -> list[Resource]:
        raise _missing(self, "private networks", "private-network")

    def delete_network(self, network: Resource) -> None:
        raise _missing(self, "private networks", "private-network")

    # -- catalog --------------------------------------------------------------------------------

    def list_sizes(self) -> list[Size]:
        raise _missing(self, "size listing", "catalog")

    def list_images(self) -> list[Image]:
        raise _missing(self, "image listing", "catalog")

    def list_regions(self) -> list[Region]:
        raise _missing(self, "region listing", "catalog")

    # -- console-output -------------------------------------------------------------------------

    def console_output(self, machine: Machine) -> str:
        raise _missing(self, "console output", "console-output")

    # -- helpers --------------------------------------------------------------------------------

    def list_resources(self, cluster: str) -> list[Resource]:
        """Everything tagged with ``cluster`` this driver can list (``destroy`` proves it empty)."""
        found = [
            Resource("machine", m.id, m.name)
            for m in self.list_machines(cluster)
            if m.state != "terminated"
        ]
        if "firewall" in self.features:
            found += self.list_firewalls(cluster)
        if "ssh-key-import" in self.features:
            found += self.list_keys(cluster)
        if "private-network" in self.features:
            found += self.list_networks(cluster)
        return found

    def close(self) -> None:
        """Release connections (optional)."""
