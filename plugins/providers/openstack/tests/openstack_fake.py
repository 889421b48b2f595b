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
  which the fake refuses as a violation); every other call needs a valid ``X-Auth-Token``, else
  401 in keystonemiddleware's shape with ``WWW-Authenticate``;
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
import json
import re
import secrets
import uuid
from pathlib import Path
from typing import Any

from sloth_kubernetes.cloud.userdata import public_host_key_in
from sloth_kubernetes.testing.emulators._http import JsonReply, JsonRequest
from sloth_kubernetes.testing.emulators.described import ApiDescription, DescribedApp
from sloth_kubernetes.testing.emulators.state import AddressPool, md5_fingerprint, utc_now

from .openstack_fake_neutron import EXTERNAL_NET, EXTERNAL_SUBNET, PROJECT_ID, NeutronFake

HERE = Path(__file__).parent / "described"
MICROVERSION = "2.52"
USER_ID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
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


class OpenStackFake(NeutronFake, DescribedApp):
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
            # keystonemiddleware answers for the service, in Keystone's error shape
            message = "The request you have made requires authentication."
            body = {"error": {"code": 401, "title": "Unauthorized", "message": message}}
            challenge = f'Keystone uri="{self.link("/identity")}"'
            return JsonReply(401, body, {"WWW-Authenticate": challenge})
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
            try:
                fingerprint = md5_fingerprint(public_key)
            except ValueError:  # binascii.Error: not base64
                return self.error(
                    400, "badRequest", "Keypair data is invalid: failed to generate fingerprint"
                )
            now = utc_now().replace("Z", "")
            keypair = {
                "name": body["name"],
                "public_key": public_key,
                "user_id": USER_ID,
                "fingerprint": fingerprint,
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


def _domain_name(value: str | None) -> str:
    return "Default" if value in (None, "default", "Default") else str(value)
