"""A stateful fake OpenStack cloud (Keystone, Nova, Neutron, Glance) on one port, checked
against the services' own machine-readable descriptions.

Every request and reply is validated (core ``DescribedApp``) against our derived subsets in
``described/`` (see ``described/SOURCES.md``): Nova's own JSON Schemas at microversion 2.52 (from
the ``nova`` 34.0.0 wheel), Neutron's attribute maps (``neutron-lib`` 5.0.1), Glance's image
schema (``glance`` 33.0.0) and Keystone's token request schema (``keystone`` 30.0.0), all
Apache-2.0. Paths follow devstack's layout: ``/identity/v3``, ``/compute/v2.1``,
``/networking/v2.0``, ``/image/v2``.

What it does on its own, as those services do:

* Keystone checks user, password, project and both domains (by name or id) and answers 201 with
  ``X-Subject-Token`` and a catalog (public endpoints here; internal ones under ``/internal/``,
  which the fake refuses as a violation); every other call needs a valid ``X-Auth-Token`` (401);
* Nova needs ``X-OpenStack-Nova-API-Version: 2.52`` (the description's microversion); servers
  are ``BUILD`` (``vm_state`` building, ``task_state`` scheduling → spawning) and become
  ``ACTIVE`` after ``boot_reads`` reads, with a port on their network and its fixed address;
  ``fail_boot`` names servers that go to ``ERROR`` with a ``fault``; creates are checked against
  flavors, images, networks, security groups and key pairs (400); ``GET /servers/detail`` pages
  at ``max_limit`` (``servers_links`` ``next`` with ``marker``); key pairs are unique (409); the
  console shows cloud-init's host key block;
* Neutron keeps networks, subnets (addresses from the CIDR), ports, routers (gateway on an
  external network, interfaces), floating IPs (from the external subnet; associating sets
  ``fixed_ip_address`` and ``router_id`` and shows the address on the server), security groups
  (created with Neutron's two default egress rules) and rules (duplicate: 409), tags
  (``tags``/``tags-any`` filters), pagination (``limit``/``marker``, ``*_links``), and refuses
  deleting what is in use (409 ``NetworkInUse``, ``SubnetInUse``, ``RouterInUse``,
  ``SecurityGroupInUse``) or an unknown filter (the description);
* Glance lists images newest first with ``limit``/``marker`` and a ``next`` link.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import secrets
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sloth_kubernetes.cloud.userdata import public_host_key_in
from sloth_kubernetes.testing.emulators._http import JsonReply, JsonRequest
from sloth_kubernetes.testing.emulators.described import ApiDescription, DescribedApp
from sloth_kubernetes.testing.emulators.fakes._common import AddressPool, md5_fingerprint, utc_now

HERE = Path(__file__).parent / "described"
MICROVERSION = "2.52"
PROJECT_ID = "8b2b4a0f6c0e4d8c9f3b0a1e2d3c4b5a"
USER_ID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
EXTERNAL_NET = "5c1d7a5e-1b2a-4f4f-9a51-0d0b6b8f0e11"
EXTERNAL_SUBNET = "6d2e8b6f-2c3b-4a5a-8b62-1e1c7c9f1f22"
_NOVA_FAULTS = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    409: "conflictingRequest",
    413: "overLimit",
    429: "overLimit",
    500: "computeFault",
    501: "notImplemented",
    502: "computeFault",
    503: "serviceUnavailable",
}


def title_of(status: int) -> str:
    from sloth_kubernetes.testing.emulators._http import reason

    return reason(status)


_KEYSTONE_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    503: "Service Unavailable",
}


class OpenStackFake(DescribedApp):
    """One cloud, one project; :meth:`reset` empties it."""

    undescribed_paths = (r"^/identity/?$", r"^/identity/v3/?$")

    def __init__(self) -> None:
        super().__init__("openstack")
        for name, prefix in (
            ("keystone-v3.json", "/identity"),
            ("nova-v2.1.json", "/compute/v2.1"),
            ("neutron-v2.0.json", "/networking"),
            ("glance-v2.json", "/image"),
        ):
            self.describe(ApiDescription.load(HERE / name, prefix=prefix))
        self.catalog_data = json.loads((HERE / "catalog.json").read_text(encoding="utf-8"))
        self.base_url = ""  # set by the emulator fixture: where the catalog points
        self.users = {("operator", "Default"): "fake-cloud-password"}
        self.project = ("k8s", "Default")
        self.tokens: set[str] = set()
        self.servers: dict[str, dict[str, Any]]
        self.user_data: dict[str, str]
        self.keypairs: dict[str, dict[str, Any]]
        self.networks: dict[str, dict[str, Any]]
        self.subnets: dict[str, dict[str, Any]]
        self.ports: dict[str, dict[str, Any]]
        self.routers: dict[str, dict[str, Any]]
        self.floatingips: dict[str, dict[str, Any]]
        self.security_groups: dict[str, dict[str, Any]]
        self._answering = JsonRequest("GET", "/", {}, None, {})
        self._reset_state()
        self._routes_()

    # ------------------------------------------------------------------------ state

    def _reset_state(self) -> None:
        # cleared in place: the routes hold these very dicts
        for name in ("servers", "user_data", "keypairs", "networks", "subnets", "ports",
                     "routers", "floatingips", "security_groups"):  # fmt: skip
            self.__dict__.setdefault(name, {}).clear()
        self._reads: dict[str, int] = {}
        self._pools: dict[str, AddressPool] = {}
        self.boot_reads = 1
        self.fail_boot: set[str] = set()
        self.max_limit = 1000
        self.image_page_limit = 1000
        self.auto_network: str | None = None
        self.tokens.clear()
        now = utc_now()
        self.networks[EXTERNAL_NET] = self._network(
            EXTERNAL_NET, "public", external=True, subnets=[EXTERNAL_SUBNET], created=now
        )
        self.subnets[EXTERNAL_SUBNET] = self._subnet(
            EXTERNAL_SUBNET, "public-subnet", EXTERNAL_NET, "203.0.113.0/24", created=now
        )

    def reset(self) -> None:
        with self.lock:
            self._reset_state()
            self.clear_failures()
            self.requests.clear()

    # ------------------------------------------------------------------------ plumbing

    def error(self, status: int, code: str, message: str) -> JsonReply:
        """Each service's own error body, chosen by the path being answered."""
        path = getattr(self._answering, "path", "")
        if path.startswith("/networking"):
            kind = (
                code
                if code[:1].isupper()
                else {404: "NotFound", 409: "Conflict"}.get(
                    status, "BadRequest" if status < 500 else "ServiceUnavailable"
                )
            )
            return JsonReply(
                status, {"NeutronError": {"type": kind, "message": message, "detail": ""}}
            )
        if path.startswith("/identity"):
            title = _KEYSTONE_TITLES.get(status, "Error")
            return JsonReply(
                status, {"error": {"code": status, "message": message, "title": title}}
            )
        if path.startswith("/image"):
            return JsonReply(status, {"message": message, "code": f"{status} {title_of(status)}"})
        fault = _NOVA_FAULTS.get(status, "computeFault")
        return JsonReply(status, {fault: {"code": status, "message": message}})

    def _dispatch(
        self, method: str, path: str, params: dict[str, str], raw: bytes, headers: dict[str, str]
    ) -> JsonReply:
        self._answering = JsonRequest(method, path, params, None, headers)
        return super()._dispatch(method, path, params, raw, headers)

    def gate(self, request: JsonRequest) -> JsonReply | None:
        if request.path.startswith("/identity"):
            return None
        if request.headers.get("x-auth-token") not in self.tokens:
            return self.error(
                401, "unauthorized", "The request you have made requires authentication."
            )
        if request.path.startswith("/compute"):
            version = request.headers.get("x-openstack-nova-api-version") or request.headers.get(
                "openstack-api-version", ""
            ).removeprefix("compute ")
            if version != MICROVERSION:
                self._note(
                    [
                        f"{request.method} {request.path}: compute microversion "
                        f"{version or '2.1 (none asked)'} "
                        f"asked; the description is Nova's at {MICROVERSION}"
                    ]
                )
        return None

    def link(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def neutron_listing(
        self,
        r: JsonRequest,
        key: str,
        items: list[dict[str, Any]],
        *,
        match: Callable[..., bool] | None = None,
    ) -> JsonReply:
        found = [i for i in items if _neutron_filters(i, r.params) and (match is None or match(i))]
        found.sort(key=lambda i: i["id"])
        if r.params.get("marker"):
            found = [i for i in found if i["id"] > r.params["marker"]]
        reply: dict[str, Any] = {key: found}
        if r.params.get("limit"):
            limit = int(r.params["limit"])
            reply[key] = found[:limit]
            if len(found) > limit:
                reply[f"{key}_links"] = [
                    {
                        "rel": "next",
                        "href": self.link(
                            f"{r.path}?limit={limit}&marker={found[limit - 1]['id']}"
                        ),
                    }
                ]
        return JsonReply(200, reply)

    def not_found(self, kind: str, ident: str) -> JsonReply:
        return self.error(404, f"{kind}NotFound", f"{kind} {ident} could not be found.")

    # ------------------------------------------------------------------------ neutron objects

    def _standard(self, created: str | None = None) -> dict[str, Any]:
        now = created or utc_now()
        return {
            "description": "",
            "tags": [],
            "created_at": now,
            "updated_at": now,
            "revision_id": 1,
            "project_id": PROJECT_ID,
            "tenant_id": PROJECT_ID,
        }

    def _network(
        self,
        net_id: str,
        name: str,
        *,
        external: bool = False,
        subnets: list[str] | None = None,
        created: str | None = None,
    ) -> dict[str, Any]:
        return {
            "id": net_id,
            "name": name,
            "admin_state_up": True,
            "status": "ACTIVE",
            "subnets": subnets or [],
            "shared": False,
            "router:external": external,
            **self._standard(created),
        }

    def _subnet(
        self, subnet_id: str, name: str, network_id: str, cidr: str, created: str | None = None
    ) -> dict[str, Any]:
        network = ipaddress.IPv4Network(cidr)
        hosts = list(network.hosts())
        self._pools[subnet_id] = AddressPool(cidr)
        return {
            "id": subnet_id,
            "name": name,
            "network_id": network_id,
            "ip_version": 4,
            "cidr": cidr,
            "gateway_ip": str(hosts[0]),
            "allocation_pools": [{"start": str(hosts[1]), "end": str(hosts[-1])}],
            "dns_nameservers": [],
            "host_routes": [],
            "enable_dhcp": True,
            "ipv6_ra_mode": None,
            "ipv6_address_mode": None,
            "subnetpool_id": None,
            **self._standard(created),
        }

    def _port(self, network_id: str, device_id: str, owner: str) -> dict[str, Any]:
        network = self.networks[network_id]
        subnet_id = network["subnets"][0]
        address = self._pools[subnet_id].take()
        port = {
            "id": str(uuid.uuid4()),
            "name": "",
            "network_id": network_id,
            "admin_state_up": True,
            "mac_address": "fa:16:3e:" + ":".join(secrets.token_hex(1) for _ in range(3)),
            "fixed_ips": [{"subnet_id": subnet_id, "ip_address": address}],
            "device_id": device_id,
            "device_owner": owner,
            "status": "ACTIVE",
            **self._standard(),
        }
        self.ports[port["id"]] = port
        return port

    # ------------------------------------------------------------------------ nova objects

    def _flavor(self, flavor: dict[str, Any]) -> dict[str, Any]:
        return {
            **flavor,
            "links": [
                {"rel": "self", "href": self.link(f"/compute/v2.1/flavors/{flavor['id']}")},
                {"rel": "bookmark", "href": self.link(f"/compute/flavors/{flavor['id']}")},
            ],
        }

    def _server_view(self, server: dict[str, Any]) -> dict[str, Any]:
        """A server as ``GET /servers/detail`` shows it, moving it on one read towards ACTIVE."""
        reads = self._reads[server["id"]] = self._reads.get(server["id"], 0) + 1
        if server["status"] == "BUILD":
            if server["name"] in self.fail_boot:
                server.update(
                    status="ERROR",
                    **{"OS-EXT-STS:vm_state": "error", "OS-EXT-STS:task_state": None},
                )
                server["fault"] = {
                    "code": 500,
                    "created": utc_now(),
                    "message": "No valid host was found. There are not enough hosts available.",
                }
            elif reads > self.boot_reads:
                server.update(
                    status="ACTIVE",
                    progress=100,
                    **{
                        "OS-EXT-STS:vm_state": "active",
                        "OS-EXT-STS:task_state": None,
                        "OS-EXT-STS:power_state": 1,
                        "OS-SRV-USG:launched_at": utc_now(),
                    },
                )
            else:
                server["OS-EXT-STS:task_state"] = "spawning"
        view = {k: v for k, v in server.items() if not k.startswith("_")}
        view["addresses"] = self._addresses(server) if server["status"] != "BUILD" else {}
        return view

    def _addresses(self, server: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        for port in self.ports.values():
            if port["device_id"] != server["id"]:
                continue
            entries = found.setdefault(self.networks[port["network_id"]]["name"], [])
            for fixed in port["fixed_ips"]:
                entries.append(
                    {
                        "addr": fixed["ip_address"],
                        "version": 4,
                        "OS-EXT-IPS:type": "fixed",
                        "OS-EXT-IPS-MAC:mac_addr": port["mac_address"],
                    }
                )
            for fip in self.floatingips.values():
                if fip["port_id"] == port["id"]:
                    entries.append(
                        {
                            "addr": fip["floating_ip_address"],
                            "version": 4,
                            "OS-EXT-IPS:type": "floating",
                            "OS-EXT-IPS-MAC:mac_addr": port["mac_address"],
                        }
                    )
        return found

    def _create_server(self, r: JsonRequest) -> JsonReply:
        body = r.body["server"]
        flavor = next(
            (
                f
                for f in self.catalog_data["flavors"]
                if str(body["flavorRef"]) in (f["id"], f["name"])
            ),
            None,
        )
        if flavor is None:
            return self.error(400, "badRequest", f"Flavor {body['flavorRef']} could not be found.")
        image = next(
            (i for i in self.catalog_data["images"] if i["id"] == body.get("imageRef")), None
        )
        if image is None:
            return self.error(
                400, "badRequest", f"Can not find requested image {body.get('imageRef')}"
            )
        key_name = body.get("key_name")
        if key_name and key_name not in self.keypairs:
            return self.error(400, "badRequest", f"Invalid key_name provided: {key_name}")
        groups = [g["name"] for g in body.get("security_groups") or [{"name": "default"}]]
        for name in groups:
            if name != "default" and not any(
                g["name"] == name for g in self.security_groups.values()
            ):
                return self.error(
                    400, "badRequest", f"Security group {name} not found for project {PROJECT_ID}."
                )
        networks = body.get("networks")
        if networks == "auto":
            network_ids = [self._auto_network()]
        else:
            network_ids = [n["uuid"] for n in networks]
            for net_id in network_ids:
                if net_id not in self.networks or not self.networks[net_id]["subnets"]:
                    return self.error(
                        400, "badRequest", f"Network {net_id} could not be found or has no subnet."
                    )
        server_id = str(uuid.uuid4())
        now = utc_now()
        server = {
            "id": server_id,
            "name": body["name"],
            "status": "BUILD",
            "progress": 0,
            "accessIPv4": "",
            "accessIPv6": "",
            "addresses": {},
            "config_drive": "",
            "created": now,
            "updated": now,
            "hostId": secrets.token_hex(28),
            "flavor": {
                "disk": flavor["disk"],
                "ephemeral": flavor["OS-FLV-EXT-DATA:ephemeral"],
                "extra_specs": {},
                "original_name": flavor["name"],
                "ram": flavor["ram"],
                "swap": flavor["swap"] or 0,
                "vcpus": flavor["vcpus"],
            },
            "image": {
                "id": image["id"],
                "links": [{"rel": "bookmark", "href": self.link(f"/compute/images/{image['id']}")}],
            },
            "key_name": key_name,
            "links": [
                {"rel": "self", "href": self.link(f"/compute/v2.1/servers/{server_id}")},
                {"rel": "bookmark", "href": self.link(f"/compute/servers/{server_id}")},
            ],
            "metadata": dict(body.get("metadata") or {}),
            "os-extended-volumes:volumes_attached": [],
            "security_groups": [{"name": n} for n in groups],
            "tenant_id": PROJECT_ID,
            "user_id": USER_ID,
            "OS-DCF:diskConfig": "MANUAL",
            "OS-EXT-AZ:availability_zone": "nova",
            "OS-EXT-STS:power_state": 0,
            "OS-EXT-STS:task_state": "scheduling",
            "OS-EXT-STS:vm_state": "building",
            "OS-SRV-USG:launched_at": None,
            "OS-SRV-USG:terminated_at": None,
            "locked": False,
            "description": None,
            "tags": list(body.get("tags") or []),
        }
        self.servers[server_id] = server
        for net_id in network_ids:
            self._port(net_id, server_id, "compute:nova")
        if body.get("user_data"):
            self.user_data[server_id] = base64.b64decode(body["user_data"]).decode()
        reply = {
            "id": server_id,
            "links": server["links"],
            "OS-DCF:diskConfig": "MANUAL",
            "security_groups": server["security_groups"],
            "adminPass": secrets.token_urlsafe(12),
        }
        return JsonReply(202, {"server": reply})

    def _auto_network(self) -> str:
        """Nova's get-me-a-network: one network for the project, made on first use."""
        if self.auto_network is None:
            net_id, subnet_id = str(uuid.uuid4()), str(uuid.uuid4())
            self.networks[net_id] = self._network(
                net_id, "auto_allocated_network", subnets=[subnet_id]
            )
            self.subnets[subnet_id] = self._subnet(
                subnet_id, "auto_allocated_subnet", net_id, "10.240.0.0/24"
            )
            self.auto_network = net_id
        return self.auto_network

    def _in_use_by_server(self, group_name: str) -> bool:
        return any(
            group_name in [g["name"] for g in s["security_groups"]] for s in self.servers.values()
        )

    # ------------------------------------------------------------------------ routes

    def _routes_(self) -> None:
        route = self.route

        @route("POST", "/identity/v3/auth/tokens")
        def issue_token(r: JsonRequest) -> JsonReply:
            return self._issue_token(r)

        # ---------------------------------------------------------------- nova

        @route("GET", "/compute/v2.1/flavors")
        def flavors(r: JsonRequest) -> JsonReply:
            found = [self._flavor(f) for f in self.catalog_data["flavors"]]
            limit = int(r.params.get("limit") or len(found) or 1)
            brief = [{k: f[k] for k in ("id", "name", "links")} for f in found[:limit]]
            return JsonReply(200, {"flavors": brief})

        @route("GET", "/compute/v2.1/flavors/detail")
        def flavors_detail(_r: JsonRequest) -> JsonReply:
            return JsonReply(
                200, {"flavors": [self._flavor(f) for f in self.catalog_data["flavors"]]}
            )

        @route("GET", "/compute/v2.1/servers/detail")
        def servers_detail(r: JsonRequest) -> JsonReply:
            found = sorted(
                self.servers.values(), key=lambda s: (s["created"], s["id"]), reverse=True
            )
            for key, every in (("tags", True), ("tags-any", False)):
                if r.params.get(key):
                    wanted = set(r.params[key].split(","))
                    test = wanted.issubset if every else wanted.intersection
                    found = [s for s in found if test(s["tags"])]
            if r.params.get("name"):
                found = [s for s in found if re.search(r.params["name"], s["name"])]
            if r.params.get("marker"):
                ids = [s["id"] for s in found]
                if r.params["marker"] not in ids:
                    return self.error(400, "badRequest", f"marker [{r.params['marker']}] not found")
                found = found[ids.index(r.params["marker"]) + 1 :]
            limit = min(int(r.params.get("limit") or self.max_limit), self.max_limit)
            page = [self._server_view(s) for s in found[:limit]]
            reply: dict[str, Any] = {"servers": page}
            if len(found) > limit:  # Nova gives a next link whenever a page is full
                query = "&".join(f"{k}={v}" for k, v in r.params.items() if k != "marker")
                reply["servers_links"] = [
                    {
                        "rel": "next",
                        "href": self.link(
                            f"/compute/v2.1/servers/detail?{query}&marker={page[-1]['id']}".replace(
                                "?&", "?"
                            )
                        ),
                    }
                ]
            return JsonReply(200, reply)

        @route("POST", "/compute/v2.1/servers")
        def create_server(r: JsonRequest) -> JsonReply:
            return self._create_server(r)

        @route("DELETE", "/compute/v2.1/servers/{server_id}")
        def delete_server(_r: JsonRequest, server_id: str) -> JsonReply:
            if self.servers.pop(server_id, None) is None:
                return self.error(404, "itemNotFound", f"Instance {server_id} could not be found.")
            for port_id in [p["id"] for p in self.ports.values() if p["device_id"] == server_id]:
                self._delete_port(port_id)
            return JsonReply(204)

        @route("POST", "/compute/v2.1/servers/{server_id}/action")
        def server_action(_r: JsonRequest, server_id: str) -> JsonReply:
            server = self.servers.get(server_id)
            if server is None:
                return self.error(404, "itemNotFound", f"Instance {server_id} could not be found.")
            if server["status"] == "BUILD":
                return self.error(
                    409,
                    "conflictingRequest",
                    f"Cannot 'os-getConsoleOutput' instance {server_id} "
                    "while it is in vm_state building",
                )
            host_key = public_host_key_in(self.user_data.get(server_id, "")) or ""
            output = (
                "[  OK  ] Reached target Cloud-init target.\n"
                "-----BEGIN SSH HOST KEY KEYS-----\n"
                f"{host_key}\n-----END SSH HOST KEY KEYS-----\n"
                f"Cloud-init finished at {utc_now()}\n"
            )
            return JsonReply(200, {"output": output})

        @route("POST", "/compute/v2.1/os-keypairs")
        def create_keypair(r: JsonRequest) -> JsonReply:
            body = r.body["keypair"]
            if body["name"] in self.keypairs:
                return self.error(
                    409, "conflictingRequest", f"Key pair '{body['name']}' already exists."
                )
            public_key = body.get("public_key", "")
            if not re.match(
                r"^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+", public_key
            ):
                return self.error(
                    400, "badRequest", "Keypair data is invalid: failed to generate fingerprint"
                )
            now = utc_now().replace("Z", "")
            keypair = {
                "name": body["name"],
                "public_key": public_key,
                "user_id": USER_ID,
                "fingerprint": md5_fingerprint(public_key),
                "type": body.get("type", "ssh"),
                "created_at": now,
                "updated_at": None,
                "deleted": False,
                "deleted_at": None,
                "id": len(self.keypairs) + 1,
            }
            self.keypairs[body["name"]] = keypair
            shown = {
                k: keypair[k] for k in ("name", "public_key", "user_id", "fingerprint", "type")
            }
            return JsonReply(201, {"keypair": shown})

        @route("GET", "/compute/v2.1/os-keypairs/{name}")
        def show_keypair(_r: JsonRequest, name: str) -> JsonReply:
            keypair = self.keypairs.get(name)
            if keypair is None:
                return self.error(
                    404, "itemNotFound", f"Keypair {name} not found for user {USER_ID}"
                )
            return JsonReply(
                200,
                {
                    "keypair": {
                        **keypair,
                        "created_at": keypair["created_at"] + "Z",
                        "updated_at": None,
                    }
                },
            )

        @route("DELETE", "/compute/v2.1/os-keypairs/{name}")
        def delete_keypair(_r: JsonRequest, name: str) -> JsonReply:
            if self.keypairs.pop(name, None) is None:
                return self.error(
                    404, "itemNotFound", f"Keypair {name} not found for user {USER_ID}"
                )
            return JsonReply(204)

        # ---------------------------------------------------------------- glance

        @route("GET", "/image/v2/images")
        def images(r: JsonRequest) -> JsonReply:
            found = sorted(
                self.catalog_data["images"], key=lambda i: (i["created_at"], i["id"]), reverse=True
            )
            for key in ("name", "status"):
                if r.params.get(key):
                    found = [i for i in found if i.get(key) == r.params[key]]
            if r.params.get("marker"):
                ids = [i["id"] for i in found]
                if r.params["marker"] not in ids:
                    return self.error(400, "BadRequest", "marker not found")
                found = found[ids.index(r.params["marker"]) + 1 :]
            limit = min(int(r.params.get("limit") or 25), self.image_page_limit)
            query = "&".join(f"{k}={v}" for k, v in sorted(r.params.items()) if k != "marker")
            reply: dict[str, Any] = {
                "images": found[:limit],
                "schema": "/v2/schemas/images",
                "first": "/v2/images" + (f"?{query}" if query else ""),
            }
            if len(found) > limit:
                reply["next"] = f"/v2/images?{query}&marker={found[limit - 1]['id']}".replace(
                    "?&", "?"
                )
            return JsonReply(200, reply)

        self._neutron_routes()

    # ------------------------------------------------------------------------ keystone

    def _issue_token(self, r: JsonRequest) -> JsonReply:
        auth = r.body["auth"]
        identity = auth["identity"]
        user = (identity.get("password") or {}).get("user") or {}
        user_domain = (user.get("domain") or {}).get("name") or (user.get("domain") or {}).get("id")
        wanted = self.users.get((user.get("name", ""), _domain_name(user_domain)))
        if (
            "password" not in identity["methods"]
            or wanted is None
            or wanted != user.get("password")
        ):
            return self.error(
                401, "unauthorized", "The request you have made requires authentication."
            )
        scope = auth.get("scope")
        project = scope.get("project") if isinstance(scope, dict) else None
        if project is None:
            return self.error(400, "badRequest", "this cloud issues project-scoped tokens only")
        domain = project.get("domain") or {}
        if (
            project.get("name"),
            _domain_name(domain.get("name") or domain.get("id")),
        ) != self.project:
            return self.error(
                401, "unauthorized", "The request you have made requires authentication."
            )
        token = "gAAAAA" + secrets.token_urlsafe(48)
        self.tokens.add(token)
        now = utc_now()
        body = {
            "token": {
                "methods": ["password"],
                "expires_at": "2099-01-01T00:00:00.000000Z",
                "issued_at": now,
                "audit_ids": [secrets.token_urlsafe(16)],
                "user": {
                    "id": USER_ID,
                    "name": user["name"],
                    "password_expires_at": None,
                    "domain": {"id": "default", "name": "Default"},
                },
                "project": {
                    "id": PROJECT_ID,
                    "name": self.project[0],
                    "domain": {"id": "default", "name": "Default"},
                },
                "is_domain": False,
                "roles": [{"id": "9fe2ff9ee4384b1894a90878d3e92bab", "name": "member"}],
                "catalog": [
                    self._service(kind, name, path)
                    for kind, name, path in (
                        ("identity", "keystone", "/identity"),
                        ("compute", "nova", "/compute/v2.1"),
                        ("network", "neutron", "/networking"),
                        ("image", "glance", "/image"),
                    )
                ],
            }
        }
        return JsonReply(201, body, {"X-Subject-Token": token})

    def _service(self, kind: str, name: str, path: str) -> dict[str, Any]:
        return {
            "id": f"{kind}-service",
            "type": kind,
            "name": name,
            "endpoints": [
                {
                    "id": f"{kind}-{interface}",
                    "interface": interface,
                    "region": "RegionOne",
                    "region_id": "RegionOne",
                    "url": self.link(prefix + path),
                }
                for interface, prefix in (("public", ""), ("internal", "/internal"))
            ],
        }

    # ------------------------------------------------------------------------ neutron

    def _delete_port(self, port_id: str) -> None:
        port = self.ports.pop(port_id)
        for fip in self.floatingips.values():
            if fip["port_id"] == port_id:  # Neutron disassociates, it does not delete
                fip.update(port_id=None, fixed_ip_address=None, router_id=None, status="DOWN")
        del port

    def _neutron_routes(self) -> None:
        route = self.route
        stores = {
            "networks": ("network", self.networks),
            "subnets": ("subnet", self.subnets),
            "ports": ("port", self.ports),
            "routers": ("router", self.routers),
            "floatingips": ("floatingip", self.floatingips),
            "security-groups": ("security_group", self.security_groups),
        }

        for collection, (single, store) in stores.items():
            key = collection.replace("-", "_")

            def listing(r: JsonRequest, key: str = key, store: dict[str, Any] = store) -> JsonReply:
                return self.neutron_listing(r, key, list(store.values()))

            def show(
                _r: JsonRequest, item_id: str, single: str = single, store: dict[str, Any] = store
            ) -> JsonReply:
                item = store.get(item_id)
                return (
                    JsonReply(200, {single: item})
                    if item
                    else self.not_found(single.title().replace("_", ""), item_id)
                )

            def set_tags(
                r: JsonRequest, item_id: str, single: str = single, store: dict[str, Any] = store
            ) -> JsonReply:
                item = store.get(item_id)
                if item is None:
                    return self.not_found(single.title().replace("_", ""), item_id)
                item["tags"] = sorted(set(r.body["tags"]))
                item["revision_id"] += 1
                return JsonReply(200, {"tags": item["tags"]})

            route("GET", f"/networking/v2.0/{collection}")(listing)
            route("GET", f"/networking/v2.0/{collection}/{{item_id}}")(show)
            route("PUT", f"/networking/v2.0/{collection}/{{item_id}}/tags")(set_tags)

        @route("POST", "/networking/v2.0/networks")
        def create_network(r: JsonRequest) -> JsonReply:
            body = r.body["network"]
            network = self._network(str(uuid.uuid4()), body.get("name", ""))
            network.update(
                admin_state_up=body.get("admin_state_up", True),
                description=body.get("description", ""),
            )
            self.networks[network["id"]] = network
            return JsonReply(201, {"network": network})

        @route("DELETE", "/networking/v2.0/networks/{net_id}")
        def delete_network(_r: JsonRequest, net_id: str) -> JsonReply:
            if net_id not in self.networks:
                return self.not_found("Network", net_id)
            if any(
                p["network_id"] == net_id and p["device_owner"] != "network:dhcp"
                for p in self.ports.values()
            ):
                return self.error(
                    409,
                    "NetworkInUse",
                    f"Unable to complete operation on network {net_id}. "
                    "There are one or more ports still in use on the network.",
                )
            for subnet_id in self.networks.pop(net_id)["subnets"]:
                self.subnets.pop(subnet_id, None)
            return JsonReply(204)

        @route("POST", "/networking/v2.0/subnets")
        def create_subnet(r: JsonRequest) -> JsonReply:
            body = r.body["subnet"]
            network = self.networks.get(body["network_id"])
            if network is None:
                return self.not_found("Network", body["network_id"])
            try:
                cidr = str(ipaddress.IPv4Network(body.get("cidr") or ""))
            except ValueError:
                return self.error(
                    400,
                    "BadRequest",
                    f"Invalid input for cidr. Reason: '{body.get('cidr')}' "
                    "is not a valid IP subnet.",
                )
            subnet = self._subnet(str(uuid.uuid4()), body.get("name", ""), network["id"], cidr)
            self.subnets[subnet["id"]] = subnet
            network["subnets"].append(subnet["id"])
            return JsonReply(201, {"subnet": subnet})

        @route("DELETE", "/networking/v2.0/subnets/{subnet_id}")
        def delete_subnet(_r: JsonRequest, subnet_id: str) -> JsonReply:
            subnet = self.subnets.get(subnet_id)
            if subnet is None:
                return self.not_found("Subnet", subnet_id)
            if any(
                subnet_id in [f["subnet_id"] for f in p["fixed_ips"]] for p in self.ports.values()
            ):
                return self.error(
                    409,
                    "SubnetInUse",
                    f"Unable to complete operation on subnet {subnet_id}: "
                    "One or more ports have an IP allocation from this subnet.",
                )
            del self.subnets[subnet_id]
            self.networks[subnet["network_id"]]["subnets"].remove(subnet_id)
            return JsonReply(204)

        @route("POST", "/networking/v2.0/routers")
        def create_router(r: JsonRequest) -> JsonReply:
            body = r.body["router"]
            gateway = body.get("external_gateway_info")
            if gateway:
                external = self.networks.get(gateway["network_id"])
                if external is None or not external["router:external"]:
                    return self.error(
                        400,
                        "BadRequest",
                        f"Bad router request: Network {gateway['network_id']} "
                        "is not an external network.",
                    )
                gateway = {
                    "network_id": external["id"],
                    "enable_snat": True,
                    "external_fixed_ips": [
                        {
                            "subnet_id": EXTERNAL_SUBNET,
                            "ip_address": self._pools[EXTERNAL_SUBNET].take(),
                        }
                    ],
                }
            router = {
                "id": str(uuid.uuid4()),
                "name": body.get("name", ""),
                "admin_state_up": True,
                "status": "ACTIVE",
                "external_gateway_info": gateway,
                **self._standard(),
            }
            self.routers[router["id"]] = router
            return JsonReply(201, {"router": router})

        @route("PUT", "/networking/v2.0/routers/{router_id}/add_router_interface")
        def add_interface(r: JsonRequest, router_id: str) -> JsonReply:
            if router_id not in self.routers:
                return self.not_found("Router", router_id)
            subnet = self.subnets.get(r.body.get("subnet_id", ""))
            if subnet is None:
                return self.not_found("Subnet", str(r.body.get("subnet_id")))
            port = {
                "id": str(uuid.uuid4()),
                "name": "",
                "network_id": subnet["network_id"],
                "admin_state_up": True,
                "mac_address": "fa:16:3e:00:00:01",
                "fixed_ips": [{"subnet_id": subnet["id"], "ip_address": subnet["gateway_ip"]}],
                "device_id": router_id,
                "device_owner": "network:router_interface",
                "status": "ACTIVE",
                **self._standard(),
            }
            self.ports[port["id"]] = port
            return JsonReply(
                200,
                {
                    "id": router_id,
                    "subnet_id": subnet["id"],
                    "subnet_ids": [subnet["id"]],
                    "port_id": port["id"],
                    "network_id": subnet["network_id"],
                    "tenant_id": PROJECT_ID,
                    "project_id": PROJECT_ID,
                },
            )

        @route("PUT", "/networking/v2.0/routers/{router_id}/remove_router_interface")
        def remove_interface(r: JsonRequest, router_id: str) -> JsonReply:
            if router_id not in self.routers:
                return self.not_found("Router", router_id)
            subnet_id = r.body.get("subnet_id", "")
            ports = [
                p
                for p in self.ports.values()
                if p["device_id"] == router_id
                and subnet_id in [f["subnet_id"] for f in p["fixed_ips"]]
            ]
            if not ports:
                return self.error(
                    404,
                    "RouterInterfaceNotFoundForSubnet",
                    f"Router {router_id} has no interface on subnet {subnet_id}",
                )
            del self.ports[ports[0]["id"]]
            return JsonReply(
                200,
                {
                    "id": router_id,
                    "subnet_id": subnet_id,
                    "subnet_ids": [subnet_id],
                    "port_id": ports[0]["id"],
                    "network_id": ports[0]["network_id"],
                    "tenant_id": PROJECT_ID,
                    "project_id": PROJECT_ID,
                },
            )

        @route("DELETE", "/networking/v2.0/routers/{router_id}")
        def delete_router(_r: JsonRequest, router_id: str) -> JsonReply:
            if router_id not in self.routers:
                return self.not_found("Router", router_id)
            if any(p["device_id"] == router_id for p in self.ports.values()):
                return self.error(409, "RouterInUse", f"Router {router_id} still has ports")
            del self.routers[router_id]
            return JsonReply(204)

        @route("POST", "/networking/v2.0/floatingips")
        def create_floatingip(r: JsonRequest) -> JsonReply:
            body = r.body["floatingip"]
            external = self.networks.get(body["floating_network_id"])
            if external is None or not external["router:external"]:
                return self.error(
                    400, "BadRequest", "Bad floatingip request: network is not external."
                )
            fip = {
                "id": str(uuid.uuid4()),
                "floating_ip_address": self._pools[EXTERNAL_SUBNET].take(),
                "floating_network_id": external["id"],
                "router_id": None,
                "port_id": None,
                "fixed_ip_address": None,
                "status": "DOWN",
                **self._standard(),
            }
            fip["description"] = body.get("description", "")
            self.floatingips[fip["id"]] = fip
            return JsonReply(201, {"floatingip": fip})

        @route("PUT", "/networking/v2.0/floatingips/{fip_id}")
        def update_floatingip(r: JsonRequest, fip_id: str) -> JsonReply:
            fip = self.floatingips.get(fip_id)
            if fip is None:
                return self.not_found("FloatingIP", fip_id)
            port_id = r.body["floatingip"].get("port_id")
            if port_id is None:
                fip.update(port_id=None, fixed_ip_address=None, router_id=None, status="DOWN")
                return JsonReply(200, {"floatingip": fip})
            port = self.ports.get(port_id)
            if port is None:
                return self.not_found("Port", port_id)
            subnet_id = port["fixed_ips"][0]["subnet_id"]
            router = next(
                (
                    p["device_id"]
                    for p in self.ports.values()
                    if p["device_owner"] == "network:router_interface"
                    and p["fixed_ips"][0]["subnet_id"] == subnet_id
                ),
                None,
            )
            if router is None:
                return self.error(
                    404,
                    "ExternalGatewayForFloatingIPNotFound",
                    f"External network {fip['floating_network_id']} "
                    f"is not reachable from subnet {subnet_id}.",
                )
            fip.update(
                port_id=port_id,
                fixed_ip_address=port["fixed_ips"][0]["ip_address"],
                router_id=router,
                status="ACTIVE",
            )
            fip["revision_id"] += 1
            return JsonReply(200, {"floatingip": fip})

        @route("DELETE", "/networking/v2.0/floatingips/{fip_id}")
        def delete_floatingip(_r: JsonRequest, fip_id: str) -> JsonReply:
            if self.floatingips.pop(fip_id, None) is None:
                return self.not_found("FloatingIP", fip_id)
            return JsonReply(204)

        @route("POST", "/networking/v2.0/security-groups")
        def create_group(r: JsonRequest) -> JsonReply:
            body = r.body["security_group"]
            group = {
                "id": str(uuid.uuid4()),
                "name": body.get("name", ""),
                "stateful": True,
                "shared": False,
                "security_group_rules": [],
                **self._standard(),
            }
            group["description"] = body.get("description", "")
            for ethertype in ("IPv4", "IPv6"):  # what Neutron adds to every new group
                group["security_group_rules"].append(
                    self._rule(group["id"], {"direction": "egress", "ethertype": ethertype})
                )
            self.security_groups[group["id"]] = group
            return JsonReply(201, {"security_group": group})

        @route("DELETE", "/networking/v2.0/security-groups/{group_id}")
        def delete_group(_r: JsonRequest, group_id: str) -> JsonReply:
            group = self.security_groups.get(group_id)
            if group is None:
                return self.not_found("SecurityGroup", group_id)
            if self._in_use_by_server(group["name"]):
                return self.error(409, "SecurityGroupInUse", f"Security Group {group_id} in use.")
            del self.security_groups[group_id]
            return JsonReply(204)

        @route("POST", "/networking/v2.0/security-group-rules")
        def create_rule(r: JsonRequest) -> JsonReply:
            body = r.body["security_group_rule"]
            group = self.security_groups.get(body["security_group_id"])
            if group is None:
                return self.not_found("SecurityGroup", body["security_group_id"])
            low, high = body.get("port_range_min"), body.get("port_range_max")
            if (body.get("protocol") in ("tcp", "udp") and (low is None) != (high is None)) or (
                low is not None and high is not None and low > high
            ):
                return self.error(
                    400,
                    "SecurityGroupInvalidPortRange",
                    "For TCP/UDP protocols, port_range_min must be <= port_range_max",
                )
            rule = self._rule(group["id"], body)
            same = (
                "direction",
                "ethertype",
                "protocol",
                "port_range_min",
                "port_range_max",
                "remote_ip_prefix",
            )
            for existing in group["security_group_rules"]:
                if all(existing[k] == rule[k] for k in same):
                    return self.error(
                        409,
                        "SecurityGroupRuleExists",
                        f"Security group rule already exists. Rule id is {existing['id']}.",
                    )
            group["security_group_rules"].append(rule)
            return JsonReply(201, {"security_group_rule": rule})

    def _rule(self, group_id: str, body: dict[str, Any]) -> dict[str, Any]:
        prefix = body.get("remote_ip_prefix")
        return {
            "id": str(uuid.uuid4()),
            "security_group_id": group_id,
            "direction": body["direction"],
            "ethertype": body.get("ethertype", "IPv4"),
            "protocol": body.get("protocol"),
            "port_range_min": body.get("port_range_min"),
            "port_range_max": body.get("port_range_max"),
            "remote_ip_prefix": prefix,
            "normalized_cidr": str(ipaddress.ip_network(prefix, strict=False)) if prefix else None,
            "remote_group_id": None,
            "remote_address_group_id": None,
            "belongs_to_default_sg": False,
            **self._standard(),
            "description": body.get("description", ""),
        }


def _domain_name(value: str | None) -> str:
    return "Default" if value in (None, "default", "Default") else str(value)


def _neutron_filters(item: dict[str, Any], params: dict[str, str]) -> bool:
    """Neutron's list filters: attribute equality, ``tags`` (all of), ``tags-any`` (one of),
    ``not-tags``, ``not-tags-any``; paging and ``fields`` parameters are not filters."""
    for name, value in params.items():
        if name in ("limit", "marker", "page_reverse", "sort_key", "sort_dir", "fields"):
            continue
        tags = set(item.get("tags") or [])
        wanted = set(value.split(","))
        if name == "tags" and not wanted <= tags:
            return False
        if name == "tags-any" and not wanted & tags:
            return False
        if name == "not-tags" and wanted <= tags:
            return False
        if name == "not-tags-any" and wanted & tags:
            return False
        if name.startswith(("tags", "not-tags")):
            continue
        actual = item.get(name)
        shown = str(actual).lower() if isinstance(actual, bool) else str(actual)
        if shown != (value.lower() if isinstance(actual, bool) else value):
            return False
    return True
