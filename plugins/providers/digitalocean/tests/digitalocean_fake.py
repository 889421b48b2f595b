"""A stateful fake of the DigitalOcean v2 API, small but spec-valid (Prism checks every reply).

Covers what a provider needs for machines: droplets (create one or many, list with ``tag_name``
and pagination, get, delete one or by tag, actions), SSH keys, firewalls, VPCs, tags, and a
read-only catalogue of regions, sizes and images.
"""

from __future__ import annotations

from typing import Any

from sloth_kubernetes.testing.emulators._http import JsonApp, JsonReply, JsonRequest
from sloth_kubernetes.testing.emulators.prism import PrismSpec
from sloth_kubernetes.testing.emulators.state import (
    AddressPool,
    IdCounter,
    md5_fingerprint,
    new_uuid,
    paginate,
    utc_now,
)

REGIONS = {
    "nyc3": "New York 3",
    "fra1": "Frankfurt 1",
}
SIZES: dict[str, dict[str, Any]] = {
    "s-1vcpu-1gb": {"memory": 1024, "vcpus": 1, "disk": 25, "price_monthly": 6.0},
    "s-2vcpu-4gb": {"memory": 4096, "vcpus": 2, "disk": 80, "price_monthly": 24.0},
}
IMAGES = {
    "ubuntu-24-04-x64": (160_000_001, "Ubuntu", "24.04 (LTS) x64"),
    "debian-12-x64": (160_000_002, "Debian", "12 x64"),
}


#: DigitalOcean's OpenAPI spec (github.com/digitalocean/openapi ``specification/`` at 7c1300c479fe),
#: under the api-specs folder (docs/testing-clouds.md). It is split over many files: Prism is given
#: the entry file, which $refs the others.
SPEC = PrismSpec("digitalocean/DigitalOcean-public.v2.yaml")


class DigitalOceanFake(JsonApp):
    """The fake's state lives on this object; :meth:`reset` empties it."""

    def __init__(self) -> None:
        super().__init__("digitalocean")
        self.ids = IdCounter()
        self.public_ips = AddressPool("203.0.113.0/24")
        self.droplets: dict[int, dict[str, Any]] = {}
        self.keys: dict[int, dict[str, Any]] = {}
        self.firewalls: dict[str, dict[str, Any]] = {}
        self.vpcs: dict[str, dict[str, Any]] = {}
        self.tags: set[str] = set()
        self.private_pools: dict[str, AddressPool] = {}
        self._routes_()

    def reset(self) -> None:
        with self.lock:
            self.ids.reset()
            self.public_ips.reset()
            for store in (self.droplets, self.keys, self.firewalls, self.vpcs, self.private_pools):
                store.clear()
            self.tags.clear()
            self.requests.clear()

    # ------------------------------------------------------------------ replies

    def listing(self, request: JsonRequest, key: str, items: list[Any]) -> JsonReply:
        page = paginate(items, request.params, default_per_page=20)
        body: dict[str, Any] = {key: page.items, "links": {}, "meta": {"total": page.total}}
        if page.last_page > 1:
            base = f"https://api.digitalocean.com{request.path}?per_page={page.per_page}&page="
            pages: dict[str, str] = {}
            if page.page > 1:
                pages |= {"first": base + "1", "prev": base + str(page.page - 1)}
            if page.page < page.last_page:
                pages |= {"next": base + str(page.page + 1), "last": base + str(page.last_page)}
            body["links"] = {"pages": pages}
        return JsonReply(200, body)

    def not_found(self, what: str) -> JsonReply:
        return self.error(404, "not_found", f"The {what} could not be found.")

    # ------------------------------------------------------------------ catalogue

    def region(self, slug: str) -> dict[str, Any]:
        return {
            "slug": slug,
            "name": REGIONS[slug],
            "features": ["backups", "ipv6", "metadata", "private_networking"],
            "available": True,
            "sizes": list(SIZES),
        }

    def size(self, slug: str) -> dict[str, Any]:
        spec = SIZES[slug]
        return {
            "slug": slug,
            "memory": spec["memory"],
            "vcpus": spec["vcpus"],
            "disk": spec["disk"],
            "transfer": 1.0,
            "price_monthly": spec["price_monthly"],
            "price_hourly": round(spec["price_monthly"] / 730, 5),
            "regions": list(REGIONS),
            "available": True,
            "description": "Basic",
        }

    def image(self, slug: str) -> dict[str, Any]:
        image_id, distribution, name = IMAGES[slug]
        return {
            "id": image_id,
            "name": name,
            "distribution": distribution,
            "slug": slug,
            "public": True,
            "regions": list(REGIONS),
            "created_at": "2024-04-25T00:00:00Z",
            "min_disk_size": 7,
            "type": "base",
            "size_gigabytes": 2.36,
            "description": f"{distribution} {name}",
            "tags": [],
            "status": "available",
            "error_message": "",
        }

    def _routes_(self) -> None:
        route = self.route

        @route("GET", "/v2/account")
        def account(_r: JsonRequest) -> JsonReply:
            return JsonReply(
                200,
                {
                    "account": {
                        "droplet_limit": 25,
                        "floating_ip_limit": 3,
                        "email": "sloth@example.com",
                        "uuid": "b6fr89dbf6d9156cace5f3c78dc9851d957381ef",
                        "email_verified": True,
                        "status": "active",
                        "status_message": "",
                    }
                },
            )

        @route("GET", "/v2/regions")
        def regions(r: JsonRequest) -> JsonReply:
            return self.listing(r, "regions", [self.region(slug) for slug in REGIONS])

        @route("GET", "/v2/sizes")
        def sizes(r: JsonRequest) -> JsonReply:
            return self.listing(r, "sizes", [self.size(slug) for slug in SIZES])

        @route("GET", "/v2/images")
        def images(r: JsonRequest) -> JsonReply:
            return self.listing(r, "images", [self.image(slug) for slug in IMAGES])

        @route("GET", "/v2/images/{ref}")
        def image(_r: JsonRequest, ref: str) -> JsonReply:
            for slug, (image_id, _, _) in IMAGES.items():
                if ref in (slug, str(image_id)):
                    return JsonReply(200, {"image": self.image(slug)})
            return self.not_found("image")

        # -------------------------------------------------------------- droplets

        @route("GET", "/v2/droplets")
        def list_droplets(r: JsonRequest) -> JsonReply:
            tag, name = r.params.get("tag_name"), r.params.get("name")
            found = [
                self.shown(d)
                for d in self.droplets.values()
                if (tag is None or tag in d["tags"]) and (name is None or d["name"] == name)
            ]
            return self.listing(r, "droplets", found)

        @route("POST", "/v2/droplets")
        def create_droplets(r: JsonRequest) -> JsonReply:
            body = r.body or {}
            if body.get("size") not in SIZES:
                return self.error(422, "unprocessable_entity", "You specified an invalid size.")
            if body.get("region") not in REGIONS:
                return self.error(422, "unprocessable_entity", "You specified an invalid region.")
            if str(body.get("image")) not in IMAGES and not any(
                str(body.get("image")) == str(i) for i, _, _ in IMAGES.values()
            ):
                return self.error(422, "unprocessable_entity", "You specified an invalid image.")
            names = body["names"] if "names" in body else [body["name"]]
            created = [self.new_droplet(name, body) for name in names]
            action = {
                "id": self.ids.next(),
                "rel": "create",
                "href": "https://api.digitalocean.com",
            }
            if "names" in body:
                return JsonReply(202, {"droplets": created, "links": {"actions": [action]}})
            return JsonReply(202, {"droplet": created[0], "links": {"actions": [action]}})

        @route("GET", "/v2/droplets/{droplet_id}")
        def get_droplet(_r: JsonRequest, droplet_id: str) -> JsonReply:
            droplet = self.droplets.get(_int(droplet_id))
            if droplet is None:
                return self.not_found("resource you were accessing")
            return JsonReply(200, {"droplet": self.shown(droplet)})

        @route("DELETE", "/v2/droplets/{droplet_id}")
        def delete_droplet(_r: JsonRequest, droplet_id: str) -> JsonReply:
            if self.droplets.pop(_int(droplet_id), None) is None:
                return self.not_found("resource you were accessing")
            return JsonReply(204)

        @route("DELETE", "/v2/droplets")
        def delete_by_tag(r: JsonRequest) -> JsonReply:
            tag = r.params.get("tag_name")
            if not tag:
                return self.error(422, "unprocessable_entity", "tag_name is required")
            for droplet_id in [i for i, d in self.droplets.items() if tag in d["tags"]]:
                del self.droplets[droplet_id]
            return JsonReply(204)

        @route("POST", "/v2/droplets/{droplet_id}/actions")
        def droplet_action(r: JsonRequest, droplet_id: str) -> JsonReply:
            droplet = self.droplets.get(_int(droplet_id))
            if droplet is None:
                return self.not_found("resource you were accessing")
            kind = (r.body or {}).get("type", "")
            droplet["status"] = {"power_off": "off", "shutdown": "off"}.get(kind, "active")
            action = self.action(kind, droplet["id"], "droplet", droplet["region"])
            return JsonReply(201, {"action": action})

        # -------------------------------------------------------------- ssh keys

        @route("GET", "/v2/account/keys")
        def list_keys(r: JsonRequest) -> JsonReply:
            return self.listing(r, "ssh_keys", list(self.keys.values()))

        @route("POST", "/v2/account/keys")
        def create_key(r: JsonRequest) -> JsonReply:
            body = r.body or {}
            fingerprint = md5_fingerprint(body["public_key"])
            if any(k["fingerprint"] == fingerprint for k in self.keys.values()):
                return self.error(422, "unprocessable_entity", "SSH Key is already in use")
            key = {
                "id": self.ids.next(),
                "fingerprint": fingerprint,
                "public_key": body["public_key"],
                "name": body["name"],
            }
            self.keys[key["id"]] = key
            return JsonReply(201, {"ssh_key": key})

        @route("GET", "/v2/account/keys/{ref}")
        def get_key(_r: JsonRequest, ref: str) -> JsonReply:
            key = self.find_key(ref)
            return JsonReply(200, {"ssh_key": key}) if key else self.not_found("SSH key")

        @route("DELETE", "/v2/account/keys/{ref}")
        def delete_key(_r: JsonRequest, ref: str) -> JsonReply:
            key = self.find_key(ref)
            if key is None:
                return self.not_found("SSH key")
            del self.keys[key["id"]]
            return JsonReply(204)

        # -------------------------------------------------------------- firewalls, VPCs, tags

        @route("GET", "/v2/firewalls")
        def list_firewalls(r: JsonRequest) -> JsonReply:
            return self.listing(r, "firewalls", list(self.firewalls.values()))

        @route("POST", "/v2/firewalls")
        def create_firewall(r: JsonRequest) -> JsonReply:
            body = r.body or {}
            firewall = {
                "id": new_uuid(),
                "status": "succeeded",
                "created_at": utc_now(),
                "pending_changes": [],
                "name": body["name"],
                "droplet_ids": body.get("droplet_ids") or [],
                "tags": body.get("tags") or [],
                "inbound_rules": body.get("inbound_rules") or [],
                "outbound_rules": body.get("outbound_rules") or [],
            }
            self.firewalls[firewall["id"]] = firewall
            return JsonReply(202, {"firewall": firewall})

        @route("GET", "/v2/firewalls/{firewall_id}")
        def get_firewall(_r: JsonRequest, firewall_id: str) -> JsonReply:
            firewall = self.firewalls.get(firewall_id)
            return (
                JsonReply(200, {"firewall": firewall}) if firewall else self.not_found("firewall")
            )

        @route("POST", "/v2/firewalls/{firewall_id}/rules")
        def add_firewall_rules(r: JsonRequest, firewall_id: str) -> JsonReply:
            # resources/firewalls/firewalls_add_rules.yml: appends the rules, answers 204.
            firewall = self.firewalls.get(firewall_id)
            if firewall is None:
                return self.not_found("firewall")
            body = r.body or {}
            for direction in ("inbound_rules", "outbound_rules"):
                firewall[direction] = firewall[direction] + (body.get(direction) or [])
            return JsonReply(204)

        @route("DELETE", "/v2/firewalls/{firewall_id}/rules")
        def delete_firewall_rules(r: JsonRequest, firewall_id: str) -> JsonReply:
            # resources/firewalls/firewalls_delete_rules.yml: removes the rules equal to those
            # given, answers 204.
            firewall = self.firewalls.get(firewall_id)
            if firewall is None:
                return self.not_found("firewall")
            body = r.body or {}
            for direction in ("inbound_rules", "outbound_rules"):
                gone = body.get(direction) or []
                firewall[direction] = [rule for rule in firewall[direction] if rule not in gone]
            return JsonReply(204)

        @route("DELETE", "/v2/firewalls/{firewall_id}")
        def delete_firewall(_r: JsonRequest, firewall_id: str) -> JsonReply:
            if self.firewalls.pop(firewall_id, None) is None:
                return self.not_found("firewall")
            return JsonReply(204)

        @route("GET", "/v2/vpcs")
        def list_vpcs(r: JsonRequest) -> JsonReply:
            return self.listing(r, "vpcs", list(self.vpcs.values()))

        @route("POST", "/v2/vpcs")
        def create_vpc(r: JsonRequest) -> JsonReply:
            body = r.body or {}
            if body.get("region") not in REGIONS:
                return self.error(422, "unprocessable_entity", "You specified an invalid region.")
            ip_range = body.get("ip_range") or f"10.{10 + len(self.vpcs)}.0.0/20"
            vpc = {
                "id": new_uuid(),
                "urn": "",
                "name": body["name"],
                "description": body.get("description", ""),
                "region": body["region"],
                "ip_range": ip_range,
                "default": False,
                "created_at": utc_now(),
            }
            vpc["urn"] = f"do:vpc:{vpc['id']}"
            self.vpcs[vpc["id"]] = vpc
            self.private_pools[vpc["id"]] = AddressPool(ip_range)
            return JsonReply(201, {"vpc": vpc})

        @route("GET", "/v2/vpcs/{vpc_id}")
        def get_vpc(_r: JsonRequest, vpc_id: str) -> JsonReply:
            vpc = self.vpcs.get(vpc_id)
            return JsonReply(200, {"vpc": vpc}) if vpc else self.not_found("VPC")

        @route("DELETE", "/v2/vpcs/{vpc_id}")
        def delete_vpc(_r: JsonRequest, vpc_id: str) -> JsonReply:
            if vpc_id not in self.vpcs:
                return self.not_found("VPC")
            if any(d.get("vpc_uuid") == vpc_id for d in self.droplets.values()):
                return self.error(403, "forbidden", "Can not delete VPC with members")
            del self.vpcs[vpc_id]
            return JsonReply(204)

        @route("GET", "/v2/tags")
        def list_tags(r: JsonRequest) -> JsonReply:
            return self.listing(r, "tags", [self.tag(name) for name in sorted(self.tags)])

        @route("POST", "/v2/tags")
        def create_tag(r: JsonRequest) -> JsonReply:
            name = (r.body or {})["name"]
            self.tags.add(name)
            return JsonReply(201, {"tag": self.tag(name)})

        @route("GET", "/v2/tags/{name}")
        def get_tag(_r: JsonRequest, name: str) -> JsonReply:
            return (
                JsonReply(200, {"tag": self.tag(name)})
                if name in self.tags
                else (self.not_found("tag"))
            )

        @route("DELETE", "/v2/tags/{name}")
        def delete_tag(_r: JsonRequest, name: str) -> JsonReply:
            if name not in self.tags:
                return self.not_found("tag")
            self.tags.discard(name)
            for droplet in self.droplets.values():
                droplet["tags"] = [t for t in droplet["tags"] if t != name]
            return JsonReply(204)

    # ------------------------------------------------------------------ state helpers

    def new_droplet(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        size = self.size(body["size"])
        image_ref = str(body["image"])
        slug = next(s for s, (i, _, _) in IMAGES.items() if image_ref in (s, str(i)))
        vpc_id = body.get("vpc_uuid") or self.default_vpc(body["region"])
        networks = [
            {
                "ip_address": self.public_ips.take(),
                "netmask": self.public_ips.netmask,
                "gateway": self.public_ips.gateway,
                "type": "public",
            },
            {
                "ip_address": self.private_pools[vpc_id].take(),
                "netmask": self.private_pools[vpc_id].netmask,
                "gateway": self.private_pools[vpc_id].gateway,
                "type": "private",
            },
        ]
        tags = list(body.get("tags") or [])
        self.tags.update(tags)
        droplet = {
            "id": self.ids.next(),
            "name": name,
            "memory": size["memory"],
            "vcpus": size["vcpus"],
            "disk": size["disk"],
            "locked": False,
            "status": "new",
            "kernel": None,
            "created_at": utc_now(),
            "features": ["private_networking"] + (["ipv6"] if body.get("ipv6") else []),
            "backup_ids": [],
            "next_backup_window": None,
            "snapshot_ids": [],
            "image": self.image(slug),
            "volume_ids": [],
            "size": size,
            "size_slug": size["slug"],
            "networks": {"v4": networks, "v6": []},
            "region": self.region(body["region"]),
            "tags": tags,
            "vpc_uuid": vpc_id,
        }
        self.droplets[droplet["id"]] = droplet
        # The create reply shows the droplet as "new"; every later read shows it running.
        shown = dict(droplet)
        droplet["status"] = "active"
        return shown

    def shown(self, droplet: dict[str, Any]) -> dict[str, Any]:
        return dict(droplet)

    def default_vpc(self, region: str) -> str:
        for vpc in self.vpcs.values():
            if vpc["region"] == region and vpc["default"]:
                return str(vpc["id"])
        vpc_id = new_uuid()
        ip_range = f"10.{100 + len(self.vpcs)}.0.0/20"
        self.vpcs[vpc_id] = {
            "id": vpc_id,
            "urn": f"do:vpc:{vpc_id}",
            "name": f"default-{region}",
            "description": "",
            "region": region,
            "ip_range": ip_range,
            "default": True,
            "created_at": utc_now(),
        }
        self.private_pools[vpc_id] = AddressPool(ip_range)
        return vpc_id

    def find_key(self, ref: str) -> dict[str, Any] | None:
        for key in self.keys.values():
            if ref in (str(key["id"]), key["fingerprint"]):
                return key
        return None

    def tag(self, name: str) -> dict[str, Any]:
        count = sum(1 for d in self.droplets.values() if name in d["tags"])
        last = next((d for d in self.droplets.values() if name in d["tags"]), None)
        droplets: dict[str, Any] = {"count": count}
        if last is not None:
            droplets["last_tagged_uri"] = f"https://api.digitalocean.com/v2/droplets/{last['id']}"
        return {"name": name, "resources": {"count": count, "droplets": droplets}}

    def action(
        self, kind: str, resource_id: int, resource_type: str, region: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "id": self.ids.next(),
            "status": "completed",
            "type": kind,
            "started_at": utc_now(),
            "completed_at": utc_now(),
            "resource_id": resource_id,
            "resource_type": resource_type,
            "region": region,
            "region_slug": region["slug"],
        }


def _int(text: str) -> int:
    return int(text) if text.isdigit() else -1
