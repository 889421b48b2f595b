"""The contract over Azure Resource Manager, through libcloud's Azure ARM driver and connection.

Layout and names: :mod:`.bodies`. Every resource carries the ARM tags ``sloth-cluster`` (and
``sloth-node`` on a node's IP, NIC and VM). Machines are listed from the cluster's resource group
(VMs, NICs and public IPs: three list calls, joined by id); :meth:`AzureDriver.list_resources`
proves a destroy with the subscription-wide tag filter on resources and resource groups.

A VM is "running" when its ``provisioningState`` is ``Succeeded``: ARM finishes a VM create
after the machine has started and its agent reported in. Retry safety: every create is a PUT to
a fixed name, so repeating one cannot make a second resource. The VM PUT is still marked unsafe
for the guard, so an ambiguous 5xx makes the provider look the VM up by its tags (and adopt it)
before sending the PUT again, rather than re-sending it to a VM already being built.
Not declared: ``ssh-key-import`` (a VM takes the key text in ``osProfile``; Azure's SSH key
resources are only a store the portal copies from) and ``console-output``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from sloth_kubernetes.plugin import (
    CLUSTER_TAG,
    NODE_TAG,
    CloudDriver,
    Endpoint,
    FirewallRule,
    Image,
    Machine,
    MachineSpec,
    ProviderError,
    Region,
    Resource,
    Size,
    cluster_tags,
    guard_connection,
)

from . import bodies
from .arm import (
    COMPUTE_API,
    DISK_API,
    LOGIN_URL,
    MANAGEMENT_URL,
    NETWORK_API,
    RESOURCES_API,
    SUBSCRIPTIONS_API,
    TOKEN_RESOURCE,
    Arm,
    connection_class,
)

_STATES = {
    "creating": "pending",
    "updating": "pending",
    "migrating": "pending",
    "succeeded": "running",
    "deleting": "terminated",
}
_VM = "Microsoft.Compute/virtualMachines"
_NIC = "Microsoft.Network/networkInterfaces"
_IP = "Microsoft.Network/publicIPAddresses"
_NSG = "Microsoft.Network/networkSecurityGroups"
_VNET = "Microsoft.Network/virtualNetworks"
#: resource type (lower case) → the contract's resource kind, for the proof of destruction.
_KINDS = {
    _VM.lower(): "machine",
    _NIC.lower(): "machine",
    _IP.lower(): "machine",
    "microsoft.compute/disks": "machine",
    _NSG.lower(): "firewall",
    _VNET.lower(): "network",
    "microsoft.resources/resourcegroups": "network",
}
#: Marketplace images (``az vm image list`` aliases Ubuntu2404, Ubuntu2204, Debian12).
IMAGES = {
    "ubuntu-24.04": "Canonical:ubuntu-24_04-lts:server:latest",
    "ubuntu-22.04": "Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest",
    "debian-12": "Debian:debian-12:12-gen2:latest",
}


def _unsafe(action: str, _params: Any, method: str, _data: Any) -> bool:
    return method == "PUT" and f"/providers/{_VM}/" in action


def _driver_class() -> type[Any]:
    from libcloud.compute.drivers.azure_arm import AzureNodeDriver

    class SlothAzureNodeDriver(AzureNodeDriver):
        connectionCls = connection_class()

    return SlothAzureNodeDriver


class AzureDriver(CloudDriver):
    name = "azure"
    features = frozenset(
        {"ssh", "tags", "user-data", "host-key-at-creation", "firewall", "private-network",
         "catalog"}
    )  # fmt: skip
    image_aliases: ClassVar[dict[str, str]] = IMAGES
    default_region = "westeurope"
    default_size = "Standard_B2s"
    default_endpoint = MANAGEMENT_URL

    def __init__(
        self, settings: Any, credentials: dict[str, Any], region: str, guard: Any = None
    ) -> None:
        super().__init__(settings, credentials, region, guard)
        endpoint = settings.endpoint
        self.subscription = credentials["subscription_id"].reveal()
        self.azure = _driver_class()(
            credentials["tenant_id"].reveal(),
            self.subscription,
            credentials["client_id"].reveal(),
            credentials["client_secret"].reveal(),
            region=region,
            cloud_environment={
                # with an override, the token and every ARM request go to the endpoint
                "resourceManagerEndpointUrl": endpoint or MANAGEMENT_URL,
                "activeDirectoryEndpointUrl": endpoint or LOGIN_URL,
                "activeDirectoryResourceId": TOKEN_RESOURCE,
                "storageEndpointSuffix": ".core.windows.net",
            },
        )
        if guard is not None:
            guard_connection(self.azure.connection, guard, _unsafe)
        self.arm = Arm(
            self.azure.connection,
            Endpoint.parse(endpoint).path if endpoint else "",
            poll_interval=settings.poll_interval,
            timeout=settings.create_timeout,
        )

    def _path(self, cluster: str, kind: str, name: str = "") -> str:
        return bodies.in_group(self.subscription, cluster, kind, name)

    def _mine(self, items: list[dict[str, Any]], cluster: str) -> list[dict[str, Any]]:
        return [i for i in items if (i.get("tags") or {}).get(CLUSTER_TAG) == cluster]

    # -- machines -------------------------------------------------------------------------------

    def check_credentials(self) -> None:
        self.arm.get(f"/subscriptions/{self.subscription}", SUBSCRIPTIONS_API)

    def list_machines(self, cluster: str) -> list[Machine]:
        vms = self._mine(self.arm.list(self._path(cluster, _VM), COMPUTE_API), cluster)
        if not vms:
            return []
        nics = {n["id"].lower(): n for n in self.arm.list(self._path(cluster, _NIC), NETWORK_API)}
        ips = {i["id"].lower(): i for i in self.arm.list(self._path(cluster, _IP), NETWORK_API)}
        return [self._machine(vm, nics, ips) for vm in vms]

    @staticmethod
    def _machine(
        vm: dict[str, Any], nics: dict[str, dict[str, Any]], ips: dict[str, dict[str, Any]]
    ) -> Machine:
        properties = vm.get("properties") or {}
        private = public = None
        for reference in (properties.get("networkProfile") or {}).get("networkInterfaces") or []:
            nic = nics.get(str(reference.get("id", "")).lower()) or {}
            for config in (nic.get("properties") or {}).get("ipConfigurations") or []:
                settings = config.get("properties") or {}
                private = private or settings.get("privateIPAddress")
                ip_id = str((settings.get("publicIPAddress") or {}).get("id", "")).lower()
                public = public or ((ips.get(ip_id) or {}).get("properties") or {}).get("ipAddress")
        state = str(properties.get("provisioningState", "")).lower()
        return Machine(
            id=vm["id"],
            name=vm["name"],
            state=_STATES.get(state, "unknown"),  # type: ignore[arg-type]
            public_ip=public,
            private_ip=private,
            tags=dict(vm.get("tags") or {}),
            extra={"vmSize": (properties.get("hardwareProfile") or {}).get("vmSize")},
        )

    def create_machine(self, spec: MachineSpec) -> Machine:
        if spec.network is None or spec.firewall is None:
            raise ProviderError(
                f"azure: {spec.name}: Azure machines need the cluster's virtual network and "
                "network security group (a Standard public IP refuses all inbound traffic "
                "without one)",
                provider="azure",
                hint="leave privateNetwork and firewall at true in spec.providers.azure",
            )
        location, tags = spec.region, spec.tags
        ip_id = self._path(spec.cluster, _IP, f"{spec.name}-ip")
        self.arm.put(ip_id, NETWORK_API, bodies.public_ip_body(location, tags))
        nic_id = self._path(spec.cluster, _NIC, f"{spec.name}-nic")
        subnet_id = f"{spec.network.id}/subnets/{bodies.SUBNET}"
        self.arm.put(
            nic_id, NETWORK_API, bodies.nic_body(location, tags, subnet_id, ip_id, spec.firewall.id)
        )
        body = bodies.vm_body(
            name=spec.name, location=location, tags=tags, size=spec.size, image=spec.image,
            nic_id=nic_id, admin=self.settings.admin_username, operator_key=spec.operator_key,
            user_data=spec.user_data, disk_type=self.settings.os_disk_type,
        )  # fmt: skip
        # Not waited for: the provider polls the listing until provisioningState is Succeeded.
        vm = self.arm.put(self._path(spec.cluster, _VM, spec.name), COMPUTE_API, body, wait=False)
        return self._machine(vm, {}, {})

    def destroy_machine(self, machine: Machine) -> None:
        # deleteOption: Delete removes the NIC and OS disk with the VM; the explicit deletes
        # below are no-ops then (204), and clean up after API versions or images that ignore it.
        self.arm.delete(machine.id, COMPUTE_API)
        parts = bodies.node_resources(machine.id)
        self.arm.delete(parts["nic"], NETWORK_API)
        self.arm.delete(parts["ip"], NETWORK_API)
        self.arm.delete(parts["disk"], DISK_API)

    # -- network --------------------------------------------------------------------------------

    def _ensure_group(self, cluster: str) -> None:
        body = {"location": self.region, "tags": cluster_tags(cluster)}
        self.arm.put(bodies.group_path(self.subscription, cluster), RESOURCES_API, body)

    def create_network(self, cluster: str, cidr: str) -> Resource:
        self._ensure_group(cluster)
        name = bodies.group_name(cluster)
        path = self._path(cluster, _VNET, name)
        body = bodies.network_body(self.region, cidr, cluster_tags(cluster))
        found = self.arm.put(path, NETWORK_API, body)
        return Resource("network", str(found.get("id") or path), name)

    def list_networks(self, cluster: str) -> list[Resource]:
        found = self._mine(self.arm.list(self._path(cluster, _VNET), NETWORK_API), cluster)
        return [Resource("network", n["id"], n["name"]) for n in found]

    def delete_network(self, network: Resource) -> None:
        self.arm.delete(network.id, NETWORK_API)
        group = network.id.split("/providers/", 1)[0]
        cluster = self._cluster_of_group(group)
        if cluster is not None:  # the group goes last, and only when it is ours
            self.arm.delete(group, RESOURCES_API)

    def _cluster_of_group(self, group_path: str) -> str | None:
        from libcloud.common.exceptions import BaseHTTPError

        try:
            group = self.arm.get(group_path, RESOURCES_API)
        except BaseHTTPError as error:
            if error.code == 404:
                return None
            raise
        value = (group.get("tags") or {}).get(CLUSTER_TAG)
        return str(value) if value else None

    # -- firewall -------------------------------------------------------------------------------

    def create_firewall(
        self, cluster: str, rules: Sequence[FirewallRule], network: Resource | None
    ) -> Resource:
        if network is None:
            self._ensure_group(cluster)
        name = bodies.group_name(cluster)
        path = self._path(cluster, _NSG, name)
        body = {
            "location": self.region,
            "tags": cluster_tags(cluster),
            "properties": {"securityRules": bodies.security_rules(rules)},
        }
        found = self.arm.put(path, NETWORK_API, body)
        return Resource("firewall", str(found.get("id") or path), name)

    firewall_update_blocker = None

    def update_firewall_rules(self, firewall: Resource, rules: Sequence[FirewallRule]) -> None:
        # An NSG PUT replaces its securityRules as a whole (Microsoft.Network
        # networkSecurityGroups CreateOrUpdate); location and tags are sent back as found.
        group = self.arm.get(firewall.id, NETWORK_API)
        body = {
            "location": group.get("location") or self.region,
            "tags": group.get("tags") or {},
            "properties": {"securityRules": bodies.security_rules(rules)},
        }
        self.arm.put(firewall.id, NETWORK_API, body)

    def list_firewalls(self, cluster: str) -> list[Resource]:
        found = self._mine(self.arm.list(self._path(cluster, _NSG), NETWORK_API), cluster)
        return [Resource("firewall", g["id"], g["name"]) for g in found]

    def delete_firewall(self, firewall: Resource) -> None:
        self.arm.delete(firewall.id, NETWORK_API)

    def firewall_rules(self, firewall: Resource) -> list[FirewallRule]:
        group = self.arm.get(firewall.id, NETWORK_API)
        found = [
            bodies.rule_from(r) for r in (group.get("properties") or {}).get("securityRules") or []
        ]
        return [r for r in found if r is not None]

    # -- catalog --------------------------------------------------------------------------------

    def list_sizes(self) -> list[Size]:
        # The vmSizes list has cores and memory but no prices (those are in the separate,
        # unauthenticated Retail Prices API): the price stays None.
        path = f"/subscriptions/{self.subscription}/providers/Microsoft.Compute/locations/"
        sizes = [
            Size(s["name"], int(s["numberOfCores"]), int(s["memoryInMB"]) / 1024, None)
            for s in self.arm.list(f"{path}{self.region}/vmSizes", COMPUTE_API)
        ]
        return sorted(sizes, key=lambda s: (s.cpu, s.memory_gib, s.id))

    def list_images(self) -> list[Image]:
        return [Image(urn, alias) for alias, urn in IMAGES.items()]

    def list_regions(self) -> list[Region]:
        found = self.arm.list(f"/subscriptions/{self.subscription}/locations", SUBSCRIPTIONS_API)
        return [Region(r["name"], r.get("displayName", r["name"])) for r in found]

    # -- proof ----------------------------------------------------------------------------------

    def list_resources(self, cluster: str) -> list[Resource]:
        """Everything in the subscription tagged with ``cluster``, resource groups included."""
        where = {"$filter": f"tagName eq '{CLUSTER_TAG}' and tagValue eq '{cluster}'"}
        base = f"/subscriptions/{self.subscription}"
        found = self.arm.list(f"{base}/resources", RESOURCES_API, where)
        found += self.arm.list(f"{base}/resourcegroups", RESOURCES_API, where)
        return [
            Resource(
                _KINDS.get(str(r.get("type", "")).lower(), "machine"),  # type: ignore[arg-type]
                r["id"],
                (r.get("tags") or {}).get(NODE_TAG) or r["name"],
            )
            for r in found
        ]
