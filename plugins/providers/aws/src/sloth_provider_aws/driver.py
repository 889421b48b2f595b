"""The contract over libcloud's ``EC2NodeDriver``.

Everything is tagged ``sloth-cluster``/``sloth-node`` (key pairs: named ``sloth-<cluster>``, as
libcloud cannot tag them) and listed with ``tag:`` filters. The private network is a VPC with one
subnet, an internet gateway and a default route; the firewall a security group in it. Instances
need only the subnet and the group to be created, so the gateway, the route and the group's rules
are deferred to :meth:`AwsDriver.settle`, which the provider runs while the instances are being
created (an instance gets its public address without a gateway; it is reachable once the route
and rules exist, before provisioning returns). Polls look instances up by id, and deletes go 100
instances per ``TerminateInstances``.
Pitfalls handled: SigV4 (SigV2 sends moto's calls to S3), ``host``/``port`` from ``endpoint``.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from sloth_kubernetes.plugin import (
    CLUSTER_TAG,
    CloudDriver,
    Endpoint,
    FirewallRule,
    Image,
    Machine,
    MachineSpec,
    ProviderError,
    Resource,
    Size,
    cluster_tags,
    firewall_changes,
    guard_connection,
)

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


#: VPC id → the subnet machines are created in (shared by the worker threads).
_subnets: dict[str, str] = {}
#: VPC id → (range, tags) of a VPC created in this process and still without its subnet.
_new_networks: dict[str, tuple[str, dict[str, str]]] = {}
_subnets_lock = threading.Lock()


#: Instance ids per DescribeInstances filter value list / per TerminateInstances request
#: (AWS accepts up to 1000 ids to terminate and recommends smaller batches).
_IDS_PER_POLL = 200
_IDS_PER_TERMINATE = 100


def _unsafe(_action: str, params: Any, _method: str, _data: Any) -> bool:
    return isinstance(params, dict) and params.get("Action") == "RunInstances"


def _action(_path: str, params: Any, _method: str, _data: Any) -> str | None:
    """The EC2 action: AWS throttles each action with its own token bucket."""
    return params.get("Action") if isinstance(params, dict) else None


def _not_found(error: Exception, *codes: str) -> bool:
    """Whether EC2 answered with one of ``codes`` (by default: no such instance)."""
    text = str(getattr(error, "message", "") or error)
    return text.startswith(codes or ("InvalidInstanceID.NotFound",))


#: What EC2 answers when a step of deleting a VPC was already done (its reply lost, the retry
#: repeated it): the gateway is detached or gone, the subnet gone.
_ALREADY_DONE = ("Gateway.NotAttached", "InvalidInternetGatewayID.NotFound",
                 "InvalidSubnetID.NotFound")  # fmt: skip


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
    destroy_batch = _IDS_PER_TERMINATE

    def __init__(
        self, settings: Any, credentials: dict[str, Any], region: str, guard: Any = None
    ) -> None:
        super().__init__(settings, credentials, region, guard)
        from libcloud.compute.drivers.ec2 import EC2NodeDriver

        kwargs: dict[str, Any] = {"region": region, "signature_version": "4"}
        if settings.endpoint:
            endpoint = Endpoint.parse(settings.endpoint)
            kwargs.update(host=endpoint.host, port=endpoint.port, secure=endpoint.secure)
        self.ec2 = EC2NodeDriver(
            credentials["access_key_id"].reveal(),
            credentials["secret_access_key"].reveal(),
            **kwargs,
        )
        if guard is not None:
            guard_connection(self.ec2.connection, guard, _unsafe, limit_key=_action)
        # what create_network/create_firewall left for settle(), in order
        self._deferred: list[Callable[[], None]] = []

    def _call(self, action: str, **params: str) -> Any:
        return self.ec2.connection.request(self.ec2.path, params={"Action": action, **params})

    # -- machines -------------------------------------------------------------------------------

    def check_credentials(self) -> None:
        self._call("DescribeAvailabilityZones")

    def list_machines(self, cluster: str) -> list[Machine]:
        # Not libcloud's list_nodes: it ignores NextToken (moto pages at 100 instances, so 400 of
        # 500 machines stayed invisible) and adds a DescribeAddresses call to every listing.
        return self._describe((f"tag:{CLUSTER_TAG}", [cluster]))

    def refresh_machines(self, cluster: str, machines: Sequence[Machine]) -> list[Machine]:
        # By id, with an ``instance-id`` filter (the InstanceId parameter fails the whole
        # request on an id not yet visible, which EC2's eventual consistency allows right after
        # RunInstances). The ids are the cluster's own, so no tag filter: a poll costs the
        # machines still booting, not the cluster.
        ids = sorted({machine.id for machine in machines})
        found: list[Machine] = []
        for start in range(0, len(ids), _IDS_PER_POLL):
            found += self._describe(("instance-id", ids[start : start + _IDS_PER_POLL]))
        return found

    def _describe(self, *filters: tuple[str, Sequence[str]]) -> list[Machine]:
        """DescribeInstances with ``filters`` (name, values), every page."""
        from libcloud.compute.drivers.ec2 import NAMESPACE
        from libcloud.utils.xml import findall, findtext

        machines: list[Machine] = []
        token = ""
        while True:
            params = {"MaxResults": "1000"}
            for number, (name, values) in enumerate(filters, start=1):
                params[f"Filter.{number}.Name"] = name
                for index, value in enumerate(values, start=1):
                    params[f"Filter.{number}.Value.{index}"] = value
            if token:
                params["NextToken"] = token
            reply = self._call("DescribeInstances", **params).object
            for reservation in findall(reply, "reservationSet/item", NAMESPACE):
                nodes = self.ec2._to_nodes(reservation, "instancesSet/item")
                machines += [self._machine(n) for n in nodes]
            token = findtext(reply, "nextToken", NAMESPACE) or ""
            if not token:
                return machines

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
            with _subnets_lock:  # looked up once per VPC and process, not once per machine
                subnet_id = _subnets.get(spec.network.id)
                if subnet_id is None:
                    subnets = self.ec2.ex_list_subnets(filters={"vpc-id": spec.network.id})
                    subnet_id = _subnets.setdefault(spec.network.id, subnets[0].id)
            subnet = EC2NetworkSubnet(subnet_id, "", "available")
        node = self.ec2.create_node(
            name=spec.name,
            size=NodeSize(spec.size, spec.size, 0, 0, 0, 0, self.ec2),
            image=NodeImage(spec.image, spec.image, self.ec2),
            ex_keyname=spec.key.name if spec.key else None,
            ex_userdata=spec.user_data,
            # group ids need a subnet; without our VPC (privateNetwork: false) the default VPC's
            # group is named instead
            ex_security_group_ids=[spec.firewall.id] if spec.firewall and subnet else None,
            ex_security_groups=[spec.firewall.name] if spec.firewall and not subnet else None,
            ex_subnet=subnet,
            ex_assign_public_ip=subnet is not None,
            ex_metadata=spec.tags,
        )
        return self._machine(node)

    def destroy_machine(self, machine: Machine) -> None:
        self._call("TerminateInstances", **{"InstanceId.1": machine.id})

    def destroy_machines(self, machines: Sequence[Machine]) -> None:
        ids = {f"InstanceId.{n}": m.id for n, m in enumerate(machines, start=1)}
        try:
            self._call("TerminateInstances", **ids)
        except Exception as error:
            # one unknown id fails the whole request: delete the others one by one
            if not _not_found(error) or len(machines) == 1:
                raise
            for machine in machines:
                try:
                    self.destroy_machine(machine)
                except Exception as single:
                    if not _not_found(single):
                        raise

    def console_output(self, machine: Machine) -> str:
        from libcloud.compute.base import Node
        from libcloud.compute.types import NodeState

        node = Node(machine.id, machine.name, NodeState.UNKNOWN, [], [], self.ec2)
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
        tags = {"Name": name, **cluster_tags(cluster)}
        vpc_id = self._create("CreateVpc", "vpc", tags, "vpcId", CidrBlock=cidr)
        with _subnets_lock:  # complete_network, on another thread, creates its subnet
            _new_networks[vpc_id] = (cidr, tags)
        self._deferred.append(lambda: self._route_to_internet(vpc_id, tags))
        return Resource("network", vpc_id, name)

    def complete_network(self, network: Resource) -> None:
        """The VPC's subnet — the first /20 of its range, in zone ``<region>a`` — created for a
        new VPC; found (or, if an earlier run stopped before it, created) for an existing one."""
        with _subnets_lock:
            if network.id in _subnets:
                return
            new = _new_networks.pop(network.id, None)
        if new is None:
            found = self.ec2.ex_list_subnets(filters={"vpc-id": network.id})
            if found:
                with _subnets_lock:
                    _subnets.setdefault(network.id, found[0].id)
                return
            new = self._vpc_range_and_tags(network.id)
        cidr, tags = new
        subnet_cidr = str(next(ipaddress.IPv4Network(cidr).subnets(new_prefix=20), cidr))
        subnet_id = self._create(
            "CreateSubnet", "subnet", tags, "subnetId",
            VpcId=network.id, CidrBlock=subnet_cidr, AvailabilityZone=f"{self.region}a",
        )  # fmt: skip
        with _subnets_lock:
            _subnets.setdefault(network.id, subnet_id)

    def _vpc_range_and_tags(self, vpc_id: str) -> tuple[str, dict[str, str]]:
        reply = self._call("DescribeVpcs", **{"VpcId.1": vpc_id}).object
        cidr = reply.findtext(".//{*}cidrBlock")
        if not cidr:
            raise ProviderError(f"aws: VPC {vpc_id} has no CIDR block", provider="aws")
        tags = {
            item.findtext("{*}key") or "": item.findtext("{*}value") or ""
            for item in reply.iterfind(".//{*}tagSet/{*}item")
        }
        return cidr, {k: v for k, v in tags.items() if k in ("Name", CLUSTER_TAG)}

    def _route_to_internet(self, vpc_id: str, tags: dict[str, str]) -> None:
        """Internet gateway, attached, and the default route of the VPC's route table(s)."""
        gateway = self._create(
            "CreateInternetGateway", "internet-gateway", tags, "internetGatewayId"
        )
        self._call("AttachInternetGateway", InternetGatewayId=gateway, VpcId=vpc_id)
        tables = self._call("DescribeRouteTables", **{"Filter.1.Name": "vpc-id",
                                                      "Filter.1.Value.1": vpc_id})  # fmt: skip
        # routeTableId also appears inside each table's associations: one route per table
        for table_id in sorted(
            {t.text or "" for t in tables.object.iterfind(".//{*}routeTableId")}
        ):
            self._call(
                "CreateRoute", RouteTableId=table_id,
                DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway,
            )  # fmt: skip

    def settle(self) -> None:
        deferred, self._deferred = self._deferred, []
        errors = []
        for step in deferred:  # each step is independent: try them all, report the first error
            try:
                step()
            except Exception as error:
                errors.append(error)
        if errors:
            raise errors[0]

    def _create(
        self, action: str, kind: str, tags: dict[str, str], id_field: str, **params: str
    ) -> str:
        """One create call with its tags (TagSpecification): no separate CreateTags request."""
        params["TagSpecification.1.ResourceType"] = kind
        for index, (key, value) in enumerate(sorted(tags.items()), start=1):
            params[f"TagSpecification.1.Tag.{index}.Key"] = key
            params[f"TagSpecification.1.Tag.{index}.Value"] = value
        reply = self._call(action, **params).object
        found = reply.findtext(f".//{{*}}{id_field}")
        if not found:
            raise ProviderError(f"aws: {action} answered without {id_field}", provider="aws")
        return str(found)

    def list_networks(self, cluster: str) -> list[Resource]:
        return [
            Resource("network", n.id, n.name)
            for n in self.ec2.ex_list_networks(filters={f"tag:{CLUSTER_TAG}": cluster})
        ]

    def delete_network(self, network: Resource) -> None:
        from libcloud.compute.drivers.ec2 import EC2Network

        vpc = EC2Network(network.id, network.name, "")
        # Each step tolerates "already done" itself: the VPC's own "not found" is the caller's
        # to judge, and a step's must not pass for it (the VPC would be left behind).
        for gateway in self.ec2.ex_list_internet_gateways(
            filters={"attachment.vpc-id": network.id}
        ):
            self._unless_done(self.ec2.ex_detach_internet_gateway, gateway, vpc)
            self._unless_done(self.ec2.ex_delete_internet_gateway, gateway)
        for subnet in self.ec2.ex_list_subnets(filters={"vpc-id": network.id}):
            self._unless_done(self.ec2.ex_delete_subnet, subnet)
        with _subnets_lock:
            _subnets.pop(network.id, None)
            _new_networks.pop(network.id, None)
        self.ec2.ex_delete_network(vpc)

    @staticmethod
    def _unless_done(step: Callable[..., object], *args: object) -> None:
        try:
            step(*args)
        except Exception as error:
            if not _not_found(error, *_ALREADY_DONE):
                raise

    # -- firewall -------------------------------------------------------------------------------

    def create_firewall(
        self, cluster: str, rules: Sequence[FirewallRule], network: Resource | None
    ) -> Resource:
        name = f"sloth-{cluster}"
        params = {"GroupName": name, "GroupDescription": f"sloth-kubernetes cluster {cluster}"}
        if network is not None:
            params["VpcId"] = network.id
        tags = {"Name": name, **cluster_tags(cluster)}
        group_id = self._create("CreateSecurityGroup", "security-group", tags, "groupId", **params)
        self._deferred.append(lambda: self._authorize(group_id, rules))
        return Resource("firewall", group_id, name)

    firewall_update_blocker = None

    def update_firewall_rules(self, firewall: Resource, rules: Sequence[FirewallRule]) -> None:
        # Security group permissions are added and removed one (protocol, ports, CIDR) at a
        # time: authorize what is missing, revoke what the cluster no longer wants.
        changes = firewall_changes(self.firewall_rules(firewall), rules)

        def one(permission: tuple[str, str, str]) -> FirewallRule:
            protocol, ports, source = permission
            return FirewallRule(protocol, ports, (source,))  # type: ignore[arg-type]

        if changes.added:
            self._authorize(firewall.id, [one(p) for p in changes.added])
        if changes.removed:
            revoke = "RevokeSecurityGroupIngress"
            self._authorize(firewall.id, [one(p) for p in changes.removed], action=revoke)

    def _authorize(
        self,
        group_id: str,
        rules: Sequence[FirewallRule],
        action: str = "AuthorizeSecurityGroupIngress",
    ) -> None:
        permissions = {"GroupId": group_id}
        for index, rule in enumerate(rules, start=1):  # all rules in one request
            low, high = rule.port_range
            if rule.protocol == "icmp":
                low = high = -1
            prefix = f"IpPermissions.{index}."
            permissions[prefix + "IpProtocol"] = rule.protocol
            permissions[prefix + "FromPort"] = str(low)
            permissions[prefix + "ToPort"] = str(high)
            for number, source in enumerate(rule.sources, start=1):
                permissions[f"{prefix}IpRanges.{number}.CidrIp"] = source
        self._call(action, **permissions)

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
