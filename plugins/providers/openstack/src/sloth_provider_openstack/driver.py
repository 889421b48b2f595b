"""The contract over OpenStack's Nova, Neutron and Glance APIs, through libcloud's connections.

What is created for cluster ``C`` (docs/providers/openstack.md has the whole story):

* a Nova key pair ``sloth-C`` (key pairs carry no tags: the name says which cluster);
* a Neutron network, subnet (``networkCIDR``) and router with its gateway on the external
  network, all named ``sloth-C`` and tagged ``sloth-cluster:C``;
* a security group ``sloth-C`` (tagged) with one ingress rule per cluster rule and source;
* servers with metadata ``{sloth-cluster: C, sloth-node: N}`` and the same pairs as server tags
  (compute microversion 2.52), listed with ``GET /servers/detail?tags=sloth-cluster:C``;
* with ``floatingIPs`` (default), a floating IP per server, reserved and tagged before the
  server is created and attached to its port once the server is ACTIVE.

Neutron tags are set with ``PUT /v2.0/<resources>/<id>/tags`` after each create: setting tags
in the create body needs a recent Neutron (``tag-creation``), the separate call works everywhere.
"""

from __future__ import annotations

import base64
import re
import threading
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
    Region,
    Resource,
    RetryableCreateError,
    Size,
    flat_tags,
    guard_connection,
)

_STATES = {
    "ACTIVE": "running",
    "BUILD": "pending",
    "REBUILD": "pending",
    "REBOOT": "pending",
    "HARD_REBOOT": "pending",
    "MIGRATING": "pending",
    "RESIZE": "pending",
    "VERIFY_RESIZE": "pending",
    "SHUTOFF": "stopped",
    "SUSPENDED": "stopped",
    "PAUSED": "stopped",
    "SHELVED": "stopped",
    "SHELVED_OFFLOADED": "stopped",
    "DELETED": "terminated",
    "SOFT_DELETED": "terminated",
}
#: Nova refuses server tags longer than 60 characters.
TAG_LIMIT = 60
_UUID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.I)

#: (Keystone URL, region, project) → flavors, looked up once per process for name → id.
_flavors: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
_flavors_lock = threading.Lock()


#: Neutron resources created by name and tagged afterwards: a second one made by repeating a
#: create whose reply was lost would stay untagged, invisible to every listing, forever.
_NAMED = ("/v2.0/networks", "/v2.0/subnets", "/v2.0/routers", "/v2.0/security-groups")


def _unsafe(action: str, _params: Any, method: str, _data: Any) -> bool:
    """Creating a server or a floating IP twice costs money, a named Neutron resource twice
    leaks one: never repeated blindly (see :meth:`OpenStackDriver._create_named`)."""
    path = action.split("?", 1)[0].rstrip("/")
    return method == "POST" and path.endswith(("/servers", "/v2.0/floatingips", *_NAMED))


def _tag(key: str, value: str) -> str:
    return f"{key}:{value}"


class OpenStackDriver(CloudDriver):
    name = "openstack"
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
    #: Glance image *names* (looked up with ``GET /v2/images?name=``): the names most public
    #: OpenStack clouds use. A pool's ``image:`` takes the cloud's own name or id instead.
    image_aliases: ClassVar[dict[str, str]] = {
        "ubuntu-24.04": "Ubuntu 24.04",
        "ubuntu-22.04": "Ubuntu 22.04",
        "debian-12": "Debian 12",
    }
    default_region = "RegionOne"
    default_size = "m1.medium"
    default_endpoint = ""

    def __init__(
        self, settings: Any, credentials: dict[str, Any], region: str, guard: Any = None
    ) -> None:
        super().__init__(settings, credentials, region, guard)
        from . import connection

        auth_url = settings.endpoint or settings.auth_url
        if not auth_url:
            raise ProviderError(
                "openstack: no Keystone URL (spec.providers.openstack.authURL)",
                provider="openstack",
                hint="set authURL to your cloud's identity endpoint, e.g. the OS_AUTH_URL "
                "of its openrc file (https://keystone.example.com:5000/v3)",
            )
        self.auth_url = auth_url
        self._lib = connection
        self.connections = connection.open_connections(
            auth_url=auth_url,
            username=credentials["username"].reveal(),
            password=credentials["password"].reveal(),
            project=credentials["project_name"].reveal(),
            user_domain=settings.user_domain_name,
            project_domain=settings.project_domain_name,
            region=region,
            interface=settings.interface,
        )
        if guard is not None:
            for conn in self.connections.values():
                guard_connection(conn, guard, _unsafe)
        self._external: str | None = None

    @property
    def endpoint(self) -> str:
        return str(self.auth_url)

    @classmethod
    def api_endpoint(cls, settings: Any) -> str:
        # Each cloud is known by its identity URL: two clouds in one run get two rate limits.
        return str(settings.endpoint or settings.auth_url or "")

    # -- requests -------------------------------------------------------------------------------

    def _token(self, conn: Any) -> None:
        if not self._lib.needs_token(conn):
            return
        if self.guard is None:
            self._lib.authenticate(conn)
        else:
            self.guard.request("POST /v3/auth/tokens", lambda: self._lib.authenticate(conn))

    def _call(
        self,
        service: str,
        method: str,
        path: str,
        body: Any = None,
        *,
        missing_ok: bool = False,
        **params: Any,
    ) -> Any:
        """One request to ``service``; ``None`` for a 404 when ``missing_ok``."""
        from libcloud.common.exceptions import BaseHTTPError

        conn = self.connections[service]
        self._token(conn)
        try:
            reply = conn.request(path, params=params or None, data=body, method=method)
        except BaseHTTPError as error:
            if missing_ok and error.code == 404:
                return None
            text = str(error.message)
            if error.code == 403 and "quota" in text.lower():
                raise ProviderError(
                    f"openstack: quota exceeded: {text}",
                    provider="openstack",
                    http_status=403,
                    hint="ask for fewer or smaller machines, or have the project's quota raised",
                ) from error
            raise
        return reply.object

    def _tags(self, resources: str, resource_id: str, cluster: str) -> None:
        self._call(
            "network", "PUT", f"/v2.0/{resources}/{resource_id}/tags",
            {"tags": [_tag(CLUSTER_TAG, cluster)]},
        )  # fmt: skip

    def _create_named(self, resources: str, body: dict[str, Any], cluster: str) -> dict[str, Any]:
        """Create a named Neutron resource (``resources``: ``networks``, ``subnets``, …) and tag
        it with the cluster. When the create's reply was lost, the one Neutron made is found by
        its name (untagged, or already ours) and adopted instead of making a second."""
        singular = {"networks": "network", "subnets": "subnet", "routers": "router",
                    "security-groups": "security_group"}[resources]  # fmt: skip
        collection = resources.replace("-", "_")
        ours = _tag(CLUSTER_TAG, cluster)
        for _attempt in range(3):
            try:
                made = self._call("network", "POST", f"/v2.0/{resources}", {singular: body})
                created: dict[str, Any] = made[singular]
                break
            except RetryableCreateError:
                found = self._call("network", "GET", f"/v2.0/{resources}", name=body["name"])
                mine = [r for r in found.get(collection) or []
                        if not r.get("tags") or ours in r.get("tags", [])]  # fmt: skip
                if mine:
                    created = mine[0]
                    break
        else:
            raise ProviderError(
                f"openstack: creating the {singular} {body['name']} kept failing",
                provider="openstack",
                hint="re-run `up` later; nothing was left behind",
            )
        if ours not in (created.get("tags") or []):
            self._tags(resources, created["id"], cluster)
        return created

    def _tagged(self, resources: str, key: str, cluster: str) -> list[dict[str, Any]]:
        found = self._call("network", "GET", f"/v2.0/{resources}", tags=_tag(CLUSTER_TAG, cluster))
        return list(found.get(key) or [])

    # -- machines -------------------------------------------------------------------------------

    def check_credentials(self) -> None:
        self._call("compute", "GET", "/flavors", limit=1)

    def list_machines(self, cluster: str) -> list[Machine]:
        servers: list[dict[str, Any]] = []
        params: dict[str, Any] = {"tags": _tag(CLUSTER_TAG, cluster)}
        for _page in range(1000):  # nova pages at its max_limit (1000 by default)
            reply = self._call("compute", "GET", "/servers/detail", **params)
            servers += reply.get("servers") or []
            following = [
                link["href"]
                for link in reply.get("servers_links") or []
                if link.get("rel") == "next"
            ]
            marker = re.search(r"[?&]marker=([^&]+)", following[0]) if following else None
            if marker is None:
                break
            params["marker"] = marker.group(1)
        floating = self._floating_ips(cluster)
        return [self._machine(server, floating) for server in servers]

    def _floating_ips(self, cluster: str) -> dict[str, dict[str, Any]]:
        """The cluster's floating IPs by node name (only when the cluster uses them)."""
        if not self._uses_floating_ips():
            return {}
        found = {}
        for fip in self._tagged("floatingips", "floatingips", cluster):
            nodes = [t.split(":", 1)[1] for t in fip.get("tags") or [] if t.startswith(NODE_TAG)]
            if nodes:
                found[nodes[0]] = fip
        return found

    def _uses_floating_ips(self) -> bool:
        return bool(self.settings.floating_ips and self.settings.private_network)

    def _machine(self, server: dict[str, Any], floating: dict[str, dict[str, Any]]) -> Machine:
        metadata = server.get("metadata") or {}
        tags = {k: str(v) for k, v in metadata.items() if k in (CLUSTER_TAG, NODE_TAG)}
        name = tags.get(NODE_TAG) or server.get("name") or server["id"]
        state = _STATES.get(str(server.get("status", "")).upper(), "unknown")
        fixed: list[str] = []
        floats: list[str] = []
        for addresses in (server.get("addresses") or {}).values():
            for address in addresses:
                if address.get("version", 4) != 4:
                    continue
                kind = address.get("OS-EXT-IPS:type", "fixed")
                (floats if kind == "floating" else fixed).append(address["addr"])
        public = floats[0] if floats else None
        fip = floating.get(name)
        if fip is not None:
            if fip.get("port_id") is None and state == "running":
                fip = self._attach(fip, server["id"])
            public = fip.get("floating_ip_address") if fip.get("port_id") else None
            if public is None and state == "running":
                state = "pending"  # running, but not reachable until its address is attached
        elif public is None and fixed:
            public = fixed[0]  # no floating IPs: the fixed address is the one to reach
        return Machine(
            id=str(server["id"]),
            name=name,
            state=state,  # type: ignore[arg-type]
            public_ip=public,
            private_ip=fixed[0] if fixed else None,
            tags=tags,
            extra={"flavor": (server.get("flavor") or {}).get("original_name")},
        )

    def _attach(self, fip: dict[str, Any], server_id: str) -> dict[str, Any]:
        ports = self._call("network", "GET", "/v2.0/ports", device_id=server_id).get("ports")
        if not ports:
            return fip
        reply = self._call(
            "network", "PUT", f"/v2.0/floatingips/{fip['id']}",
            {"floatingip": {"port_id": ports[0]["id"]}},
        )  # fmt: skip
        return dict(reply["floatingip"])

    def create_machine(self, spec: MachineSpec) -> Machine:
        tags = flat_tags(spec.tags)
        too_long = [t for t in tags if len(t) > TAG_LIMIT]
        if too_long:
            raise ProviderError(
                f"openstack: {spec.name}: Nova limits server tags to {TAG_LIMIT} characters: "
                + ", ".join(too_long),
                provider="openstack",
                hint="shorten the cluster or pool name",
            )
        server: dict[str, Any] = {
            "name": spec.name,
            "flavorRef": self._flavor_id(spec.size),
            "imageRef": spec.image,
            "user_data": base64.b64encode(spec.user_data.encode()).decode(),
            "metadata": dict(spec.tags),
            "tags": tags,
            "networks": self._server_networks(spec),
        }
        if spec.key is not None:
            server["key_name"] = spec.key.name
        if spec.firewall is not None:
            server["security_groups"] = [{"name": spec.firewall.name}]
        if spec.network is not None and self._uses_floating_ips():
            self._reserve_floating_ip(spec.cluster, spec.name)
        reply = self._call("compute", "POST", "/servers", {"server": server})
        return Machine(
            id=str(reply["server"]["id"]), name=spec.name, state="pending", tags=dict(spec.tags)
        )

    def _server_networks(self, spec: MachineSpec) -> Any:
        if spec.network is not None:
            return [{"uuid": spec.network.id}]
        if self.settings.external_network:  # e.g. a provider network servers attach to directly
            return [{"uuid": self._external_network()}]
        return "auto"  # Nova's get-me-a-network (microversion 2.37+)

    def _reserve_floating_ip(self, cluster: str, node: str) -> None:
        """One floating IP per node, tagged, before the server exists (a quota error then stops
        the create, rather than leaving a server nobody can reach)."""
        mine = self._call(
            "network", "GET", "/v2.0/floatingips",
            tags=f"{_tag(CLUSTER_TAG, cluster)},{_tag(NODE_TAG, node)}",
        ).get("floatingips")  # fmt: skip
        if mine:
            return
        fip = self._call(
            "network", "POST", "/v2.0/floatingips",
            {"floatingip": {"floating_network_id": self._external_network(),
                            "description": f"sloth-kubernetes {cluster} {node}"}},
        )["floatingip"]  # fmt: skip
        self._call(
            "network", "PUT", f"/v2.0/floatingips/{fip['id']}/tags",
            {"tags": [_tag(CLUSTER_TAG, cluster), _tag(NODE_TAG, node)]},
        )  # fmt: skip

    def _flavor_id(self, size: str) -> str:
        """Sizes are named by flavor name (or id); Nova wants the id."""
        key = (self.auth_url, self.region, str(self.credentials["project_name"].reveal()))
        with _flavors_lock:
            flavors = _flavors.get(key)
        if flavors is None:
            flavors = list(self._call("compute", "GET", "/flavors/detail").get("flavors") or [])
            with _flavors_lock:
                _flavors[key] = flavors
        for flavor in flavors:
            if size in (flavor.get("id"), flavor.get("name")):
                return str(flavor["id"])
        known = ", ".join(sorted(str(f.get("name")) for f in flavors)[:8])
        raise ProviderError(
            f"openstack: no flavor named {size!r} in {self.region}",
            provider="openstack",
            hint=f"name one of the cloud's flavors ({known}…) or use size: {{cpu, memoryGiB}}",
        )

    def destroy_machine(self, machine: Machine) -> None:
        cluster, node = machine.tags.get(CLUSTER_TAG), machine.tags.get(NODE_TAG)
        if cluster and node and self._uses_floating_ips():
            for fip in self._call(
                "network", "GET", "/v2.0/floatingips",
                tags=f"{_tag(CLUSTER_TAG, cluster)},{_tag(NODE_TAG, node)}",
            ).get("floatingips") or []:  # fmt: skip
                self._call("network", "DELETE", f"/v2.0/floatingips/{fip['id']}", missing_ok=True)
        self._call("compute", "DELETE", f"/servers/{machine.id}", missing_ok=True)

    def console_output(self, machine: Machine) -> str:
        reply = self._call(
            "compute", "POST", f"/servers/{machine.id}/action",
            {"os-getConsoleOutput": {"length": 500}},
        )  # fmt: skip
        return str(reply.get("output") or "")

    def resolve_image(self, image: str) -> str:
        """An image id passes through; a name is looked up in Glance (newest active one)."""
        if _UUID.match(image):
            return image
        found = self._call("image", "GET", "/v2/images", name=image, status="active")
        images = sorted(found.get("images") or [], key=lambda i: str(i.get("created_at", "")))
        if not images:
            raise ProviderError(
                f"openstack: no active image named {image!r} in {self.region}",
                provider="openstack",
                hint="clouds name their images differently: give the pool `image:` with this "
                "cloud's image name or id (`openstack image list`)",
            )
        return str(images[-1]["id"])

    # -- keys -----------------------------------------------------------------------------------

    def import_key(self, cluster: str, public_key: str) -> Resource:
        name = f"sloth-{cluster}"
        self._call(
            "compute", "POST", "/os-keypairs", {"keypair": {"name": name, "public_key": public_key}}
        )
        return Resource("key", name, name)

    def list_keys(self, cluster: str) -> list[Resource]:
        name = f"sloth-{cluster}"
        found = self._call("compute", "GET", f"/os-keypairs/{name}", missing_ok=True)
        return [Resource("key", name, name)] if found else []

    def delete_key(self, key: Resource) -> None:
        self._call("compute", "DELETE", f"/os-keypairs/{key.name}", missing_ok=True)

    # -- network --------------------------------------------------------------------------------

    def _external_network(self) -> str:
        if self._external is not None:
            return self._external
        wanted = self.settings.external_network
        if wanted:
            found = self._call("network", "GET", "/v2.0/networks", name=wanted).get("networks")
        else:
            external: dict[str, Any] = {"router:external": "true"}
            found = self._call("network", "GET", "/v2.0/networks", **external).get("networks")
        if not found or (len(found) > 1 and not wanted):
            names = ", ".join(str(n.get("name")) for n in found or []) or "none"
            why = f"no network named {wanted!r}" if wanted else f"external networks: {names}"
            raise ProviderError(
                f"openstack: cannot tell which external network to use ({why})",
                provider="openstack",
                hint="set spec.providers.openstack.externalNetwork to the provider network for "
                "router gateways and floating IPs (`openstack network list --external`)",
            )
        self._external = str(found[0]["id"])
        return self._external

    def create_network(self, cluster: str, cidr: str) -> Resource:
        name = f"sloth-{cluster}"
        external = self._external_network()
        network = self._create_named("networks", {"name": name, "admin_state_up": True}, cluster)
        subnet = self._create_named(
            "subnets",
            {"name": name, "network_id": network["id"], "ip_version": 4, "cidr": cidr},
            cluster,
        )
        router = self._create_named(
            "routers",
            {"name": name, "external_gateway_info": {"network_id": external}},
            cluster,
        )
        self._call(
            "network", "PUT", f"/v2.0/routers/{router['id']}/add_router_interface",
            {"subnet_id": subnet["id"]},
        )  # fmt: skip
        return Resource("network", str(network["id"]), name)

    def list_networks(self, cluster: str) -> list[Resource]:
        return [
            Resource("network", str(n["id"]), str(n.get("name", "")))
            for n in self._tagged("networks", "networks", cluster)
        ]

    def delete_network(self, network: Resource) -> None:
        """Floating IPs left over, the router (interface first), the subnets, the network."""
        cluster = network.name.removeprefix("sloth-")
        for fip in self._tagged("floatingips", "floatingips", cluster):
            self._call("network", "DELETE", f"/v2.0/floatingips/{fip['id']}", missing_ok=True)
        subnets = self._call("network", "GET", "/v2.0/subnets", network_id=network.id)
        subnet_ids = [s["id"] for s in subnets.get("subnets") or []]
        for router in self._tagged("routers", "routers", cluster):
            for subnet_id in subnet_ids:
                self._call(
                    "network", "PUT", f"/v2.0/routers/{router['id']}/remove_router_interface",
                    {"subnet_id": subnet_id}, missing_ok=True,
                )  # fmt: skip
            self._call("network", "DELETE", f"/v2.0/routers/{router['id']}", missing_ok=True)
        for subnet_id in subnet_ids:
            self._call("network", "DELETE", f"/v2.0/subnets/{subnet_id}", missing_ok=True)
        self._call("network", "DELETE", f"/v2.0/networks/{network.id}", missing_ok=True)

    # -- firewall -------------------------------------------------------------------------------

    def create_firewall(
        self, cluster: str, rules: Sequence[FirewallRule], network: Resource | None
    ) -> Resource:
        name = f"sloth-{cluster}"
        group = self._create_named(
            "security-groups",
            {"name": name, "description": f"sloth-kubernetes cluster {cluster}"},
            cluster,
        )
        for body in _rule_bodies(str(group["id"]), rules):
            self._add_rule(body)
        return Resource("firewall", str(group["id"]), name)

    firewall_update_blocker = None

    def update_firewall_rules(self, firewall: Resource, rules: Sequence[FirewallRule]) -> None:
        # Neutron rules are one source each and immutable: create the missing ones, delete
        # (by id) the IPv4 ingress rules the cluster no longer wants; egress stays.
        group = self._call("network", "GET", f"/v2.0/security-groups/{firewall.id}")
        found = [
            r
            for r in group["security_group"].get("security_group_rules") or []
            if r.get("direction") == "ingress" and r.get("ethertype", "IPv4") == "IPv4"
        ]
        wanted = {_rule_key(body): body for body in _rule_bodies(firewall.id, rules)}
        have = {_rule_key(r) for r in found}
        for key, body in wanted.items():
            if key not in have:
                self._add_rule(body)
        for rule in found:
            if _rule_key(rule) not in wanted:
                path = f"/v2.0/security-group-rules/{rule['id']}"
                self._call("network", "DELETE", path, missing_ok=True)

    def _add_rule(self, body: dict[str, Any]) -> None:
        """One security group rule. Neutron answers a rule that exists with 409 — after a
        repeat whose first reply was lost, that is the rule we asked for: done."""
        from libcloud.common.exceptions import BaseHTTPError

        try:
            self._call(
                "network", "POST", "/v2.0/security-group-rules", {"security_group_rule": body}
            )
        except BaseHTTPError as error:
            if error.code != 409 or "already exists" not in str(error.message):
                raise

    def list_firewalls(self, cluster: str) -> list[Resource]:
        return [
            Resource("firewall", str(g["id"]), str(g.get("name", "")))
            for g in self._tagged("security-groups", "security_groups", cluster)
        ]

    def delete_firewall(self, firewall: Resource) -> None:
        self._call("network", "DELETE", f"/v2.0/security-groups/{firewall.id}", missing_ok=True)

    def firewall_rules(self, firewall: Resource) -> list[FirewallRule]:
        group = self._call("network", "GET", f"/v2.0/security-groups/{firewall.id}")
        return neutron_rules(group["security_group"].get("security_group_rules") or [])

    # -- catalog --------------------------------------------------------------------------------

    def list_sizes(self) -> list[Size]:
        flavors = self._call("compute", "GET", "/flavors/detail").get("flavors") or []
        sizes = [
            Size(str(f["name"]), int(f["vcpus"]), int(f["ram"]) / 1024)  # Nova has no prices
            for f in flavors
            if f.get("vcpus") and f.get("ram")
        ]
        return sorted(sizes, key=lambda s: (s.cpu, s.memory_gib, s.id))

    def list_images(self) -> list[Image]:
        images: list[Image] = []
        params: dict[str, Any] = {"status": "active", "limit": 1000}
        for _page in range(100):  # Glance pages (25 by default): follow "next"
            reply = self._call("image", "GET", "/v2/images", **params)
            images += [Image(str(i["id"]), str(i.get("name") or "")) for i in reply["images"]]
            marker = re.search(r"[?&]marker=([^&]+)", str(reply.get("next") or ""))
            if marker is None:
                break
            params["marker"] = marker.group(1)
        return images

    def list_regions(self) -> list[Region]:
        conn = self.connections["compute"]
        self._token(conn)
        return [Region(r, r) for r in self._lib.compute_regions(conn)]

    # -- helpers --------------------------------------------------------------------------------

    def list_resources(self, cluster: str) -> list[Resource]:
        """Also routers and subnets tagged with the cluster, and its floating IPs (each belongs
        to one node: listed as that node's, so destroying a node may remove it)."""
        found = super().list_resources(cluster)
        for resources, key in (("routers", "routers"), ("subnets", "subnets")):
            found += [
                Resource("network", str(item["id"]), f"{resources[:-1]} {item.get('name') or ''}")
                for item in self._tagged(resources, key, cluster)
            ]
        found += [
            Resource("machine", str(fip["id"]), f"floatingip {fip.get('floating_ip_address')}")
            for fip in self._tagged("floatingips", "floatingips", cluster)
        ]
        return found


def _rule_bodies(group_id: str, rules: Sequence[FirewallRule]) -> list[dict[str, Any]]:
    """Neutron security group rule bodies for ``rules``: one per rule and source."""
    bodies = []
    for rule in rules:
        for source in rule.sources:
            body: dict[str, Any] = {
                "security_group_id": group_id,
                "direction": "ingress",
                "ethertype": "IPv4",
                "protocol": rule.protocol,
                "remote_ip_prefix": source,
                "description": rule.description,
            }
            if rule.protocol != "icmp":
                body["port_range_min"], body["port_range_max"] = rule.port_range
            bodies.append(body)
    return bodies


def _rule_key(rule: dict[str, Any]) -> tuple[str, Any, Any, str]:
    """What a Neutron rule allows: protocol, port range, source (a body or a listed rule)."""
    protocol = str(rule.get("protocol") or "")
    low, high = (
        (None, None)
        if protocol == "icmp"
        else (rule.get("port_range_min"), rule.get("port_range_max"))
    )
    return protocol, low, high, str(rule.get("remote_ip_prefix"))


def neutron_rules(rules: Sequence[dict[str, Any]]) -> list[FirewallRule]:
    """Neutron's ingress IPv4 rules (one source each) as our rules (sources merged, in order)."""
    merged: dict[tuple[str, str], list[str]] = {}
    for rule in rules:
        if rule.get("direction") != "ingress" or rule.get("ethertype", "IPv4") != "IPv4":
            continue
        protocol = str(rule.get("protocol") or "")
        low, high = rule.get("port_range_min"), rule.get("port_range_max")
        if protocol == "icmp" or low is None:
            ports = "0"
        else:
            ports = str(low) if low == high else f"{low}-{high}"
        merged.setdefault((protocol, ports), []).append(str(rule.get("remote_ip_prefix")))
    return [
        FirewallRule(protocol, ports, tuple(sources))  # type: ignore[arg-type]
        for (protocol, ports), sources in merged.items()
    ]


__all__ = ["OpenStackDriver", "neutron_rules"]
