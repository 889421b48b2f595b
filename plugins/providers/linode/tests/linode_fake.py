"""A stateful fake of the Linode v4 API, small but spec-valid (Prism checks every reply).

Covers instances (create, list with ``X-Filter`` and ``page``/``page_size``, get, delete, boot,
reboot, shutdown), SSH keys, firewalls (with device attachment), VPCs (with subnets), tags, and a
read-only catalogue of regions, types and images.

``X-Filter`` support is the subset providers use: ``{"field": value}`` equality (``tags``
matches when the value is one of the instance's tags) and ``{"+and": [...]}`` / ``{"+or": [...]}``.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from sloth_kubernetes.testing.emulators._http import JsonApp, JsonReply, JsonRequest
from sloth_kubernetes.testing.emulators.prism import PrismSpec, walk
from sloth_kubernetes.testing.emulators.state import (
    AddressPool,
    IdCounter,
    paginate,
    utc_now,
)

REGIONS = {"us-east": "US", "eu-central": "DE"}
TYPES: dict[str, dict[str, Any]] = {
    "g6-nanode-1": {
        "label": "Nanode 1GB",
        "class": "nanode",
        "memory": 1024,
        "vcpus": 1,
        "disk": 25600,
        "monthly": 5.0,
    },
    "g6-standard-2": {
        "label": "Linode 4GB",
        "class": "standard",
        "memory": 4096,
        "vcpus": 2,
        "disk": 81920,
        "monthly": 24.0,
    },
}
IMAGES = {"linode/debian12": "Debian 12", "linode/ubuntu24.04": "Ubuntu 24.04 LTS"}

_TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"


def _patch_spec(spec: dict[str, Any]) -> None:
    """Three places where Linode's published spec contradicts its API (and its own examples):

    * timestamps: the API answers ``2018-01-01T00:01:01`` (no zone; libcloud parses exactly that)
      but the spec says ``format: date-time``, which demands a zone; relaxed to a pattern;
    * ``X-Filter``: a header carrying JSON is given an object schema, so Prism refuses every
      filtered list (it validates the header *string*); declared a string;
    * ``allOf`` members (and the properties declared beside them) with ``additionalProperties:
      false`` refuse the properties the other parts add: creating a firewall with ``devices`` or
      ``inbound_policy`` — both documented — is refused. The flag is dropped there, where it
      cannot be right.
    """
    for node in list(walk(spec)):
        if node.get("format") == "date-time" and node.get("type") == "string":
            del node["format"]
            node.setdefault("pattern", _TIMESTAMP_PATTERN)
        if node.get("in") == "header" and node.get("name") == "X-Filter" and "schema" in node:
            node["x-sloth-original-schema"] = node["schema"]
            node["schema"] = {"type": "string"}
        if node.get("allOf"):
            # the members and the properties declared beside them describe one object
            for inner in walk([node["allOf"], node.get("properties")]):
                if inner.get("additionalProperties") is False:
                    del inner["additionalProperties"]


#: Linode's OpenAPI spec (github.com/linode/linode-api-docs at 40e7c7d22441, API 4.189.0) under
#: the api-specs folder (docs/testing-clouds.md), corrected by :func:`_patch_spec` in a cached
#: copy (documented in docs/testing-clouds.md).
SPEC = PrismSpec("linode/openapi.yaml", patch=_patch_spec, patch_version="2")


class LinodeFake(JsonApp):
    """The fake's state lives on this object; :meth:`reset` empties it."""

    def __init__(self) -> None:
        super().__init__("linode")
        self.ids = IdCounter()
        self.public_ips = AddressPool("198.51.100.0/24")
        self.private_ips = AddressPool("192.168.128.0/17")
        self.instances: dict[int, dict[str, Any]] = {}
        self.keys: dict[int, dict[str, Any]] = {}
        self.firewalls: dict[int, dict[str, Any]] = {}
        self.vpcs: dict[int, dict[str, Any]] = {}
        self.tags: set[str] = set()
        self._routes_()

    def reset(self) -> None:
        with self.lock:
            for resettable in (self.ids, self.public_ips, self.private_ips):
                resettable.reset()
            for store in (self.instances, self.keys, self.firewalls, self.vpcs):
                store.clear()
            self.tags.clear()
            self.requests.clear()

    def error(self, status: int, code: str, message: str) -> JsonReply:
        return JsonReply(status, {"errors": [{"reason": message}]})

    def listing(self, request: JsonRequest, items: list[dict[str, Any]]) -> JsonReply:
        raw_filter = request.headers.get("x-filter")
        if raw_filter:
            try:
                condition = json.loads(raw_filter)
            except ValueError:
                return self.error(400, "bad_filter", "X-Filter is not valid JSON")
            items = [item for item in items if _matches(item, condition)]
        page = paginate(items, request.params, default_per_page=100, per_page_key="page_size")
        body = {
            "data": page.items,
            "page": page.page,
            "pages": page.last_page,
            "results": page.total,
        }
        return JsonReply(200, body)

    def _subnet(self, subnet_id: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        for vpc in self.vpcs.values():
            for subnet in vpc["subnets"]:
                if subnet["id"] == subnet_id:
                    return vpc, subnet
        return None

    def not_found(self) -> JsonReply:
        return self.error(404, "not_found", "Not found")

    def _routes_(self) -> None:
        route = self.route

        @route("GET", "/v4/regions")
        def regions(r: JsonRequest) -> JsonReply:
            return self.listing(r, [_region(slug) for slug in REGIONS])

        @route("GET", "/v4/linode/types")
        def types(r: JsonRequest) -> JsonReply:
            return self.listing(r, [_type(slug) for slug in TYPES])

        @route("GET", "/v4/images")
        def images(r: JsonRequest) -> JsonReply:
            return self.listing(r, [_image(slug) for slug in IMAGES])

        @route("GET", "/v4/images/{vendor}/{name}")
        def image(_r: JsonRequest, vendor: str, name: str) -> JsonReply:
            slug = f"{vendor}/{name}"
            return JsonReply(200, _image(slug)) if slug in IMAGES else self.not_found()

        # -------------------------------------------------------------- instances

        @route("GET", "/v4/linode/instances")
        def list_instances(r: JsonRequest) -> JsonReply:
            return self.listing(r, list(self.instances.values()))

        @route("POST", "/v4/linode/instances")
        def create_instance(r: JsonRequest) -> JsonReply:
            body = r.body or {}
            if body.get("region") not in REGIONS:
                return JsonReply(
                    400, {"errors": [{"reason": "region is not valid", "field": "region"}]}
                )
            if body.get("type") not in TYPES:
                return JsonReply(
                    400, {"errors": [{"reason": "type is not valid", "field": "type"}]}
                )
            if body.get("image") is not None and body["image"] not in IMAGES:
                return JsonReply(
                    400, {"errors": [{"reason": "image is not valid", "field": "image"}]}
                )
            firewall = body.get("firewall_id")
            if firewall is not None and firewall not in self.firewalls:
                return JsonReply(
                    400, {"errors": [{"reason": "Firewall not found", "field": "firewall_id"}]}
                )
            interfaces = body.get("interfaces") or []
            vpc_subnets = [i.get("subnet_id") for i in interfaces if i.get("purpose") == "vpc"]
            if len(vpc_subnets) > 1 or any(self._subnet(s) is None for s in vpc_subnets):
                return JsonReply(
                    400, {"errors": [{"reason": "subnet_id is not valid", "field": "interfaces"}]}
                )
            if vpc_subnets and body.get("private_ip"):
                # The real API refuses a legacy private IPv4 next to a VPC interface.
                return JsonReply(
                    400,
                    {"errors": [{"reason": "private IP not allowed with a VPC interface"}]},
                )
            instance_id = self.ids.next()
            spec = TYPES[body["type"]]
            ipv4 = [self.public_ips.take()]
            if body.get("private_ip"):
                ipv4.append(self.private_ips.take())
            if firewall is not None:
                self.firewalls[firewall]["_devices"].add(instance_id)
            for subnet_id in vpc_subnets:
                _, subnet = self._subnet(subnet_id)  # type: ignore[misc]
                taken = set(subnet["_addresses"].values())
                hosts = ipaddress.ip_network(subnet["ipv4"]).hosts()
                next(hosts)  # .1 is the subnet's gateway
                address = next(str(h) for h in hosts if str(h) not in taken)
                subnet["_addresses"][instance_id] = address
                subnet["linodes"].append({"id": instance_id, "interfaces": []})
            tags = list(body.get("tags") or [])
            self.tags.update(tags)
            now = utc_now(zulu=False)
            instance = {
                "id": instance_id,
                "label": body.get("label") or f"linode{instance_id}",
                "group": "",
                "status": "provisioning",
                "created": now,
                "updated": now,
                "type": body["type"],
                "ipv4": ipv4,
                "ipv6": f"2600:3c00::f03c:{instance_id % 65536:x}:1/128",
                "image": body.get("image"),
                "region": body["region"],
                "specs": {
                    "disk": spec["disk"],
                    "memory": spec["memory"],
                    "vcpus": spec["vcpus"],
                    "gpus": 0,
                    "transfer": 1000,
                },
                "alerts": {
                    "cpu": 180,
                    "network_in": 10,
                    "network_out": 10,
                    "transfer_quota": 80,
                    "io": 10000,
                },
                "backups": {
                    "enabled": bool(body.get("backups_enabled")),
                    "available": False,
                    # the API sends last_successful: null, the spec forbids null:
                    # leave it out (it is optional)
                    "schedule": {"day": None, "window": None},
                },
                "hypervisor": "kvm",
                "watchdog_enabled": True,
                "tags": tags,
                "has_user_data": bool((body.get("metadata") or {}).get("user_data")),
            }
            self.instances[instance_id] = instance
            shown = dict(instance)
            instance["status"] = "running"  # later reads show it booted
            return JsonReply(200, shown)

        @route("GET", "/v4/linode/instances/{linode_id}")
        def get_instance(_r: JsonRequest, linode_id: str) -> JsonReply:
            instance = self.instances.get(_int(linode_id))
            return JsonReply(200, instance) if instance else self.not_found()

        @route("DELETE", "/v4/linode/instances/{linode_id}")
        def delete_instance(_r: JsonRequest, linode_id: str) -> JsonReply:
            if self.instances.pop(_int(linode_id), None) is None:
                return self.not_found()
            for firewall in self.firewalls.values():
                firewall["_devices"].discard(_int(linode_id))
            for vpc in self.vpcs.values():
                for subnet in vpc["subnets"]:
                    subnet["_addresses"].pop(_int(linode_id), None)
                    subnet["linodes"] = [x for x in subnet["linodes"] if x["id"] != _int(linode_id)]
            return JsonReply(200, {})

        for verb, status in (("boot", "running"), ("reboot", "running"), ("shutdown", "offline")):

            def power(_r: JsonRequest, linode_id: str, status: str = status) -> JsonReply:
                instance = self.instances.get(_int(linode_id))
                if instance is None:
                    return self.not_found()
                instance["status"] = status
                return JsonReply(200, {})

            route("POST", f"/v4/linode/instances/{{linode_id}}/{verb}")(power)

        # -------------------------------------------------------------- ssh keys

        @route("GET", "/v4/profile/sshkeys")
        def list_keys(r: JsonRequest) -> JsonReply:
            return self.listing(r, list(self.keys.values()))

        @route("POST", "/v4/profile/sshkeys")
        def create_key(r: JsonRequest) -> JsonReply:
            body = r.body or {}
            key = {
                "id": self.ids.next(),
                "label": body.get("label", ""),
                "ssh_key": body["ssh_key"],
                "created": utc_now(zulu=False),
            }
            self.keys[key["id"]] = key
            return JsonReply(200, key)

        @route("GET", "/v4/profile/sshkeys/{key_id}")
        def get_key(_r: JsonRequest, key_id: str) -> JsonReply:
            key = self.keys.get(_int(key_id))
            return JsonReply(200, key) if key else self.not_found()

        @route("DELETE", "/v4/profile/sshkeys/{key_id}")
        def delete_key(_r: JsonRequest, key_id: str) -> JsonReply:
            return JsonReply(200, {}) if self.keys.pop(_int(key_id), None) else self.not_found()

        # -------------------------------------------------------------- firewalls, VPCs, tags

        @route("GET", "/v4/networking/firewalls")
        def list_firewalls(r: JsonRequest) -> JsonReply:
            return self.listing(r, [_public(f) for f in self.firewalls.values()])

        @route("POST", "/v4/networking/firewalls")
        def create_firewall(r: JsonRequest) -> JsonReply:
            body = r.body or {}
            now = utc_now(zulu=False)
            firewall = {
                "id": self.ids.next(),
                "label": body["label"],
                "created": now,
                "updated": now,
                "status": "enabled",
                "rules": body["rules"],
                "tags": body.get("tags") or [],
                "_devices": set((body.get("devices") or {}).get("linodes") or []),
            }
            self.firewalls[firewall["id"]] = firewall
            return JsonReply(200, _public(firewall))

        @route("GET", "/v4/networking/firewalls/{firewall_id}")
        def get_firewall(_r: JsonRequest, firewall_id: str) -> JsonReply:
            firewall = self.firewalls.get(_int(firewall_id))
            return JsonReply(200, _public(firewall)) if firewall else self.not_found()

        @route("PUT", "/v4/networking/firewalls/{firewall_id}/rules")
        def replace_firewall_rules(r: JsonRequest, firewall_id: str) -> JsonReply:
            # openapi.yaml, update-firewall-rules: replaces the rule sets, answers them.
            firewall = self.firewalls.get(_int(firewall_id))
            if firewall is None:
                return self.not_found()
            firewall["rules"] = {**firewall["rules"], **(r.body or {})}
            firewall["updated"] = utc_now(zulu=False)
            return JsonReply(200, firewall["rules"])

        @route("DELETE", "/v4/networking/firewalls/{firewall_id}")
        def delete_firewall(_r: JsonRequest, firewall_id: str) -> JsonReply:
            return (
                JsonReply(200, {})
                if self.firewalls.pop(_int(firewall_id), None)
                else (self.not_found())
            )

        @route("POST", "/v4/networking/firewalls/{firewall_id}/devices")
        def attach_device(r: JsonRequest, firewall_id: str) -> JsonReply:
            firewall = self.firewalls.get(_int(firewall_id))
            body = r.body or {}
            if firewall is None or body.get("type") != "linode":
                return self.not_found()
            if body.get("id") not in self.instances:
                return self.not_found()
            firewall["_devices"].add(body["id"])
            now = utc_now(zulu=False)
            instance = self.instances[body["id"]]
            device = {
                "id": self.ids.next(),
                "created": now,
                "updated": now,
                "entity": {
                    "id": instance["id"],
                    "label": instance["label"],
                    "type": "linode",
                    "url": f"/v4/linode/instances/{instance['id']}",
                },
            }
            return JsonReply(200, device)

        @route("GET", "/v4/vpcs")
        def list_vpcs(r: JsonRequest) -> JsonReply:
            return self.listing(r, [_public_vpc(v) for v in self.vpcs.values()])

        @route("GET", "/v4/vpcs/{vpc_id}/ips")
        def list_vpc_ips(r: JsonRequest, vpc_id: str) -> JsonReply:
            vpc = self.vpcs.get(_int(vpc_id))
            if vpc is None:
                return self.not_found()
            ips = []
            for subnet in vpc["subnets"]:
                network = ipaddress.ip_network(subnet["ipv4"])
                for linode_id, address in sorted(subnet["_addresses"].items()):
                    ips.append(
                        {
                            "active": True,
                            "address": address,
                            "address_range": None,
                            "config_id": linode_id * 10,
                            "gateway": str(next(network.hosts())),
                            "interface_id": linode_id * 10 + 1,
                            "linode_id": linode_id,
                            "nat_1_1": "",
                            "prefix": network.prefixlen,
                            "region": vpc["region"],
                            "subnet_id": subnet["id"],
                            "subnet_mask": str(network.netmask),
                            "vpc_id": vpc["id"],
                        }
                    )
            return self.listing(r, ips)

        @route("POST", "/v4/vpcs")
        def create_vpc(r: JsonRequest) -> JsonReply:
            body = r.body or {}
            if body.get("region") not in REGIONS:
                return JsonReply(
                    400, {"errors": [{"reason": "region is not valid", "field": "region"}]}
                )
            now = utc_now(zulu=False)
            subnets = [
                {
                    "id": self.ids.next(),
                    "label": s["label"],
                    "ipv4": s["ipv4"],
                    "linodes": [],
                    "created": now,
                    "updated": now,
                    "_addresses": {},
                }
                for s in body.get("subnets") or []
            ]
            vpc = {
                "id": self.ids.next(),
                "label": body["label"],
                "description": body.get("description", ""),
                "region": body["region"],
                "subnets": subnets,
                "created": now,
                "updated": now,
            }
            self.vpcs[vpc["id"]] = vpc
            return JsonReply(200, _public_vpc(vpc))

        @route("GET", "/v4/vpcs/{vpc_id}")
        def get_vpc(_r: JsonRequest, vpc_id: str) -> JsonReply:
            vpc = self.vpcs.get(_int(vpc_id))
            return JsonReply(200, _public_vpc(vpc)) if vpc else self.not_found()

        @route("DELETE", "/v4/vpcs/{vpc_id}")
        def delete_vpc(_r: JsonRequest, vpc_id: str) -> JsonReply:
            vpc = self.vpcs.get(_int(vpc_id))
            if vpc is None:
                return self.not_found()
            if any(subnet["linodes"] for subnet in vpc["subnets"]):
                return self.error(400, "in_use", "Cannot delete a VPC with Linodes attached")
            del self.vpcs[vpc["id"]]
            return JsonReply(200, {})

        @route("GET", "/v4/tags")
        def list_tags(r: JsonRequest) -> JsonReply:
            return self.listing(r, [{"label": tag} for tag in sorted(self.tags)])

        @route("POST", "/v4/tags")
        def create_tag(r: JsonRequest) -> JsonReply:
            body = r.body or {}
            self.tags.add(body["label"])
            for instance_id in body.get("linodes") or []:
                if instance_id in self.instances:
                    self.instances[instance_id]["tags"].append(body["label"])
            return JsonReply(200, {"label": body["label"]})

        @route("DELETE", "/v4/tags/{label}")
        def delete_tag(_r: JsonRequest, label: str) -> JsonReply:
            if label not in self.tags:
                return self.not_found()
            self.tags.discard(label)
            for instance in self.instances.values():
                instance["tags"] = [t for t in instance["tags"] if t != label]
            return JsonReply(200, {})


def _matches(item: dict[str, Any], condition: dict[str, Any]) -> bool:
    for key, expected in condition.items():
        if key.startswith("+order"):
            continue
        if key == "+and":
            if not all(_matches(item, sub) for sub in expected):
                return False
        elif key == "+or":
            if not any(_matches(item, sub) for sub in expected):
                return False
        else:
            actual = item.get(key)
            if isinstance(actual, list):
                if expected not in actual:
                    return False
            elif actual != expected:
                return False
    return True


def _public(firewall: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in firewall.items() if not k.startswith("_")}


def _public_vpc(vpc: dict[str, Any]) -> dict[str, Any]:
    return {**vpc, "subnets": [_public(subnet) for subnet in vpc["subnets"]]}


def _region(slug: str) -> dict[str, Any]:
    return {
        "id": slug,
        "label": slug,
        "country": REGIONS[slug].lower(),
        "capabilities": ["Linodes", "Cloud Firewall", "VPCs"],
        "status": "ok",
        "resolvers": {"ipv4": "192.0.2.53", "ipv6": "2001:db8::53"},
    }


def _type(slug: str) -> dict[str, Any]:
    spec = TYPES[slug]
    return {
        "id": slug,
        "label": spec["label"],
        "class": spec["class"],
        "memory": spec["memory"],
        "vcpus": spec["vcpus"],
        "disk": spec["disk"],
        "gpus": 0,
        "transfer": 1000,
        "network_out": 1000,
        "successor": None,
        "price": {"hourly": round(spec["monthly"] / 730, 4), "monthly": spec["monthly"]},
        "addons": {"backups": {"price": {"hourly": 0.003, "monthly": 2.0}}},
        "region_prices": [],
    }


def _image(slug: str) -> dict[str, Any]:
    return {
        "id": slug,
        "label": IMAGES[slug],
        "description": None,
        "created": "2024-01-01T00:00:00",
        "updated": "2024-01-01T00:00:00",
        "created_by": "linode",
        "deprecated": False,
        "is_public": True,
        "size": 1300,
        "total_size": 1300,
        "type": "manual",
        "vendor": slug.split("/")[1],
        "eol": None,
        "expiry": None,
        "status": "available",
        "capabilities": ["cloud-init"],
        "regions": [],
        "tags": [],
    }


def _int(text: str) -> int:
    return int(text) if text.isdigit() else -1
