"""The contract over libcloud's ``EC2NodeDriver``.

Everything is tagged ``sloth-cluster``/``sloth-node`` (key pairs: named ``sloth-<cluster>``, as
libcloud cannot tag them) and listed with ``tag:`` filters. The private network is a VPC with one
subnet, an internet gateway and a default route; the firewall a security group in it.
Pitfalls handled: SigV4 (SigV2 sends moto's calls to S3), ``host``/``port`` from ``endpoint``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import urlsplit

from sloth_kubernetes.cloud import (
    CLUSTER_TAG,
    CloudDriver,
    FirewallRule,
    Image,
    Machine,
    MachineSpec,
    Resource,
    Size,
    cluster_tags,
    guard_connection,
)
from sloth_kubernetes.errors import ProviderError

_STATES = {
    "running": "running",
    "pending": "pending",
    "stopped": "stopped",
    "terminated": "terminated",
}
#: alias → (image name pattern) looked up among ``imageOwners``' images, newest first.
_IMAGE_NAMES = {
    "ubuntu-24.04": "ubuntu/images/*/ubuntu-noble-24.04-amd64-server-*",
    "ubuntu-22.04": "ubuntu/images/*/ubuntu-jammy-22.04-amd64-server-*",
    "debian-12": "debian-12-amd64-*",
}


def _unsafe(_action: str, params: Any, _method: str, _data: Any) -> bool:
    return isinstance(params, dict) and params.get("Action") == "RunInstances"


class AwsDriver(CloudDriver):
    name = "aws"
    features = frozenset(
        {
            "ssh",
            "tags",
            "ssh-key-import",
            "user-data",
            "host-key-at-creation",
            "firewall",
            "private-network",
            "console-output",
            "catalog",
        }
    )
    image_aliases: ClassVar[dict[str, str]] = {a: f"alias:{a}" for a in _IMAGE_NAMES}
    default_region = "eu-west-1"
    default_size = "t3.medium"
    default_endpoint = "https://ec2.amazonaws.com"

    def __init__(
        self, settings: Any, credentials: dict[str, Any], region: str, guard: Any = None
    ) -> None:
        super().__init__(settings, credentials, region, guard)
        from libcloud.compute.drivers.ec2 import EC2NodeDriver

        kwargs: dict[str, Any] = {"region": region, "signature_version": "4"}
        if settings.endpoint:
            parts = urlsplit(settings.endpoint)
            kwargs.update(
                host=parts.hostname,
                port=parts.port or (443 if parts.scheme == "https" else 80),
                secure=parts.scheme == "https",
            )
        self.ec2 = EC2NodeDriver(
            credentials["access_key_id"].reveal(),
            credentials["secret_access_key"].reveal(),
            **kwargs,
        )
        if guard is not None:
            guard_connection(self.ec2.connection, guard, _unsafe)

    def _call(self, action: str, **params: str) -> Any:
        return self.ec2.connection.request(self.ec2.path, params={"Action": action, **params})

    def _tag(self, resource_id: str, tags: dict[str, str]) -> None:
        # libcloud's ex_create_tags numbers parameters from 0; EC2 (and moto) count from 1.
        params = {"ResourceId.1": resource_id}
        for index, (key, value) in enumerate(sorted(tags.items()), start=1):
            params[f"Tag.{index}.Key"], params[f"Tag.{index}.Value"] = key, value
        self._call("CreateTags", **params)

    # -- machines -------------------------------------------------------------------------------

    def check_credentials(self) -> None:
        self._call("DescribeAvailabilityZones")

    def list_machines(self, cluster: str) -> list[Machine]:
        nodes = self.ec2.list_nodes(ex_filters={f"tag:{CLUSTER_TAG}": cluster})
        return [self._machine(n) for n in nodes]

    @staticmethod
    def _machine(node: Any) -> Machine:
        state = str(node.extra.get("status") or node.state).lower()
        tags = dict(node.extra.get("tags") or {})
        return Machine(
            id=node.id,
            name=tags.get("Name", node.name),
            state=_STATES.get(state, "pending" if state == "unknown" else "unknown"),  # type: ignore[arg-type]
            public_ip=(node.public_ips or [None])[0],
            private_ip=(node.private_ips or [None])[0],
            tags=tags,
            extra={"instance_type": node.extra.get("instance_type")},
        )

    def resolve_image(self, image: str) -> str:
        if not image.startswith("alias:"):
            return image
        alias = image.removeprefix("alias:")
        images = self.ec2.list_images(
            ex_owner=None,
            ex_filters={"name": _IMAGE_NAMES[alias], "owner-id": list(self.settings.image_owners)},
        )
        if not images:
            raise ProviderError(
                f"aws: no image for {alias} in {self.region} among owners "
                + ", ".join(self.settings.image_owners),
                provider="aws",
                hint="give the pool an AMI id (image: ami-…), or set imageOwners",
            )
        newest = max(images, key=lambda i: str(i.extra.get("creation_date") or ""))
        return str(newest.id)

    def create_machine(self, spec: MachineSpec) -> Machine:
        from libcloud.compute.base import NodeImage, NodeSize
        from libcloud.compute.drivers.ec2 import EC2NetworkSubnet

        subnet = None
        if spec.network is not None:
            subnets = self.ec2.ex_list_subnets(filters={"vpc-id": spec.network.id})
            subnet = EC2NetworkSubnet(subnets[0].id, subnets[0].name, subnets[0].state)
        node = self.ec2.create_node(
            name=spec.name,
            size=NodeSize(spec.size, spec.size, 0, 0, 0, 0, self.ec2),
            image=NodeImage(spec.image, spec.image, self.ec2),
            ex_keyname=spec.key.name if spec.key else None,
            ex_userdata=spec.user_data,
            ex_security_group_ids=[spec.firewall.id] if spec.firewall else None,
            ex_subnet=subnet,
            ex_assign_public_ip=subnet is not None,
            ex_metadata=spec.tags,
        )
        return self._machine(node)

    def destroy_machine(self, machine: Machine) -> None:
        self._call("TerminateInstances", **{"InstanceId.1": machine.id})

    def console_output(self, machine: Machine) -> str:
        from libcloud.compute.base import Node

        node = Node(machine.id, machine.name, None, [], [], self.ec2)
        return str(self.ec2.ex_get_console_output(node).get("output") or "")

    # -- keys -----------------------------------------------------------------------------------

    def import_key(self, cluster: str, public_key: str) -> Resource:
        pair = self.ec2.import_key_pair_from_string(f"sloth-{cluster}", public_key)
        return Resource("key", pair.name, pair.name)

    def list_keys(self, cluster: str) -> list[Resource]:
        return [
            Resource("key", k.name, k.name)
            for k in self.ec2.list_key_pairs()
            if k.name == f"sloth-{cluster}"
        ]

    def delete_key(self, key: Resource) -> None:
        self._call("DeleteKeyPair", KeyName=key.name)

    # -- network --------------------------------------------------------------------------------

    def create_network(self, cluster: str, cidr: str) -> Resource:
        name = f"sloth-{cluster}"
        vpc = self.ec2.ex_create_network(cidr)  # its name= tags with 0-based indexes
        self._tag(vpc.id, {"Name": name, **cluster_tags(cluster)})
        subnet_cidr = str(next(ipaddress.IPv4Network(cidr).subnets(new_prefix=20), cidr))
        subnet = self.ec2.ex_create_subnet(vpc.id, subnet_cidr, f"{self.region}a")
        self._tag(subnet.id, {"Name": name, **cluster_tags(cluster)})
        gateway = self.ec2.ex_create_internet_gateway()
        self._tag(gateway.id, {"Name": name, **cluster_tags(cluster)})
        self.ec2.ex_attach_internet_gateway(gateway, vpc)
        for table in self.ec2.ex_list_route_tables(filters={"vpc-id": vpc.id}):
            self.ec2.ex_create_route(table, "0.0.0.0/0", internet_gateway=gateway)
        return Resource("network", vpc.id, name)

    def list_networks(self, cluster: str) -> list[Resource]:
        return [
            Resource("network", n.id, n.name)
            for n in self.ec2.ex_list_networks(filters={f"tag:{CLUSTER_TAG}": cluster})
        ]

    def delete_network(self, network: Resource) -> None:
        from libcloud.compute.drivers.ec2 import EC2Network

        vpc = EC2Network(network.id, network.name, "")
        for gateway in self.ec2.ex_list_internet_gateways(
            filters={"attachment.vpc-id": network.id}
        ):
            self.ec2.ex_detach_internet_gateway(gateway, vpc)
            self.ec2.ex_delete_internet_gateway(gateway)
        for subnet in self.ec2.ex_list_subnets(filters={"vpc-id": network.id}):
            self.ec2.ex_delete_subnet(subnet)
        self.ec2.ex_delete_network(vpc)

    # -- firewall -------------------------------------------------------------------------------

    def create_firewall(
        self, cluster: str, rules: Sequence[FirewallRule], network: Resource | None
    ) -> Resource:
        name = f"sloth-{cluster}"
        group = self.ec2.ex_create_security_group(
            name, f"sloth-kubernetes cluster {cluster}", vpc_id=network.id if network else None
        )
        group_id = group["group_id"]
        self._tag(group_id, {"Name": name, **cluster_tags(cluster)})
        for rule in rules:
            low, high = rule.port_range
            if rule.protocol == "icmp":
                low = high = -1
            self.ec2.ex_authorize_security_group_ingress(
                group_id, low, high, cidr_ips=list(rule.sources), protocol=rule.protocol
            )
        return Resource("firewall", group_id, name)

    def list_firewalls(self, cluster: str) -> list[Resource]:
        return [
            Resource("firewall", g.id, g.name)
            for g in self.ec2.ex_get_security_groups(filters={f"tag:{CLUSTER_TAG}": cluster})
        ]

    def delete_firewall(self, firewall: Resource) -> None:
        self.ec2.ex_delete_security_group_by_id(firewall.id)

    def firewall_rules(self, firewall: Resource) -> list[FirewallRule]:
        (group,) = self.ec2.ex_get_security_groups(group_ids=[firewall.id])
        rules = []
        for rule in group.ingress_rules:
            protocol = {"-1": "icmp", "1": "icmp"}.get(str(rule["protocol"]), rule["protocol"])
            low, high = int(rule["from_port"] or 0), int(rule["to_port"] or 0)
            ports = "0" if protocol == "icmp" else (f"{low}" if low == high else f"{low}-{high}")
            rules.append(FirewallRule(protocol, ports, tuple(rule["cidr_ips"])))
        return rules

    # -- catalog --------------------------------------------------------------------------------

    def list_sizes(self) -> list[Size]:
        # libcloud ships EC2's instance types and on-demand Linux prices: no request needed.
        sizes = []
        for size in self.ec2.list_sizes():
            cpu = size.extra.get("vcpu") or size.extra.get("cpu")
            if not cpu or not str(cpu).isdigit() or not size.ram:
                continue
            if "Graviton" in str(size.extra.get("physicalProcessor", "")):
                continue  # arm64: the image aliases are amd64
            price = float(size.price) if size.price else None
            sizes.append(Size(size.id, int(cpu), size.ram / 1024, price))
        return sorted(sizes, key=lambda s: (s.cpu, s.memory_gib, s.id))

    def list_images(self) -> list[Image]:
        return [Image(alias, target) for alias, target in _IMAGE_NAMES.items()]
