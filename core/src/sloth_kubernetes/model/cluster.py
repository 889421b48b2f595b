"""The cluster spec: ``apiVersion: sloth-kubernetes.io/v1beta1``, ``kind: Cluster``.

Attribute names are snake_case; their YAML keys are the camelCase form (``node_pools`` →
``nodePools``), or ``metadata["key"]`` where that differs. ``metadata["doc"]`` is the one-line
description used in the JSON Schema and the config reference. Fields typed ``Any`` and marked with
``metadata["slot"]`` are plugin blocks: the loader validates them with the model the owning plugin
registered and stores a :class:`PluginBlock`.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

from .validators import InvalidValue, cidr_list, dns_label, in_range, ipv4_network, unique_non_empty

API_VERSION = "sloth-kubernetes.io/v1beta1"
#: The Kubernetes API's port on servers (K3s, RKE2 and kubeadm all serve it on 6443): opened on
#: their public interfaces to ``security.apiAllowedCIDRs`` by the host and cloud firewalls.
KUBERNETES_API_PORT = 6443
Role = Literal["server", "agent"]


def doc(text: str, **extra: Any) -> dict[str, Any]:
    """Field metadata: the description shown in the schema and the reference."""
    return {"doc": text, **extra}


@attrs.frozen
class PluginBlock:
    """A plugin's block after validation: which component it selects and its settings model."""

    name: str
    settings: Any = None


@attrs.frozen
class Metadata:
    name: str = attrs.field(
        validator=dns_label(40),
        metadata=doc("Cluster name; prefixes node names and cloud tags."),
    )
    labels: dict[str, str] = attrs.field(factory=dict, metadata=doc("Free-form labels."))
    protect: bool = attrs.field(
        default=False, metadata=doc("When true, `destroy` refuses to run without --force.")
    )


@attrs.frozen
class SizeRequest:
    """A portable machine size: the provider picks its cheapest matching size."""

    cpu: int = attrs.field(validator=in_range(1, 512), metadata=doc("Virtual CPUs, at least."))
    memory_gib: float = attrs.field(
        validator=in_range(0.5, 12288),
        metadata=doc("Memory in GiB, at least.", key="memoryGiB"),
    )


@attrs.frozen
class NodePool:
    name: str = attrs.field(validator=dns_label(30), metadata=doc("Pool name, unique."))
    provider: str = attrs.field(metadata=doc("A key of spec.providers."))
    count: int = attrs.field(
        default=1, validator=in_range(0, 5000), metadata=doc("Number of nodes in the pool.")
    )
    roles: list[Role] = attrs.field(
        factory=lambda: ["agent"],
        validator=unique_non_empty,
        metadata=doc("`server` (control plane + etcd) and/or `agent` (worker)."),
    )
    size: str | SizeRequest | None = attrs.field(
        default=None, metadata=doc("Provider size name, or {cpu, memoryGiB}.")
    )
    image: str | None = attrs.field(
        default=None, metadata=doc("Image alias (ubuntu-24.04, debian-12) or provider image id.")
    )
    region: str | None = attrs.field(default=None, metadata=doc("Provider region or zone."))
    location: str | None = attrs.field(
        default=None,
        metadata=doc("Location label for the mesh topology (default provider+region)."),
    )
    labels: dict[str, str] = attrs.field(factory=dict, metadata=doc("Kubernetes node labels."))
    taints: list[str] = attrs.field(
        factory=list, metadata=doc("Kubernetes taints, `key=value:Effect`.")
    )
    options: Any = attrs.field(
        default=None,
        metadata=doc(
            "Provider-specific pool options (see the provider's README).", slot="nodePools"
        ),
    )


@attrs.frozen
class StorageClassSpec:
    name: str = attrs.field(validator=dns_label(63), metadata=doc("StorageClass name."))
    reclaim_policy: Literal["Delete", "Retain"] = attrs.field(
        default="Delete", metadata=doc("What happens to a volume when its claim is deleted.")
    )
    replicas: int | None = attrs.field(
        default=None,
        validator=in_range(1, 16),
        metadata=doc("Replicas per volume, for storage that replicates."),
    )
    default: bool = attrs.field(
        default=False, metadata=doc("The cluster's default class; exactly one across all storage.")
    )


@attrs.frozen
class StorageBlock:
    """One item of ``spec.storage``: a storage plugin, its classes and its settings."""

    type: str
    classes: tuple[StorageClassSpec, ...] = ()
    settings: Any = None


EndpointMode = Literal["nodeLocal", "loadBalancer", "dns"]
#: ``apiEndpoint.mode`` values and when to use each (docs/ha.md says more).
ENDPOINT_MODES: dict[str, str] = {
    "nodeLocal": "a health-checked load balancer (haproxy) on every node over all servers' mesh "
    "addresses: joins and kubectl on any node survive the loss of any server; the default",
    "loadBalancer": "the cloud's load balancer in front of the servers (not available yet)",
    "dns": "an address you bring (a DNS name or VIP leading to every server); nodes register "
    "through it too",
}


def _check_endpoint_address(
    instance: ApiEndpoint, attribute: attrs.Attribute[Any], value: Any
) -> None:
    if instance.mode == "dns" and not value and not instance.records:
        raise InvalidValue(
            "mode dns needs the address nodes and clients use",
            hint="add `address: k8s.example.com` (a name or VIP that leads to port 6443 and the "
            "registration port of every server)",
            field=attribute.name,
        )


def _check_endpoint_records(
    instance: ApiEndpoint, attribute: attrs.Attribute[Any], value: Any
) -> None:
    if value and instance.mode != "dns":
        raise InvalidValue(
            "records are only made in mode dns", hint="set `mode: dns`", field=attribute.name
        )
    if value:
        raise InvalidValue(
            "DNS records for every server are not made yet: they wait for sloth-kubernetes' "
            "DNS support (docs/ha.md)",
            hint="remove `records: true` and bring your own `address:` (a name whose records "
            "lead to every server), or use mode nodeLocal",
            field=attribute.name,
        )


@attrs.frozen
class ApiEndpoint:
    """How joining nodes and clients reach the API of every server (docs/ha.md)."""

    mode: EndpointMode = attrs.field(
        default="nodeLocal",
        metadata=doc(
            "nodeLocal (where the distribution supports it; else nodes register with the first "
            "server), loadBalancer or dns."
        ),
    )
    address: str | None = attrs.field(
        default=None,
        metadata=doc(
            "Name or address clients use (kubeconfig, TLS SAN); in mode dns nodes also "
            "register through it."
        ),
        validator=_check_endpoint_address,
    )
    sans: list[str] = attrs.field(
        factory=list, metadata=doc("Further names or addresses for the API certificate.")
    )
    records: bool = attrs.field(
        default=False,
        validator=_check_endpoint_records,
        metadata=doc("Mode dns: make a record per server (waits for the DNS work: refused)."),
    )


@attrs.frozen
class KubernetesSpec:
    distribution: str = attrs.field(
        default="k3s", metadata=doc("Kubernetes distribution plugin: k3s, rke2, kubeadm…")
    )
    version: str | None = attrs.field(
        default=None, metadata=doc("Distribution version; default: the plugin's pinned version.")
    )
    api_endpoint: str | ApiEndpoint | None = attrs.field(
        default=None,
        metadata=doc(
            "How nodes and clients reach the API: {mode, address, sans}; a string is the "
            "address clients use (TLS SAN) with the default mode."
        ),
    )
    hardening: Literal["none", "cis"] = attrs.field(
        default="none", metadata=doc("Apply the distribution's CIS hardening guide.")
    )
    pod_cidr: str = attrs.field(
        default="10.42.0.0/16", validator=ipv4_network(), metadata=doc("Pod network.")
    )
    service_cidr: str = attrs.field(
        default="10.43.0.0/16", validator=ipv4_network(), metadata=doc("Service network.")
    )
    cni: Any = attrs.field(
        default=None, metadata=doc("CNI plugin block, selected by `type`.", slot="cni")
    )
    server_config: dict[str, Any] = attrs.field(
        factory=dict, metadata=doc("Extra settings for the distribution's server config file.")
    )
    agent_config: dict[str, Any] = attrs.field(
        factory=dict, metadata=doc("Extra settings for the distribution's agent config file.")
    )
    distro: Any = attrs.field(
        default=None,
        metadata=doc(
            "The distribution's own block, under its name (e.g. `k3s:`).",
            slot="kubernetes",
            internal=True,
        ),
    )


@attrs.frozen
class SecuritySpec:
    hardening: Literal["none", "baseline", "cis"] = attrs.field(
        default="baseline", metadata=doc("Node OS hardening profile.")
    )
    ssh_allowed_cidrs: list[str] = attrs.field(
        factory=lambda: ["0.0.0.0/0"],
        validator=cidr_list,
        metadata=doc("Networks allowed to reach SSH on the nodes.", key="sshAllowedCIDRs"),
    )
    api_allowed_cidrs: list[str] = attrs.field(
        factory=lambda: ["0.0.0.0/0"],
        validator=cidr_list,
        metadata=doc(
            "Networks allowed to reach the Kubernetes API (port 6443 on servers, never agents) "
            "from outside the mesh; [] keeps it on the mesh only.",
            key="apiAllowedCIDRs",
        ),
    )
    firewall: bool = attrs.field(default=True, metadata=doc("Manage a host firewall (nftables)."))


@attrs.frozen
class ClusterSpec:
    providers: dict[str, Any] = attrs.field(
        metadata=doc("Provider blocks, keyed by provider name.", slot="providers")
    )
    node_pools: list[NodePool] = attrs.field(metadata=doc("Groups of identical nodes."))
    mesh: Any = attrs.field(
        default=None,
        metadata=doc("Mesh block, selected by `type` (default wireguard).", slot="mesh"),
    )
    kubernetes: KubernetesSpec = attrs.field(
        factory=KubernetesSpec, metadata=doc("Kubernetes distribution and networking.")
    )
    storage: list[Any] = attrs.field(
        factory=list, metadata=doc("Storage plugins, each selected by `type`.", slot="storage")
    )
    addons: list[Any] = attrs.field(
        factory=list, metadata=doc("Add-ons, each selected by `name`.", slot="addons")
    )
    security: SecuritySpec = attrs.field(
        factory=SecuritySpec, metadata=doc("Node hardening, SSH access and host firewall.")
    )


@attrs.frozen
class ClusterConfig:
    api_version: Literal["sloth-kubernetes.io/v1beta1"] = attrs.field(
        metadata=doc("Always sloth-kubernetes.io/v1beta1.")
    )
    kind: Literal["Cluster"] = attrs.field(metadata=doc("Always Cluster."))
    metadata: Metadata = attrs.field(metadata=doc("Name and labels of the cluster."))
    spec: ClusterSpec = attrs.field(metadata=doc("The desired cluster."))
    sources: tuple[str, ...] = attrs.field(default=(), metadata=doc("", internal=True))

    @property
    def name(self) -> str:
        return self.metadata.name


def api_endpoint_of(kubernetes: KubernetesSpec) -> ApiEndpoint:
    """``spec.kubernetes.apiEndpoint`` as a block (a string is its ``address``)."""
    value = kubernetes.api_endpoint
    if isinstance(value, ApiEndpoint):
        return value
    return ApiEndpoint(address=value)
