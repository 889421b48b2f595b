"""The contract over the Hetzner Cloud API.

Every resource carries the labels ``sloth-cluster`` (and ``sloth-node`` on servers) and is listed
with ``label_selector``. The firewall applies to the label selector ``sloth-cluster=<name>``, so
servers are covered from their first boot; the private network has one cloud subnet in the
location's network zone, and servers are created attached to it.
"""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Sequence
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
    guard_connection,
)

_STATES = {
    "initializing": "pending",
    "starting": "pending",
    "running": "running",
    "off": "stopped",
    "stopping": "stopped",
    "deleting": "terminated",
}
_ZONES = {"fsn1": "eu-central", "nbg1": "eu-central", "hel1": "eu-central", "ash": "us-east",
          "hil": "us-west", "sin": "ap-southeast"}  # fmt: skip


def _unsafe(action: str, _params: Any, method: str, _data: Any) -> bool:
    return method == "POST" and action.rstrip("/").endswith("/servers")


class HetznerDriver(CloudDriver):
    name = "hetzner"
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
        "ubuntu-24.04": "ubuntu-24.04",
        "ubuntu-22.04": "ubuntu-22.04",
        "debian-12": "debian-12",
    }
    default_region = "fsn1"
    default_size = "cx22"
    default_endpoint = "https://api.hetzner.cloud/v1"

    def __init__(
        self, settings: Any, credentials: dict[str, Any], region: str, guard: Any = None
    ) -> None:
        super().__init__(settings, credentials, region, guard)
        from .connection import HetznerConnection, _DriverName

        endpoint = Endpoint.parse(self.endpoint)
        self.connection = HetznerConnection(
            credentials["token"].reveal(),
            secure=endpoint.secure,
            host=endpoint.host,
            port=endpoint.port,
        )
        self.connection.driver = _DriverName()  # type: ignore[assignment]  # libcloud reads .name only
        self.connection.connect()
        self.prefix = endpoint.path
        if guard is not None:
            guard_connection(self.connection, guard, _unsafe)

    def _request(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        data = json.dumps(body) if body is not None else None
        reply = self.connection.request(
            self.prefix + path, params=params or None, data=data, method=method
        )
        return reply.object

    def _all(self, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page: int | None = 1
        while page:
            reply = self._request("GET", path, page=page, per_page=50, **params)
            items += reply.get(key) or []
            page = ((reply.get("meta") or {}).get("pagination") or {}).get("next_page")
        return items

    @staticmethod
    def _selector(cluster: str) -> str:
        return f"{CLUSTER_TAG}={cluster}"

    # -- machines -------------------------------------------------------------------------------

    def check_credentials(self) -> None:
        self._request("GET", "/locations")

    def list_machines(self, cluster: str) -> list[Machine]:
        servers = self._all("/servers", "servers", label_selector=self._selector(cluster))
        return [self._machine(s) for s in servers]

    @staticmethod
    def _machine(server: dict[str, Any]) -> Machine:
        public = ((server.get("public_net") or {}).get("ipv4") or {}).get("ip")
        private = [n.get("ip") for n in server.get("private_net") or []]
        return Machine(
            id=str(server["id"]),
            name=server["name"],
            state=_STATES.get(server.get("status", ""), "unknown"),  # type: ignore[arg-type]
            public_ip=public,
            private_ip=private[0] if private else None,
            tags=dict(server.get("labels") or {}),
            extra={"server_type": (server.get("server_type") or {}).get("name")},
        )

    def create_machine(self, spec: MachineSpec) -> Machine:
        body: dict[str, Any] = {
            "name": spec.name,
            "server_type": spec.size,
            "image": spec.image,
            "location": spec.region,
            "user_data": spec.user_data,
            "labels": spec.tags,
            "start_after_create": True,
        }
        if spec.key is not None:
            body["ssh_keys"] = [spec.key.name]  # "ID or name", a string
        if spec.network is not None:
            body["networks"] = [int(spec.network.id)]
        return self._machine(self._request("POST", "/servers", body)["server"])

    def destroy_machine(self, machine: Machine) -> None:
        self._request("DELETE", f"/servers/{machine.id}")

    # -- keys -----------------------------------------------------------------------------------

    def import_key(self, cluster: str, public_key: str) -> Resource:
        body = {
            "name": f"sloth-{cluster}",
            "public_key": public_key,
            "labels": cluster_tags(cluster),
        }
        key = self._request("POST", "/ssh_keys", body)["ssh_key"]
        return Resource("key", str(key["id"]), key["name"])

    def list_keys(self, cluster: str) -> list[Resource]:
        found = self._all("/ssh_keys", "ssh_keys", label_selector=self._selector(cluster))
        return [Resource("key", str(k["id"]), k["name"]) for k in found]

    def delete_key(self, key: Resource) -> None:
        self._request("DELETE", f"/ssh_keys/{key.id}")

    # -- network --------------------------------------------------------------------------------

    def create_network(self, cluster: str, cidr: str) -> Resource:
        subnet = str(next(ipaddress.IPv4Network(cidr).subnets(new_prefix=20), cidr))
        body = {
            "name": f"sloth-{cluster}",
            "ip_range": cidr,
            "subnets": [
                {
                    "type": "cloud",
                    "ip_range": subnet,
                    "network_zone": _ZONES.get(self.region, "eu-central"),
                }
            ],
            "labels": cluster_tags(cluster),
        }
        network = self._request("POST", "/networks", body)["network"]
        return Resource("network", str(network["id"]), network["name"])

    def list_networks(self, cluster: str) -> list[Resource]:
        found = self._all("/networks", "networks", label_selector=self._selector(cluster))
        return [Resource("network", str(n["id"]), n["name"]) for n in found]

    def delete_network(self, network: Resource) -> None:
        self._request("DELETE", f"/networks/{network.id}")

    # -- firewall -------------------------------------------------------------------------------

    def create_firewall(
        self, cluster: str, rules: Sequence[FirewallRule], network: Resource | None
    ) -> Resource:
        body = {
            "name": f"sloth-{cluster}",
            "labels": cluster_tags(cluster),
            "rules": [self._rule(r) for r in rules],
            "apply_to": [
                {"type": "label_selector", "label_selector": {"selector": self._selector(cluster)}}
            ],
        }
        reply = self._request("POST", "/firewalls", body)
        firewall = reply["firewall"]
        self._wait_actions(reply.get("actions") or [], f"applying the firewall {firewall['name']}")
        return Resource("firewall", str(firewall["id"]), firewall["name"])

    @staticmethod
    def _rule(rule: FirewallRule) -> dict[str, Any]:
        return {
            "direction": "in",
            "protocol": rule.protocol,
            "port": None if rule.protocol == "icmp" else rule.ports,  # the API's own null
            "source_ips": list(rule.sources),
            "description": rule.description,
        }

    firewall_update_blocker = None

    def update_firewall_rules(self, firewall: Resource, rules: Sequence[FirewallRule]) -> None:
        # set_rules replaces the whole rule set (docs.hetzner.cloud, "Set Rules") and answers
        # actions — set_firewall_rules, and apply_firewall per server it applies to — that run
        # on: the rules are in force only when they succeeded.
        reply = self._request(
            "POST",
            f"/firewalls/{firewall.id}/actions/set_rules",
            {"rules": [self._rule(r) for r in rules]},
        )
        self._wait_actions(reply.get("actions") or [], f"setting the rules of {firewall.name}")

    def _wait_actions(self, actions: Sequence[dict[str, Any]], what: str) -> None:
        """Poll each running action (``GET /actions/{id}``) until it succeeded, within
        ``createTimeout`` every ``pollInterval`` (requests retried like any other); an action
        that ended in ``error`` or is still running at the deadline becomes a ProviderError."""
        pending = {int(a["id"]): a for a in actions}
        deadline = time.monotonic() + self.settings.create_timeout
        while True:
            failed = [a for a in pending.values() if a.get("status") == "error"]
            if failed:
                error = failed[0].get("error") or {}
                raise ProviderError(
                    f"hetzner: {what}: action {failed[0].get('command')} "
                    f"({failed[0]['id']}) failed: [{error.get('code', '?')}] "
                    f"{error.get('message', '')}".rstrip(),
                    provider="hetzner",
                    hint="see the firewall's actions in the Hetzner console; re-run `up`: it "
                    "sets the rules again",
                )
            running = [i for i, a in pending.items() if a.get("status") == "running"]
            if not running:
                return
            if time.monotonic() >= deadline:
                commands = ", ".join(f"{pending[i].get('command')} ({i})" for i in running)
                raise ProviderError(
                    f"hetzner: {what}: action(s) {commands} still running after "
                    f"{self.settings.create_timeout:g} s",
                    provider="hetzner",
                    hint="re-run `up` (it checks the rules again), or raise "
                    "spec.providers.hetzner.createTimeout",
                )
            time.sleep(self.settings.poll_interval)
            for action_id in running:
                pending[action_id] = self._request("GET", f"/actions/{action_id}")["action"]

    def list_firewalls(self, cluster: str) -> list[Resource]:
        found = self._all("/firewalls", "firewalls", label_selector=self._selector(cluster))
        return [Resource("firewall", str(f["id"]), f["name"]) for f in found]

    def delete_firewall(self, firewall: Resource) -> None:
        self._request("DELETE", f"/firewalls/{firewall.id}")

    def firewall_rules(self, firewall: Resource) -> list[FirewallRule]:
        for found in self._all("/firewalls", "firewalls"):
            if str(found["id"]) == firewall.id:
                return [
                    FirewallRule(r["protocol"], r.get("port") or "0", tuple(r["source_ips"]))
                    for r in found.get("rules") or []
                    if r.get("direction") == "in"
                ]
        return []

    # -- catalog --------------------------------------------------------------------------------

    def list_sizes(self) -> list[Size]:
        sizes = []
        for server_type in self._all("/server_types", "server_types"):
            prices = {
                p["location"]: float(p["price_hourly"]["net"])
                for p in server_type.get("prices") or []
            }
            sizes.append(
                Size(
                    server_type["name"],
                    int(server_type["cores"]),
                    float(server_type["memory"]),
                    prices.get(self.region),
                    tuple(prices),
                )
            )
        return sizes

    def list_images(self) -> list[Image]:
        return [
            Image(str(i.get("name") or i["id"]), str(i.get("description") or ""))
            for i in self._all("/images", "images", type="system")
        ]
