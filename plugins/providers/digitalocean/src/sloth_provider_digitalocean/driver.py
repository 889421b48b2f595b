"""The contract over DigitalOcean's v2 API, through libcloud's DigitalOcean connection.

libcloud's ``create_node`` sends ``"user_data": null`` without ``ex_user_data`` and silently
drops ``vpc_uuid``, so droplets are created with a direct ``POST /v2/droplets`` on the driver's
connection (auth, errors and JSON handling stay libcloud's). Droplets carry the string tags
``sloth-cluster:<cluster>`` and ``sloth-node:<name>``; the firewall applies to the cluster tag, so
new droplets are covered from their first boot. Keys, VPCs and firewalls have no tags here: they
are named ``sloth-<cluster>`` (the VPC's description also names the cluster).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar

from sloth_kubernetes.plugin import (
    CLUSTER_TAG,
    CloudDriver,
    FirewallRule,
    Image,
    Machine,
    MachineSpec,
    Resource,
    Size,
    flat_tags,
    guard_connection,
    point_connection_at,
)

_STATES = {"new": "pending", "active": "running", "off": "stopped", "archive": "terminated"}


def _unsafe(action: str, _params: Any, method: str, _data: Any) -> bool:
    return method == "POST" and action.rstrip("/").endswith("/v2/droplets")


class DigitalOceanDriver(CloudDriver):
    name = "digitalocean"
    features = frozenset(
        {
            "ssh",
            "tags",
            "ssh-key-import",
            "user-data",
            "host-key-at-creation",
            "firewall",
            "private-network",
            "catalog",
        }
    )
    image_aliases: ClassVar[dict[str, str]] = {
        "ubuntu-24.04": "ubuntu-24-04-x64",
        "ubuntu-22.04": "ubuntu-22-04-x64",
        "debian-12": "debian-12-x64",
    }
    default_region = "fra1"
    default_size = "s-2vcpu-4gb"
    default_endpoint = "https://api.digitalocean.com"

    def __init__(
        self, settings: Any, credentials: dict[str, Any], region: str, guard: Any = None
    ) -> None:
        super().__init__(settings, credentials, region, guard)
        from libcloud.compute.drivers.digitalocean import DigitalOceanNodeDriver

        self.do = DigitalOceanNodeDriver(credentials["token"].reveal())
        self.prefix = ""
        if settings.endpoint:  # the driver ignores host/port arguments: re-point its connection
            self.prefix = point_connection_at(self.do.connection, settings.endpoint)
        if guard is not None:
            guard_connection(self.do.connection, guard, _unsafe)

    def _request(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        data = json.dumps(body) if body is not None else None
        reply = self.do.connection.request(
            self.prefix + "/v2" + path, params=params or None, data=data, method=method
        )
        return reply.object

    def _all(self, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            reply = self._request("GET", path, page=page, per_page=200, **params)
            batch = reply.get(key) or []
            items += batch
            total = (reply.get("meta") or {}).get("total")
            has_next = ((reply.get("links") or {}).get("pages") or {}).get("next")
            if not batch or not has_next or (total is not None and len(items) >= total):
                return items
            page += 1

    # -- machines -------------------------------------------------------------------------------

    def check_credentials(self) -> None:
        self._request("GET", "/account")

    def list_machines(self, cluster: str) -> list[Machine]:
        droplets = self._all("/droplets", "droplets", tag_name=f"{CLUSTER_TAG}:{cluster}")
        return [self._machine(d) for d in droplets]

    @staticmethod
    def _machine(droplet: dict[str, Any]) -> Machine:
        addresses: dict[str, str] = {}
        for network in (droplet.get("networks") or {}).get("v4") or []:
            addresses.setdefault(network.get("type", ""), network.get("ip_address"))
        tags = dict(t.split(":", 1) for t in droplet.get("tags") or [] if ":" in t)
        return Machine(
            id=str(droplet["id"]),
            name=droplet["name"],
            state=_STATES.get(droplet.get("status", ""), "unknown"),  # type: ignore[arg-type]
            public_ip=addresses.get("public"),
            private_ip=addresses.get("private"),
            tags=tags,
            extra={"vpc_uuid": droplet.get("vpc_uuid"), "size": droplet.get("size_slug")},
        )

    def create_machine(self, spec: MachineSpec) -> Machine:
        body: dict[str, Any] = {
            "name": spec.name,
            "region": spec.region,
            "size": spec.size,
            "image": spec.image,
            "user_data": spec.user_data,
            "tags": flat_tags(spec.tags),
            "ipv6": False,
            "monitoring": False,
        }
        if spec.key is not None:
            body["ssh_keys"] = [int(spec.key.id) if spec.key.id.isdigit() else spec.key.id]
        if spec.network is not None:
            body["vpc_uuid"] = spec.network.id
        return self._machine(self._request("POST", "/droplets", body)["droplet"])

    def destroy_machine(self, machine: Machine) -> None:
        self._request("DELETE", f"/droplets/{machine.id}")

    # -- keys -----------------------------------------------------------------------------------

    def import_key(self, cluster: str, public_key: str) -> Resource:
        key = self._request(
            "POST", "/account/keys", {"name": f"sloth-{cluster}", "public_key": public_key}
        )["ssh_key"]
        return Resource("key", str(key["id"]), key["name"])

    def list_keys(self, cluster: str) -> list[Resource]:
        return [
            Resource("key", str(k["id"]), k["name"])
            for k in self._all("/account/keys", "ssh_keys")
            if k["name"] == f"sloth-{cluster}"
        ]

    def delete_key(self, key: Resource) -> None:
        self._request("DELETE", f"/account/keys/{key.id}")

    # -- network --------------------------------------------------------------------------------

    def create_network(self, cluster: str, cidr: str) -> Resource:
        body = {
            "name": f"sloth-{cluster}",
            "region": self.region,
            "ip_range": cidr,
            "description": f"{CLUSTER_TAG}:{cluster}",
        }
        vpc = self._request("POST", "/vpcs", body)["vpc"]
        return Resource("network", vpc["id"], vpc["name"])

    def list_networks(self, cluster: str) -> list[Resource]:
        return [
            Resource("network", v["id"], v["name"])
            for v in self._all("/vpcs", "vpcs")
            if v["name"] == f"sloth-{cluster}"
        ]

    def delete_network(self, network: Resource) -> None:
        self._request("DELETE", f"/vpcs/{network.id}")

    # -- firewall -------------------------------------------------------------------------------

    def create_firewall(
        self, cluster: str, rules: Sequence[FirewallRule], network: Resource | None
    ) -> Resource:
        tag = f"{CLUSTER_TAG}:{cluster}"
        self._request("POST", "/tags", {"name": tag})  # a firewall applies to existing tags
        everywhere = {"addresses": ["0.0.0.0/0", "::/0"]}
        body = {
            "name": f"sloth-{cluster}",
            "tags": [tag],
            "inbound_rules": [self._rule(r) for r in rules],
            "outbound_rules": [
                {"protocol": "tcp", "ports": "1-65535", "destinations": everywhere},
                {"protocol": "udp", "ports": "1-65535", "destinations": everywhere},
                {"protocol": "icmp", "ports": "0", "destinations": everywhere},
            ],
        }
        firewall = self._request("POST", "/firewalls", body)["firewall"]
        return Resource("firewall", firewall["id"], firewall["name"])

    @staticmethod
    def _rule(rule: FirewallRule) -> dict[str, Any]:
        # The spec requires ports on every rule; "0" means all (always "0" for ICMP).
        ports = "0" if rule.protocol == "icmp" else rule.ports
        return {
            "protocol": rule.protocol,
            "ports": ports,
            "sources": {"addresses": list(rule.sources)},
        }

    firewall_update_blocker = None

    def update_firewall_rules(self, firewall: Resource, rules: Sequence[FirewallRule]) -> None:
        # DigitalOcean adds and removes inbound rules by value (POST / DELETE
        # /v2/firewalls/{id}/rules); a rule is removed only if the cluster no longer wants it.
        def key(rule: dict[str, Any]) -> tuple[str, str, tuple[str, ...]]:
            addresses = (rule.get("sources") or {}).get("addresses") or ()
            return rule["protocol"], str(rule.get("ports") or "0"), tuple(sorted(addresses))

        found = self._request("GET", f"/firewalls/{firewall.id}")["firewall"]
        current = found.get("inbound_rules") or []
        desired = [self._rule(r) for r in rules]
        wanted = {key(r) for r in desired}
        have = {key(r) for r in current}
        stale = [r for r in current if key(r) not in wanted]
        missing = [r for r in desired if key(r) not in have]
        path = f"/firewalls/{firewall.id}/rules"
        if missing:
            self._request("POST", path, {"inbound_rules": missing})
        if stale:
            self._request("DELETE", path, {"inbound_rules": stale})

    def list_firewalls(self, cluster: str) -> list[Resource]:
        return [
            Resource("firewall", f["id"], f["name"])
            for f in self._all("/firewalls", "firewalls")
            if f["name"] == f"sloth-{cluster}"
        ]

    def delete_firewall(self, firewall: Resource) -> None:
        self._request("DELETE", f"/firewalls/{firewall.id}")

    def firewall_rules(self, firewall: Resource) -> list[FirewallRule]:
        found = self._request("GET", f"/firewalls/{firewall.id}")["firewall"]
        return [
            FirewallRule(
                r["protocol"],
                r.get("ports") or "0",
                tuple((r.get("sources") or {}).get("addresses") or ()),
            )
            for r in found.get("inbound_rules") or []
        ]

    # -- catalog --------------------------------------------------------------------------------

    def list_sizes(self) -> list[Size]:
        sizes = []
        for size in self._all("/sizes", "sizes"):
            hourly = size.get("price_hourly")
            if hourly is None and size.get("price_monthly") is not None:
                hourly = float(size["price_monthly"]) / 730
            sizes.append(
                Size(
                    size["slug"],
                    int(size["vcpus"]),
                    int(size["memory"]) / 1024,
                    float(hourly) if hourly is not None else None,
                    tuple(size.get("regions") or ()),
                )
            )
        return sizes

    def list_images(self) -> list[Image]:
        return [
            Image(str(i.get("slug") or i["id"]), f"{i.get('distribution', '')} {i['name']}")
            for i in self._all("/images", "images", type="distribution")
        ]
