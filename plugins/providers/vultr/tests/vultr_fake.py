"""A stateful fake of the Vultr API v2, checked against Vultr's OpenAPI document.

Every request and reply is validated (:class:`~sloth_kubernetes.testing.emulators.described.
DescribedApp`) against ``vultr-api-v2.json``, our derived subset of Vultr's OpenAPI 3.0 document
(``vultr/vultr-python-client``, ``openapi-client/swagger.json``, Apache-2.0; see
``described/SOURCES.md``).

What it does on its own, as the document describes the real API:

* ``Authorization: Bearer <key>`` on every call, else ``401 {"error": "Invalid API token."}``;
* more than 30 requests in one second answer ``429`` with ``Retry-After`` (introduction, "Rate
  Limit");
* cursor pagination: ``per_page`` (default 100, max 500), ``cursor``, ``meta.total`` and
  ``meta.links.next``/``prev`` as opaque strings (introduction, "Meta and Pagination");
* instances are created ``pending`` with ``main_ip`` ``0.0.0.0`` and the generated
  ``default_password`` in the create reply only; they become ``active``/``running``/``ok`` with
  an address (and ``internal_ip`` on an attached VPC) after ``boot_reads`` later reads;
* creates are checked against the catalogue and existing resources (unknown region, plan not
  sold in the region, unknown ``os_id``, SSH key, firewall group or VPC: ``400``); deleting what
  does not exist is ``404``; a firewall group takes at most ``max_rule_count`` rules (the
  document's ``max_rule_count`` field; 50 is what the API reports) and refuses more with ``400``;
  a VPC with instances attached cannot be deleted (``400``);
* ``GET /v2/instances`` filters by ``tag``, ``label``, ``main_ip`` and ``region``.

Test knobs (all reset by :meth:`VultrFake.reset`): ``page_limit`` (the largest page the server
gives, 500 as documented; libcloud always asks for 500, so tests lower it to see the cursor),
``boot_reads``, ``never_boot`` (labels that stay ``pending``), ``api_keys``, ``max_rule_count``,
and ``fail_next`` (from the core's ``DescribedApp``) to script one transient failure.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import secrets
import threading
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any

from sloth_kubernetes.testing.emulators._http import JsonReply, JsonRequest
from sloth_kubernetes.testing.emulators.described import ApiDescription, DescribedApp
from sloth_kubernetes.testing.emulators.state import AddressPool, utc_now

HERE = Path(__file__).parent / "described"
DESCRIPTION = HERE / "vultr-api-v2.json"
CATALOG = HERE / "catalog.json"
#: documented in the introduction: "more than 30 requests per second ... may return 429"
REQUESTS_PER_SECOND = 30
DEFAULT_PER_PAGE, MAX_PER_PAGE = 100, 500  # list parameters: "Default is 100 and Max is 500"
MAX_RULE_COUNT = 50
_PUBLIC_KEY = re.compile(r"^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+")


class VultrFake(DescribedApp):
    """The fake's state lives on this object; :meth:`reset` empties it."""

    def __init__(self) -> None:
        super().__init__("vultr")
        self.describe(ApiDescription.load(DESCRIPTION))
        import json

        self.catalog: dict[str, Any] = json.loads(CATALOG.read_text(encoding="utf-8"))
        self.instances: dict[str, dict[str, Any]] = {}
        self.user_data: dict[str, str] = {}  # instance id -> decoded user data
        self.passwords: list[str] = []  # every generated root password handed out
        self.keys: dict[str, dict[str, Any]] = {}
        self.firewalls: dict[str, dict[str, Any]] = {}
        self.rules: dict[str, list[dict[str, Any]]] = {}
        self.vpcs: dict[str, dict[str, Any]] = {}
        self.public_ips = AddressPool("203.0.113.0/24")
        self._reads: dict[str, int] = {}
        self._vpc_pools: dict[str, AddressPool] = {}
        self._window: deque[float] = deque()
        self._window_lock = threading.Lock()
        self._defaults()
        self._routes_()

    def _defaults(self) -> None:
        self.page_limit = MAX_PER_PAGE
        self.boot_reads = 1
        self.never_boot: set[str] = set()
        self.api_keys: set[str] = {"V" * 36}
        self.max_rule_count = MAX_RULE_COUNT

    def reset(self) -> None:
        with self.lock:
            for store in (self.instances, self.user_data, self.keys, self.firewalls, self.rules):
                store.clear()
            self.passwords.clear()
            self.vpcs.clear()
            self._reads.clear()
            self._vpc_pools.clear()
            self.clear_failures()
            with self._window_lock:
                self._window.clear()
            self.public_ips.reset()
            self._defaults()
            self.requests.clear()

    # -------------------------------------------------------------------- plumbing

    def error(self, status: int, code: str, message: str) -> JsonReply:
        del code  # Vultr's errors carry a message and the status only
        return JsonReply(status, {"error": message, "status": status})

    def gate(self, request: JsonRequest) -> JsonReply | None:
        token = request.headers.get("authorization", "")
        if not token.startswith("Bearer ") or token[7:] not in self.api_keys:
            return self.error(401, "unauthorized", "Invalid API token.")
        if self._over_rate_limit():
            return self.failure_reply(429)
        return None

    def _over_rate_limit(self) -> bool:
        now = time.monotonic()
        with self._window_lock:
            while self._window and now - self._window[0] >= 1.0:
                self._window.popleft()
            if len(self._window) >= REQUESTS_PER_SECOND:
                return True
            self._window.append(now)
            return False

    def listing(self, request: JsonRequest, key: str, items: list[dict[str, Any]]) -> JsonReply:
        try:
            per_page = int(request.params.get("per_page") or DEFAULT_PER_PAGE)
            start = int(_decode_cursor(request.params.get("cursor") or "") or 0)
        except ValueError:
            return self.error(400, "bad_request", "Invalid cursor or per_page.")
        per_page = max(1, min(per_page, self.page_limit))
        page = items[start : start + per_page]
        following = start + per_page
        links = {
            "next": _encode_cursor(following) if following < len(items) else "",
            "prev": _encode_cursor(max(0, start - per_page)) if start > 0 else "",
        }
        return JsonReply(200, {key: page, "meta": {"total": len(items), "links": links}})

    def not_found(self, what: str) -> JsonReply:
        return self.error(404, "not_found", f"{what} not found.")

    # -------------------------------------------------------------------- instances

    def _shown(self, instance: dict[str, Any]) -> dict[str, Any]:
        """An instance as a read shows it, moving it on one read towards running."""
        reads = self._reads[instance["id"]] = self._reads.get(instance["id"], 0) + 1
        if (
            instance["status"] == "pending"
            and reads > self.boot_reads
            and instance["label"] not in self.never_boot
        ):
            instance.update(
                status="active",
                server_status="ok",
                main_ip=self.public_ips.take(),
                netmask_v4="255.255.255.0",
                gateway_v4="203.0.113.1",
            )
        return dict(instance)

    def _create_instance(self, request: JsonRequest) -> JsonReply:
        body = request.body
        catalog = self.catalog
        plans = {p["id"]: p for p in catalog["plans"]}
        systems = {s["id"]: s for s in catalog["os"]}
        if body["region"] not in {r["id"] for r in catalog["regions"]}:
            return self.error(400, "bad_request", "Invalid region.")
        plan = plans.get(body["plan"])
        if plan is None or body["region"] not in plan["locations"]:
            return self.error(400, "bad_request", "Plan is not available in the selected region.")
        if body.get("os_id") not in systems:
            return self.error(400, "bad_request", "Invalid operating system.")
        if any(k not in self.keys for k in body.get("sshkey_id") or []):
            return self.error(400, "bad_request", "Invalid SSH key.")
        group = body.get("firewall_group_id")
        if group and group not in self.firewalls:
            return self.error(400, "bad_request", "Invalid firewall group.")
        vpcs = body.get("attach_vpc") or []
        for vpc_id in vpcs:
            vpc = self.vpcs.get(vpc_id)
            if vpc is None or vpc["region"] != body["region"]:
                return self.error(400, "bad_request", "Invalid VPC for the selected region.")
        instance_id = str(uuid.uuid4())
        instance = {
            "id": instance_id,
            "os": systems[body["os_id"]]["name"],
            "ram": plan["ram"],
            "disk": plan["disk"],
            "main_ip": "0.0.0.0",
            "vcpu_count": plan["vcpu_count"],
            "region": body["region"],
            "date_created": utc_now().replace("Z", "+00:00"),
            "status": "pending",
            "power_status": "running",
            "server_status": "none",
            "allowed_bandwidth": plan["bandwidth"],
            "netmask_v4": "",
            "gateway_v4": "0.0.0.0",
            "v6_networks": [],
            "hostname": body.get("hostname") or f"vultr-guest-{instance_id[:8]}",
            "label": body.get("label", ""),
            "tag": "",
            "internal_ip": self._vpc_pools[vpcs[0]].take() if vpcs else "",
            "kvm": "",
            "os_id": body["os_id"],
            "app_id": 0,
            "image_id": "",
            "firewall_group_id": group or "",
            "features": [],
            "plan": body["plan"],
            "tags": list(body.get("tags") or []),
        }
        self.instances[instance_id] = instance
        if body.get("user_data"):
            self.user_data[instance_id] = base64.b64decode(body["user_data"]).decode()
        if group:
            self.firewalls[group]["instance_count"] += 1
        password = secrets.token_urlsafe(12)
        self.passwords.append(password)
        return JsonReply(202, {"instance": {**instance, "default_password": password}})

    def _routes_(self) -> None:
        route = self.route

        @route("GET", "/v2/account")
        def account(_r: JsonRequest) -> JsonReply:
            return JsonReply(
                200,
                {
                    "account": {
                        "name": "Fake Account",
                        "email": "owner@example.com",
                        "acls": ["manage_users", "subscriptions", "firewall"],
                        "balance": 0,
                        "pending_charges": 0,
                        "last_payment_date": "2026-01-01T00:00:00+00:00",
                        "last_payment_amount": 0,
                    }
                },
            )

        @route("GET", "/v2/instances")
        def list_instances(r: JsonRequest) -> JsonReply:
            found = list(self.instances.values())
            for name in ("label", "main_ip", "region"):
                if r.params.get(name):
                    found = [i for i in found if i[name] == r.params[name]]
            if r.params.get("tag"):
                found = [i for i in found if r.params["tag"] in i["tags"]]
            return self.listing(r, "instances", [self._shown(i) for i in found])

        @route("POST", "/v2/instances")
        def create_instance(r: JsonRequest) -> JsonReply:
            return self._create_instance(r)

        @route("DELETE", "/v2/instances/{instance_id}")
        def delete_instance(_r: JsonRequest, instance_id: str) -> JsonReply:
            instance = self.instances.pop(instance_id, None)
            if instance is None:
                return self.not_found("Instance")
            if instance["firewall_group_id"] in self.firewalls:
                self.firewalls[instance["firewall_group_id"]]["instance_count"] -= 1
            return JsonReply(204)

        # ---------------------------------------------------------------- SSH keys

        @route("GET", "/v2/ssh-keys")
        def list_keys(r: JsonRequest) -> JsonReply:
            return self.listing(r, "ssh_keys", list(self.keys.values()))

        @route("POST", "/v2/ssh-keys")
        def create_key(r: JsonRequest) -> JsonReply:
            public_key = str(r.body["ssh_key"]).strip()
            if not re.match(
                r"^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+", public_key
            ):
                return self.error(400, "bad_request", "Invalid SSH key.")
            key = {
                "id": str(uuid.uuid4()),
                "date_created": utc_now().replace("Z", "+00:00"),
                "name": r.body["name"],
                "ssh_key": public_key,
            }
            self.keys[key["id"]] = key
            return JsonReply(201, {"ssh_key": key})

        @route("DELETE", "/v2/ssh-keys/{key_id}")
        def delete_key(_r: JsonRequest, key_id: str) -> JsonReply:
            return JsonReply(204) if self.keys.pop(key_id, None) else self.not_found("SSH key")

        # ---------------------------------------------------------------- firewall groups

        @route("GET", "/v2/firewalls")
        def list_firewalls(r: JsonRequest) -> JsonReply:
            return self.listing(r, "firewall_groups", [dict(g) for g in self.firewalls.values()])

        @route("POST", "/v2/firewalls")
        def create_firewall(r: JsonRequest) -> JsonReply:
            now = utc_now().replace("Z", "+00:00")
            group = {
                "id": secrets.token_hex(4),
                "description": (r.body or {}).get("description", ""),
                "date_created": now,
                "date_modified": now,
                "instance_count": 0,
                "rule_count": 0,
                "max_rule_count": self.max_rule_count,
            }
            self.firewalls[group["id"]] = group
            self.rules[group["id"]] = []
            return JsonReply(201, {"firewall_group": group})

        @route("DELETE", "/v2/firewalls/{group_id}")
        def delete_firewall(_r: JsonRequest, group_id: str) -> JsonReply:
            if self.firewalls.pop(group_id, None) is None:
                return self.not_found("Firewall group")
            self.rules.pop(group_id, None)
            return JsonReply(204)

        @route("GET", "/v2/firewalls/{group_id}/rules")
        def list_rules(r: JsonRequest, group_id: str) -> JsonReply:
            if group_id not in self.firewalls:
                return self.not_found("Firewall group")
            return self.listing(r, "firewall_rules", list(self.rules[group_id]))

        @route("POST", "/v2/firewalls/{group_id}/rules")
        def create_rule(r: JsonRequest, group_id: str) -> JsonReply:
            group = self.firewalls.get(group_id)
            if group is None:
                return self.not_found("Firewall group")
            if group["rule_count"] >= group["max_rule_count"]:
                return self.error(
                    400, "bad_request", "Unable to add rule: maximum rule count reached"
                )
            body = r.body
            try:
                network = ipaddress.ip_network(f"{body['subnet']}/{body['subnet_size']}")
            except ValueError:
                return self.error(400, "bad_request", "Invalid subnet.")
            if f"v{network.version}" != body["ip_type"]:
                return self.error(400, "bad_request", "Subnet does not match ip_type.")
            protocol = str(body["protocol"]).lower()
            if protocol in ("tcp", "udp") and not re.fullmatch(r"\d+(:\d+)?", body.get("port", "")):
                return self.error(400, "bad_request", "A TCP or UDP rule needs a port.")
            rule = {
                # ids are never reused within a group, also after a rule was deleted
                "id": max((r["id"] for r in self.rules[group_id]), default=0) + 1,
                "type": body["ip_type"],
                "ip_type": body["ip_type"],
                "action": "accept",
                "protocol": protocol,
                "port": body.get("port", "") if protocol in ("tcp", "udp") else "",
                "subnet": body["subnet"],
                "subnet_size": body["subnet_size"],
                "source": body.get("source", ""),
                "notes": body.get("notes", ""),
            }
            self.rules[group_id].append(rule)
            group["rule_count"] += 1
            return JsonReply(201, {"firewall_rule": rule})

        @route("DELETE", "/v2/firewalls/{group_id}/rules/{rule_id}")
        def delete_rule(_r: JsonRequest, group_id: str, rule_id: str) -> JsonReply:
            group = self.firewalls.get(group_id)
            if group is None:
                return self.not_found("Firewall group")
            kept = [r for r in self.rules[group_id] if str(r["id"]) != rule_id]
            if len(kept) == len(self.rules[group_id]):
                return self.not_found("Firewall rule")
            self.rules[group_id] = kept
            group["rule_count"] -= 1
            return JsonReply(204)

        # ---------------------------------------------------------------- VPCs

        @route("GET", "/v2/vpcs")
        def list_vpcs(r: JsonRequest) -> JsonReply:
            return self.listing(r, "vpcs", list(self.vpcs.values()))

        @route("POST", "/v2/vpcs")
        def create_vpc(r: JsonRequest) -> JsonReply:
            body = r.body
            if body["region"] not in {g["id"] for g in self.catalog["regions"]}:
                return self.error(400, "bad_request", "Invalid region.")
            try:
                network = ipaddress.IPv4Network(
                    f"{body.get('v4_subnet', '10.1.96.0')}/{body.get('v4_subnet_mask', 20)}"
                )
            except ValueError:
                return self.error(400, "bad_request", "Invalid v4_subnet or v4_subnet_mask.")
            vpc = {
                "id": str(uuid.uuid4()),
                "region": body["region"],
                "date_created": utc_now().replace("Z", "+00:00"),
                "description": body.get("description", ""),
                "v4_subnet": str(network.network_address),
                "v4_subnet_mask": network.prefixlen,
            }
            self.vpcs[vpc["id"]] = vpc
            self._vpc_pools[vpc["id"]] = AddressPool(str(network))
            return JsonReply(201, {"vpc": vpc})

        @route("DELETE", "/v2/vpcs/{vpc_id}")
        def delete_vpc(_r: JsonRequest, vpc_id: str) -> JsonReply:
            vpc = self.vpcs.get(vpc_id)
            if vpc is None:
                return self.not_found("VPC")
            network = ipaddress.IPv4Network(f"{vpc['v4_subnet']}/{vpc['v4_subnet_mask']}")
            if any(
                i["internal_ip"] and ipaddress.ip_address(i["internal_ip"]) in network
                for i in self.instances.values()
                if i["region"] == vpc["region"]
            ):
                return self.error(400, "bad_request", "Unable to delete VPC: instances attached.")
            del self.vpcs[vpc_id]
            return JsonReply(204)

        # ---------------------------------------------------------------- catalogue

        @route("GET", "/v2/plans")
        def plans(r: JsonRequest) -> JsonReply:
            found = self.catalog["plans"]
            if r.params.get("type"):
                found = [p for p in found if p["type"] == r.params["type"]]
            return self.listing(r, "plans", found)

        @route("GET", "/v2/os")
        def systems(r: JsonRequest) -> JsonReply:
            return self.listing(r, "os", self.catalog["os"])

        @route("GET", "/v2/regions")
        def regions(r: JsonRequest) -> JsonReply:
            return self.listing(r, "regions", self.catalog["regions"])


def _encode_cursor(offset: int) -> str:
    """Cursors are opaque to clients; Vultr's are base64 text (``bmV4dF9f...`` = ``next__``)."""
    return base64.b64encode(f"next__{offset}".encode()).decode()


def _decode_cursor(cursor: str) -> str:
    if not cursor:
        return ""
    text = base64.b64decode(cursor.encode(), validate=True).decode()
    if not text.startswith("next__"):
        raise ValueError(cursor)
    return text.removeprefix("next__")


__all__ = ["DESCRIPTION", "VultrFake"]
