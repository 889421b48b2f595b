"""A stateful fake of the Hetzner Cloud API, small but spec-valid (Prism checks every reply).

Covers servers (create, list with ``name``/``label_selector``/``page``/``per_page``, get, delete,
power actions), SSH keys, firewalls, networks, and a read-only catalogue of locations, server
types and images. Paths are the spec's (``/servers``): the real base URL ends in ``/v1``, the
emulator's does not (Prism matches paths without the server prefix).

``label_selector`` supports Hetzner's syntax: ``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``,
``k in (a,b)``, ``k notin (a,b)``, joined with commas (all must hold).

**Actions** are asynchronous, as the API describes them (hcloud.json, schema ``action``: "Actions
show the results and progress of asynchronous requests"; ``status`` one of ``running``,
``success``, ``error``; ``finished`` null until it is finished; ``error`` null unless it failed):
every action starts ``running`` (progress 0) and finishes on its own ``action_seconds`` later —
``success``, or ``error`` (``action_failed``) for a command in ``failing_commands``. They are read
back with ``GET /actions/{id}`` and ``GET /firewalls/actions/{id}``. ``set_rules`` answers, as
the spec's example of ``POST /firewalls/{id}/actions/set_rules`` does, a ``set_firewall_rules``
action on the firewall and one ``apply_firewall`` action (firewall + server) per server the
firewall applies to.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

from sloth_kubernetes.testing.emulators._http import JsonApp, JsonReply, JsonRequest
from sloth_kubernetes.testing.emulators.prism import PrismSpec
from sloth_kubernetes.testing.emulators.state import (
    AddressPool,
    IdCounter,
    md5_fingerprint,
    paginate,
    utc_now,
)

LOCATIONS = {
    "fsn1": (1, "Falkenstein", "DE", 50.47612, 12.370071, "eu-central", "fsn1-dc14", 4),
    "hel1": (3, "Helsinki", "FI", 60.169855, 24.938379, "eu-central", "hel1-dc2", 3),
}
SERVER_TYPES = {"cx22": (104, 2, 4.0, 40), "cx32": (105, 4, 8.0, 80)}
IMAGES = {
    "debian-12": (114_690_387, "debian", "12"),
    "ubuntu-24.04": (161_547_269, "ubuntu", "24.04"),
}
_SELECTOR = re.compile(
    r"\s*(!?)([\w./-]+)\s*(?:(==|=|!=)\s*([\w./-]*)|\s+(in|notin)\s*\(([^)]*)\))?\s*$"
)


#: Hetzner Cloud's OpenAPI document (github.com/MaximilianKoestler/hcloud-openapi at 5f93a6da71d3,
#: derived from Hetzner's published spec), under the api-specs folder (docs/testing-clouds.md).
SPEC = PrismSpec("hetzner/hcloud.json")


class HetznerFake(JsonApp):
    """The fake's state lives on this object; :meth:`reset` empties it."""

    def __init__(self) -> None:
        super().__init__("hetzner")
        self.ids = IdCounter()
        self.public_ips = AddressPool("192.0.2.0/24")
        self.servers: dict[int, dict[str, Any]] = {}
        self.keys: dict[int, dict[str, Any]] = {}
        self.firewalls: dict[int, dict[str, Any]] = {}
        self.networks: dict[int, dict[str, Any]] = {}
        self.actions: dict[int, dict[str, Any]] = {}
        self._action_ends: dict[int, float] = {}  # monotonic time each action finishes
        self.action_seconds = 0.2  # how long an action runs before it finishes
        self.failing_commands: set[str] = set()  # actions of these commands end in error
        self._routes_()

    def reset(self) -> None:
        with self.lock:
            self.ids.reset()
            self.public_ips.reset()
            for store in (self.servers, self.keys, self.firewalls, self.networks, self.actions):
                store.clear()
            self._action_ends.clear()
            self.action_seconds = 0.2
            self.failing_commands.clear()
            self.requests.clear()

    def error(self, status: int, code: str, message: str) -> JsonReply:
        return JsonReply(status, {"error": {"code": code, "message": message, "details": {}}})

    def not_found(self) -> JsonReply:
        return self.error(404, "not_found", "resource not found")

    def listing(self, request: JsonRequest, key: str, items: list[dict[str, Any]]) -> JsonReply:
        selector = request.params.get("label_selector")
        if selector:
            try:
                items = [i for i in items if _selected(i.get("labels", {}), selector)]
            except ValueError as problem:
                return self.error(400, "invalid_input", str(problem))
        if request.params.get("name"):
            items = [i for i in items if i.get("name") == request.params["name"]]
        page = paginate(items, request.params, default_per_page=25)
        pagination = {
            "page": page.page,
            "per_page": page.per_page,
            "previous_page": page.page - 1 if page.page > 1 else None,
            "next_page": page.page + 1 if page.page < page.last_page else None,
            "last_page": page.last_page,
            "total_entries": page.total,
        }
        return JsonReply(200, {key: page.items, "meta": {"pagination": pagination}})

    def action(
        self, command: str, resource_id: int, resource_type: str, *more: tuple[int, str]
    ) -> dict[str, Any]:
        """Start an action on the resource (and ``more`` ``(id, type)``): running, for now."""
        action = {
            "id": self.ids.next(),
            "command": command,
            "status": "running",
            "progress": 0,
            "started": utc_now(),
            "finished": None,
            "resources": [{"id": i, "type": t} for i, t in ((resource_id, resource_type), *more)],
            "error": None,
        }
        self.actions[action["id"]] = action
        self._action_ends[action["id"]] = time.monotonic() + self.action_seconds
        return dict(action)

    def action_now(self, action_id: int) -> dict[str, Any] | None:
        """The action as it is now: finished on its own once its time is up."""
        action = self.actions.get(action_id)
        if action is None:
            return None
        if action["status"] == "running" and time.monotonic() >= self._action_ends[action_id]:
            failed = action["command"] in self.failing_commands
            action.update(
                status="error" if failed else "success",
                progress=100,
                finished=utc_now(),
                error={"code": "action_failed", "message": "Action failed"} if failed else None,
            )
        return dict(action)

    def _routes_(self) -> None:
        route = self.route

        @route("GET", "/locations")
        def locations(r: JsonRequest) -> JsonReply:
            return self.listing(r, "locations", [_location(n) for n in LOCATIONS])

        @route("GET", "/server_types")
        def server_types(r: JsonRequest) -> JsonReply:
            return self.listing(r, "server_types", [_server_type(n) for n in SERVER_TYPES])

        @route("GET", "/images")
        def images(r: JsonRequest) -> JsonReply:
            return self.listing(r, "images", [_image(n) for n in IMAGES])

        # -------------------------------------------------------------- servers

        @route("GET", "/servers")
        def list_servers(r: JsonRequest) -> JsonReply:
            return self.listing(r, "servers", list(self.servers.values()))

        @route("POST", "/servers")
        def create_server(r: JsonRequest) -> JsonReply:
            body = r.body or {}
            location = body.get("location") or "fsn1"
            if body.get("server_type") not in SERVER_TYPES:
                return self.error(422, "invalid_input", "server_type not found")
            if body.get("image") not in IMAGES or location not in LOCATIONS:
                return self.error(422, "invalid_input", "image or location not found")
            if any(s["name"] == body["name"] for s in self.servers.values()):
                return self.error(409, "uniqueness_error", "server name is already used")
            server_id = self.ids.next()
            networks = [self.networks[n] for n in body.get("networks") or [] if n in self.networks]
            server = {
                "id": server_id,
                "name": body["name"],
                "status": "initializing",
                "created": utc_now(),
                "public_net": {
                    "ipv4": {
                        "id": self.ids.next(),
                        "ip": self.public_ips.take(),
                        "blocked": False,
                        "dns_ptr": f"static.{server_id}.example",
                    },
                    "ipv6": None,
                    "floating_ips": [],
                    "firewalls": [
                        {"id": f, "status": "applied"}
                        for f in body.get("firewalls", [])
                        if isinstance(f, int)
                    ],
                },
                "private_net": [
                    {
                        "network": n["id"],
                        "ip": n["_pool"].take(),
                        "alias_ips": [],
                        "mac_address": "86:00:00:00:00:01",
                    }
                    for n in networks
                ],
                "server_type": _server_type(body["server_type"]),
                "datacenter": _datacenter(location),
                "location": _location(location),
                "image": _image(body["image"]),
                "iso": None,
                "rescue_enabled": False,
                "locked": False,
                "backup_window": None,
                "outgoing_traffic": 0,
                "ingoing_traffic": 0,
                "included_traffic": 21990232555520,
                "protection": {"delete": False, "rebuild": False},
                "labels": dict(body.get("labels") or {}),
                "volumes": [],
                "load_balancers": [],
                "primary_disk_size": SERVER_TYPES[body["server_type"]][3],
                "placement_group": None,
            }
            self.servers[server_id] = server
            shown = dict(server)
            server["status"] = "running"  # later reads show it booted
            return JsonReply(
                201,
                {
                    "server": shown,
                    "action": self.action("create_server", server_id, "server"),
                    "next_actions": [self.action("start_server", server_id, "server")],
                    "root_password": None if body.get("ssh_keys") else secrets.token_urlsafe(12),
                },
            )

        @route("GET", "/servers/{server_id}")
        def get_server(_r: JsonRequest, server_id: str) -> JsonReply:
            server = self.servers.get(_int(server_id))
            return JsonReply(200, {"server": server}) if server else self.not_found()

        @route("DELETE", "/servers/{server_id}")
        def delete_server(_r: JsonRequest, server_id: str) -> JsonReply:
            if self.servers.pop(_int(server_id), None) is None:
                return self.not_found()
            return JsonReply(
                200, {"action": self.action("delete_server", _int(server_id), "server")}
            )

        for verb, status in (
            ("poweron", "running"),
            ("poweroff", "off"),
            ("reboot", "running"),
            ("shutdown", "off"),
        ):

            def power(
                _r: JsonRequest, server_id: str, verb: str = verb, status: str = status
            ) -> JsonReply:
                server = self.servers.get(_int(server_id))
                if server is None:
                    return self.not_found()
                server["status"] = status
                return JsonReply(201, {"action": self.action(verb, server["id"], "server")})

            route("POST", f"/servers/{{server_id}}/actions/{verb}")(power)

        # ------------------------------------------------- ssh keys, firewalls, networks

        @route("GET", "/ssh_keys")
        def list_keys(r: JsonRequest) -> JsonReply:
            return self.listing(r, "ssh_keys", list(self.keys.values()))

        @route("POST", "/ssh_keys")
        def create_key(r: JsonRequest) -> JsonReply:
            body = r.body or {}
            if any(k["name"] == body["name"] for k in self.keys.values()):
                return self.error(409, "uniqueness_error", "SSH key with the same name exists")
            key = {
                "id": self.ids.next(),
                "name": body["name"],
                "public_key": body["public_key"],
                "fingerprint": md5_fingerprint(body["public_key"]),
                "labels": body.get("labels", {}),
                "created": utc_now(),
            }
            self.keys[key["id"]] = key
            return JsonReply(201, {"ssh_key": key})

        @route("DELETE", "/ssh_keys/{key_id}")
        def delete_key(_r: JsonRequest, key_id: str) -> JsonReply:
            return JsonReply(204) if self.keys.pop(_int(key_id), None) else self.not_found()

        @route("GET", "/firewalls")
        def list_firewalls(r: JsonRequest) -> JsonReply:
            return self.listing(r, "firewalls", list(self.firewalls.values()))

        @route("POST", "/firewalls")
        def create_firewall(r: JsonRequest) -> JsonReply:
            body = r.body or {}
            rules = [
                {"destination_ips": [], "source_ips": [], **rule} for rule in body.get("rules", [])
            ]
            firewall = {
                "id": self.ids.next(),
                "name": body["name"],
                "labels": body.get("labels", {}),
                "rules": rules,
                "applied_to": body.get("apply_to", []),
                "created": utc_now(),
            }
            self.firewalls[firewall["id"]] = firewall
            actions = [
                self.action("apply_firewall", firewall["id"], "firewall", (server["id"], "server"))
                for server in self.servers.values()
                if _applies_to(firewall, server)
            ]
            return JsonReply(201, {"firewall": firewall, "actions": actions})

        @route("POST", "/firewalls/{firewall_id}/actions/set_rules")
        def set_firewall_rules(r: JsonRequest, firewall_id: str) -> JsonReply:
            # hcloud.json: replaces every rule; answers the actions applying them to servers.
            firewall = self.firewalls.get(_int(firewall_id))
            if firewall is None:
                return self.not_found()
            firewall["rules"] = [
                {"destination_ips": [], "source_ips": [], **rule}
                for rule in (r.body or {}).get("rules", [])
            ]
            actions = [self.action("set_firewall_rules", firewall["id"], "firewall")]
            for server in self.servers.values():
                if _applies_to(firewall, server):
                    actions.append(
                        self.action(
                            "apply_firewall", firewall["id"], "firewall", (server["id"], "server")
                        )
                    )
            return JsonReply(201, {"actions": actions})

        @route("GET", "/actions/{action_id}")
        def get_action(_r: JsonRequest, action_id: str) -> JsonReply:
            action = self.action_now(_int(action_id))
            return JsonReply(200, {"action": action}) if action else self.not_found()

        @route("GET", "/firewalls/actions/{action_id}")
        def get_firewall_action(_r: JsonRequest, action_id: str) -> JsonReply:
            action = self.action_now(_int(action_id))
            if action is None or not any(r["type"] == "firewall" for r in action["resources"]):
                return self.not_found()
            return JsonReply(200, {"action": action})

        @route("DELETE", "/firewalls/{firewall_id}")
        def delete_firewall(_r: JsonRequest, firewall_id: str) -> JsonReply:
            return (
                JsonReply(204) if self.firewalls.pop(_int(firewall_id), None) else self.not_found()
            )

        @route("GET", "/networks")
        def list_networks(r: JsonRequest) -> JsonReply:
            return self.listing(r, "networks", [_public(n) for n in self.networks.values()])

        @route("POST", "/networks")
        def create_network(r: JsonRequest) -> JsonReply:
            body = r.body or {}
            subnets = [
                {"gateway": AddressPool(sub["ip_range"]).gateway, "vswitch_id": None, **sub}
                for sub in body.get("subnets", [])
            ]
            network = {
                "id": self.ids.next(),
                "name": body["name"],
                "ip_range": body["ip_range"],
                "subnets": subnets,
                "routes": body.get("routes", []),
                "servers": [],
                "load_balancers": [],
                "labels": body.get("labels", {}),
                "protection": {"delete": False},
                "expose_routes_to_vswitch": False,
                "created": utc_now(),
                "_pool": AddressPool(body["ip_range"]),
            }
            self.networks[network["id"]] = network
            return JsonReply(201, {"network": _public(network)})

        @route("DELETE", "/networks/{network_id}")
        def delete_network(_r: JsonRequest, network_id: str) -> JsonReply:
            return JsonReply(204) if self.networks.pop(_int(network_id), None) else self.not_found()


def _applies_to(firewall: dict[str, Any], server: dict[str, Any]) -> bool:
    """Whether the firewall's ``applied_to`` (the request's ``apply_to``) covers the server."""
    for target in firewall.get("applied_to") or []:
        if (
            target.get("type") == "server"
            and (target.get("server") or {}).get("id") == server["id"]
        ):
            return True
        selector = (target.get("label_selector") or {}).get("selector")
        if (
            target.get("type") == "label_selector"
            and selector
            and _selected(server.get("labels", {}), selector)
        ):
            return True
    return False


def _selected(labels: dict[str, str], selector: str) -> bool:
    """Whether ``labels`` satisfy a Hetzner label selector (all comma-joined terms must hold)."""
    for term in re.split(r",(?![^()]*\))", selector):
        match = _SELECTOR.match(term)
        if not match:
            raise ValueError(f"invalid label_selector term {term!r}")
        negated, key, operator, value, set_operator, members = match.groups()
        if set_operator:
            wanted = {m.strip() for m in members.split(",")}
            ok = (labels.get(key) in wanted) == (set_operator == "in")
        elif operator in ("=", "=="):
            ok = labels.get(key) == value
        elif operator == "!=":
            ok = labels.get(key) != value
        else:
            ok = (key in labels) != bool(negated)
        if not ok:
            return False
    return True


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if not k.startswith("_")}


def _location(name: str) -> dict[str, Any]:
    location_id, city, country, latitude, longitude, zone, _dc, _dc_id = LOCATIONS[name]
    return {
        "id": location_id,
        "name": name,
        "description": f"{city} DC Park",
        "city": city,
        "country": country,
        "latitude": latitude,
        "longitude": longitude,
        "network_zone": zone,
    }


def _datacenter(name: str) -> dict[str, Any]:
    dc_name, dc_id = LOCATIONS[name][6], LOCATIONS[name][7]
    type_ids = [spec[0] for spec in SERVER_TYPES.values()]
    return {
        "id": dc_id,
        "name": dc_name,
        "description": f"{name} datacenter",
        "location": _location(name),
        "server_types": {
            "supported": type_ids,
            "available": type_ids,
            "available_for_migration": type_ids,
        },
    }


def _server_type(name: str) -> dict[str, Any]:
    type_id, cores, memory, disk = SERVER_TYPES[name]
    price = {"net": "0.0060000000", "gross": "0.0071400000000000"}
    return {
        "id": type_id,
        "name": name,
        "description": name.upper(),
        "cores": cores,
        "memory": memory,
        "disk": disk,
        "deprecated": False,
        "storage_type": "local",
        "cpu_type": "shared",
        "architecture": "x86",
        "category": "cost_optimized",
        "prices": [
            {
                "location": loc,
                "price_hourly": price,
                "price_monthly": price,
                "included_traffic": 21990232555520,
                "price_per_tb_traffic": price,
            }
            for loc in LOCATIONS
        ],
        "locations": [
            {"id": LOCATIONS[loc][0], "name": loc, "deprecation": None} for loc in LOCATIONS
        ],
    }


def _image(name: str) -> dict[str, Any]:
    image_id, flavor, version = IMAGES[name]
    return {
        "id": image_id,
        "type": "system",
        "status": "available",
        "name": name,
        "description": f"{flavor.title()} {version}",
        "image_size": None,
        "disk_size": 5,
        "created": "2024-06-01T00:00:00Z",
        "created_from": None,
        "bound_to": None,
        "os_flavor": flavor,
        "os_version": version,
        "rapid_deploy": True,
        "protection": {"delete": False},
        "deprecated": None,
        "deleted": None,
        "labels": {},
        "architecture": "x86",
    }


def _int(text: str) -> int:
    return int(text) if text.isdigit() else -1
