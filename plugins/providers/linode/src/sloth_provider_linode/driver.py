"""The contract over Linode's v4 API, through libcloud's Linode connection.

Instances and the firewall carry the string tags ``sloth-cluster:<cluster>`` and
``sloth-node:<name>`` and are listed with an ``X-Filter`` on tags. The operator key goes in
``authorized_keys`` at creation (Linode profile keys are per user, not per cluster, so no key is
imported); user data goes through the Metadata service (base64). Instances are created with the
cluster's ``firewall_id``, so they are protected from their first boot. Linode limits labels to
64 and tags to 50 characters: longer node names are refused up front rather than silently
shortened (adoption matches names).
Private network: a VPC labelled ``sloth-<cluster>`` (VPCs take no tags; the label is unique per
account) with one subnet of ``networkCIDR``; instances get two configuration interfaces, ``public``
(eth0, the default route) and ``vpc`` on that subnet (eth1), and their VPC address — read from
``/vpcs/{id}/ips`` — is the node's private address. Without the VPC (``privateNetwork: false``)
instances get Linode's legacy private IPv4 (192.168.128.0/17), shared by every customer of the
region, which the mesh treats as untrusted like any other path.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Sequence
from typing import Any, ClassVar

from sloth_kubernetes.plugin import (
    CLUSTER_TAG,
    NODE_TAG,
    CloudDriver,
    FirewallRule,
    Image,
    Machine,
    MachineSpec,
    ProviderError,
    Resource,
    Size,
    flat_tags,
    guard_connection,
    point_connection_at,
    register_secret,
)

_STATES = {
    "provisioning": "pending",
    "booting": "pending",
    "rebuilding": "pending",
    "running": "running",
    "offline": "stopped",
    "shutting_down": "stopped",
    "deleting": "terminated",
}
TAG_LIMIT = 50
FIREWALL_LABEL_LIMIT = 32
VPC_LABEL_LIMIT = 64


def _unsafe(action: str, _params: Any, method: str, _data: Any) -> bool:
    return method == "POST" and action.rstrip("/").endswith("/linode/instances")


class LinodeDriver(CloudDriver):
    name = "linode"
    features = frozenset(
        {
            "ssh",
            "tags",
            "user-data",
            "host-key-at-creation",
            "firewall",
            "private-network",
            "catalog",
        }
    )
    image_aliases: ClassVar[dict[str, str]] = {
        "ubuntu-24.04": "linode/ubuntu24.04",
        "ubuntu-22.04": "linode/ubuntu22.04",
        "debian-12": "linode/debian12",
    }
    default_region = "eu-central"
    default_size = "g6-standard-2"
    default_endpoint = "https://api.linode.com"

    def __init__(
        self, settings: Any, credentials: dict[str, Any], region: str, guard: Any = None
    ) -> None:
        super().__init__(settings, credentials, region, guard)
        from libcloud.compute.drivers.linode import LinodeNodeDriver

        self.linode = LinodeNodeDriver(credentials["token"].reveal(), api_version="4.0")
        self.prefix = ""
        self._vpcs: dict[str, tuple[str, int]] = {}  # cluster -> (VPC id, subnet id), once found
        if settings.endpoint:  # the driver ignores host/port arguments: re-point its connection
            self.prefix = point_connection_at(self.linode.connection, settings.endpoint)
        if guard is not None:
            guard_connection(self.linode.connection, guard, _unsafe)

    def _request(
        self, method: str, path: str, body: Any = None, *, where: Any = None, **params: Any
    ) -> Any:
        headers = {"X-Filter": json.dumps(where)} if where is not None else None
        reply = self.linode.connection.request(
            self.prefix + "/v4" + path,
            params=params or None,
            data=json.dumps(body) if body is not None else None,
            headers=headers,
            method=method,
        )
        return reply.object

    def _all(self, path: str, where: Any = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page, pages = 1, 1
        while page <= pages:
            reply = self._request("GET", path, where=where, page=page, page_size=500)
            items += reply.get("data") or []
            pages = int(reply.get("pages") or 1)
            page += 1
        return items

    @staticmethod
    def _cluster_tag(cluster: str) -> str:
        return f"{CLUSTER_TAG}:{cluster}"

    # -- machines -------------------------------------------------------------------------------

    def check_credentials(self) -> None:
        self._request("GET", "/regions")

    def list_machines(self, cluster: str) -> list[Machine]:
        found = self._all("/linode/instances", {"tags": self._cluster_tag(cluster)})
        vpc = self._vpc(cluster) if found and self.settings.private_network else None
        addresses: dict[int, str] = {}
        if vpc is not None:  # one request for every node's VPC address
            for ip in self._all(f"/vpcs/{vpc[0]}/ips"):
                if ip.get("address") and ip.get("linode_id") is not None:
                    addresses[int(ip["linode_id"])] = ip["address"]
        return [self._machine(i, addresses.get(int(i["id"]))) for i in found]

    @staticmethod
    def _machine(instance: dict[str, Any], vpc_address: str | None = None) -> Machine:
        public = [a for a in instance.get("ipv4") or [] if not a.startswith("192.168.")]
        private = [a for a in instance.get("ipv4") or [] if a.startswith("192.168.")]
        tags = dict(t.split(":", 1) for t in instance.get("tags") or [] if ":" in t)
        return Machine(
            id=str(instance["id"]),
            name=instance["label"],
            state=_STATES.get(instance.get("status", ""), "unknown"),  # type: ignore[arg-type]
            public_ip=public[0] if public else None,
            private_ip=vpc_address or (private[0] if private else None),
            tags=tags,
            extra={"type": instance.get("type")},
        )

    def create_machine(self, spec: MachineSpec) -> Machine:
        tags = flat_tags(spec.tags)
        too_long = [t for t in tags if len(t) > TAG_LIMIT] + (
            [spec.name] if not 3 <= len(spec.name) <= 64 else []
        )
        if too_long:
            raise ProviderError(
                f"linode: {spec.name}: Linode limits tags to {TAG_LIMIT} and labels to 64 "
                f"characters: {', '.join(too_long)}",
                provider="linode",
                hint="shorten the cluster or pool name",
            )
        root_password = secrets.token_urlsafe(32)  # required with an image; never used or kept
        register_secret(root_password)
        body: dict[str, Any] = {
            "label": spec.name,
            "region": spec.region,
            "type": spec.size,
            "image": spec.image,
            "root_pass": root_password,
            "authorized_keys": [spec.operator_key] if spec.operator_key else [],
            "metadata": {"user_data": base64.b64encode(spec.user_data.encode()).decode()},
            "tags": tags,
            "private_ip": spec.network is None,
            "booted": True,
        }
        if spec.firewall is not None:  # protected from its first boot, no extra request
            body["firewall_id"] = int(spec.firewall.id)
        if spec.network is not None:
            subnet = self._subnet_of(spec.network)
            body["interfaces"] = [
                {"purpose": "public", "primary": True},
                {"purpose": "vpc", "subnet_id": subnet, "ipv4": {"nat_1_1": None}},
            ]
        # The reply has no interfaces: the VPC address shows in the listings that follow.
        return self._machine(self._request("POST", "/linode/instances", body))

    def destroy_machine(self, machine: Machine) -> None:
        self._request("DELETE", f"/linode/instances/{machine.id}")

    # -- firewall -------------------------------------------------------------------------------

    def create_firewall(
        self, cluster: str, rules: Sequence[FirewallRule], network: Resource | None
    ) -> Resource:
        label = f"sloth-{cluster}"[:FIREWALL_LABEL_LIMIT]
        body = {
            "label": label,
            "tags": [self._cluster_tag(cluster)],
            "rules": {
                "inbound_policy": "DROP",
                "outbound_policy": "ACCEPT",
                "inbound": [self._rule(r, index) for index, r in enumerate(rules)],
                "outbound": [],
            },
        }
        firewall = self._request("POST", "/networking/firewalls", body)
        return Resource("firewall", str(firewall["id"]), firewall["label"])

    @staticmethod
    def _rule(rule: FirewallRule, index: int) -> dict[str, Any]:
        converted: dict[str, Any] = {
            "action": "ACCEPT",
            "protocol": rule.protocol.upper(),
            "addresses": {"ipv4": list(rule.sources)},
            "label": f"sloth-rule-{index}",
        }
        if rule.protocol != "icmp":
            converted["ports"] = rule.ports
        return converted

    firewall_update_blocker = None

    def update_firewall_rules(self, firewall: Resource, rules: Sequence[FirewallRule]) -> None:
        # PUT .../rules replaces both rule sets (Linode API v4, "Update Firewall rules").
        body = {
            "inbound_policy": "DROP",
            "outbound_policy": "ACCEPT",
            "inbound": [self._rule(r, index) for index, r in enumerate(rules)],
            "outbound": [],
        }
        self._request("PUT", f"/networking/firewalls/{firewall.id}/rules", body)

    def list_firewalls(self, cluster: str) -> list[Resource]:
        found = self._all("/networking/firewalls", {"tags": self._cluster_tag(cluster)})
        return [Resource("firewall", str(f["id"]), f["label"]) for f in found]

    def delete_firewall(self, firewall: Resource) -> None:
        self._request("DELETE", f"/networking/firewalls/{firewall.id}")

    def firewall_rules(self, firewall: Resource) -> list[FirewallRule]:
        found = self._request("GET", f"/networking/firewalls/{firewall.id}")
        return [
            FirewallRule(
                r["protocol"].lower(),
                r.get("ports") or "0",
                tuple((r.get("addresses") or {}).get("ipv4") or ()),
            )
            for r in (found.get("rules") or {}).get("inbound") or []
        ]

    # -- private network (VPC) ------------------------------------------------------------------

    @staticmethod
    def _vpc_label(cluster: str) -> str:
        return f"sloth-{cluster}"[:VPC_LABEL_LIMIT]

    def create_network(self, cluster: str, cidr: str) -> Resource:
        body = {
            "label": self._vpc_label(cluster),
            "description": f"sloth-kubernetes cluster {cluster}",
            "region": self.region,
            "subnets": [{"label": "nodes", "ipv4": cidr}],
        }
        vpc = self._request("POST", "/vpcs", body)
        self._vpcs[cluster] = (str(vpc["id"]), int(vpc["subnets"][0]["id"]))
        return Resource("network", str(vpc["id"]), vpc["label"])

    def _vpc(self, cluster: str) -> tuple[str, int] | None:
        """(VPC id, subnet id) of the cluster's VPC, looked up once per driver."""
        if cluster not in self._vpcs:
            label = self._vpc_label(cluster)
            for vpc in self._all("/vpcs", {"label": label}):
                if vpc.get("label") == label and vpc.get("subnets"):
                    self._vpcs[cluster] = (str(vpc["id"]), int(vpc["subnets"][0]["id"]))
        return self._vpcs.get(cluster)

    def _subnet_of(self, network: Resource) -> int:
        for vpc_id, subnet in self._vpcs.values():
            if vpc_id == network.id:
                return subnet
        vpc = self._request("GET", f"/vpcs/{network.id}")
        return int(vpc["subnets"][0]["id"])

    def list_networks(self, cluster: str) -> list[Resource]:
        label = self._vpc_label(cluster)
        return [
            Resource("network", str(v["id"]), v["label"])
            for v in self._all("/vpcs", {"label": label})
            if v.get("label") == label
        ]

    def delete_network(self, network: Resource) -> None:
        self._request("DELETE", f"/vpcs/{network.id}")
        self._vpcs = {c: v for c, v in self._vpcs.items() if v[0] != network.id}

    # -- catalog --------------------------------------------------------------------------------

    def list_sizes(self) -> list[Size]:
        sizes = []
        for kind in self._all("/linode/types"):
            price = (kind.get("price") or {}).get("hourly")
            sizes.append(
                Size(
                    kind["id"],
                    int(kind["vcpus"]),
                    int(kind["memory"]) / 1024,
                    float(price) if price is not None else None,
                )
            )
        return sizes

    def list_images(self) -> list[Image]:
        return [Image(i["id"], i.get("label", "")) for i in self._all("/images")]


__all__ = ["NODE_TAG", "LinodeDriver"]
