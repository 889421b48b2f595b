"""The contract over Vultr's API v2, through libcloud's Vultr v2 connection (Bearer token).

libcloud's ``VultrNodeDriverV2`` has no tags, VPC attachment, firewall groups or user data on
create, so the requests are written here over its connection, which still does the
authentication, JSON handling and error parsing (``VultrException`` carrying the HTTP status,
which the shared retry guard and the session's credential check read).

Instances carry the string tags ``sloth-cluster:<cluster>`` and ``sloth-node:<name>``, the node
name as label and hostname, and are listed with ``GET /v2/instances?tag=…`` (cursor-paginated).
SSH keys, firewall groups and VPCs take no tags: their name / description is the cluster tag
itself (``sloth-cluster:<cluster>``) and they are found by exact match. Instances are created with
the imported key (``sshkey_id``), the firewall group (``firewall_group_id``, protected from the
first boot), the VPC (``attach_vpc``) and base64 cloud-init user data; the node's private address
is the instance's ``internal_ip`` on that VPC.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from sloth_kubernetes.plugin import (
    CLUSTER_TAG,
    CloudDriver,
    FirewallRule,
    Image,
    Machine,
    MachineSpec,
    ProviderError,
    Region,
    Resource,
    Size,
    flat_tags,
    guard_connection,
    point_connection_at,
    register_secret,
)

#: Vultr bills by the hour up to a monthly cap; /v2/plans gives the monthly price only.
HOURS_PER_MONTH = 730
#: The largest page the list operations document ("Default is 100 and Max is 500").
MAX_PER_PAGE = 500
#: ``os`` families that are placeholders for other sources, not installable systems.
_NOT_SYSTEMS = frozenset({"iso", "snapshot", "backup", "application"})


def _unsafe(action: str, _params: Any, method: str, _data: Any) -> bool:
    """Creating an instance is the one request that must never be repeated blindly."""
    return method == "POST" and action.rstrip("/").endswith("/v2/instances")


def _state(instance: dict[str, Any]) -> str:
    status, power = instance.get("status"), instance.get("power_status")
    if status == "active":
        return "running" if power == "running" else "stopped"
    if status in ("pending", "resizing"):
        return "pending"
    if status == "suspended":
        return "stopped"
    return "unknown"


class VultrDriver(CloudDriver):
    name = "vultr"
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
    #: Vultr ``os_id`` numbers (``GET /v2/os``), as strings: :meth:`resolve_image` keeps digits.
    image_aliases: ClassVar[dict[str, str]] = {
        "ubuntu-24.04": "2284",  # Ubuntu 24.04 LTS x64
        "ubuntu-22.04": "1743",  # Ubuntu 22.04 LTS x64
        "debian-12": "2136",  # Debian 12 x64 (bookworm)
    }
    default_region = "fra"
    default_size = "vc2-2c-4gb"
    default_endpoint = "https://api.vultr.com"

    def __init__(
        self, settings: Any, credentials: dict[str, Any], region: str, guard: Any = None
    ) -> None:
        super().__init__(settings, credentials, region, guard)
        from libcloud.compute.drivers.vultr import VultrNodeDriver

        factory: Any = VultrNodeDriver  # libcloud is untyped
        self.vultr: Any = factory(credentials["api_key"].reveal(), api_version="2")
        # libcloud adds per_page=500 to every request, creates and deletes included, which
        # document no such parameter: only the listings (``_all``) send it.
        self.vultr.connection.add_default_params = lambda params: params
        self.prefix = ""
        if settings.endpoint:  # every request goes through this one connection: re-point it
            path = point_connection_at(self.vultr.connection, settings.endpoint)
            # The documented base URL is https://api.vultr.com/v2; accept it as well.
            self.prefix = path.removesuffix("/v2")
        if guard is not None:
            guard_connection(self.vultr.connection, guard, _unsafe)

    # -- plumbing -------------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        reply = self.vultr.connection.request(
            self.prefix + "/v2" + path,
            params=params or None,
            data=json.dumps(body) if body is not None else None,
            method=method,
        )
        return reply.object

    def _all(self, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a cursor-paginated list (``meta.links.next``)."""
        items: list[dict[str, Any]] = []
        seen: set[str] = set()
        cursor = ""
        while True:
            query = {**params, "per_page": MAX_PER_PAGE}
            if cursor:
                query["cursor"] = cursor
            reply = self._request("GET", path, **query) or {}
            items += reply.get(key) or []
            cursor = str(((reply.get("meta") or {}).get("links") or {}).get("next") or "")
            if not cursor:
                return items
            if cursor in seen:  # a cursor that comes round again would loop forever
                raise ProviderError(
                    f"vultr: listing {path} returned the page cursor {cursor!r} twice",
                    provider="vultr",
                    hint="retry later; the API's pagination looks broken",
                )
            seen.add(cursor)

    @staticmethod
    def _cluster_tag(cluster: str) -> str:
        return f"{CLUSTER_TAG}:{cluster}"

    @staticmethod
    @contextlib.contextmanager
    def _gone_is_fine() -> Iterator[None]:
        """Deleting what is already deleted (404) is success: destroy may be re-run."""
        from libcloud.common.vultr import VultrException

        try:
            yield
        except VultrException as error:
            if error.code != 404:
                raise

    # -- machines -------------------------------------------------------------------------------

    def check_credentials(self) -> None:
        self._request("GET", "/account")

    def list_machines(self, cluster: str) -> list[Machine]:
        tag = self._cluster_tag(cluster)
        found = self._all("/instances", "instances", tag=tag)
        # The tag filter is the API's; checking again costs nothing and guards the destroy path.
        return [self._machine(i) for i in found if tag in (i.get("tags") or [])]

    @staticmethod
    def _machine(instance: dict[str, Any]) -> Machine:
        main_ip = instance.get("main_ip") or ""
        tags = dict(t.split(":", 1) for t in instance.get("tags") or [] if ":" in t)
        return Machine(
            id=str(instance["id"]),
            name=str(instance.get("label") or ""),
            state=_state(instance),  # type: ignore[arg-type]
            public_ip=main_ip if main_ip and main_ip != "0.0.0.0" else None,  # noqa: S104
            private_ip=instance.get("internal_ip") or None,
            tags=tags,
            extra={"plan": instance.get("plan"), "region": instance.get("region")},
        )

    def resolve_image(self, image: str) -> str:
        """An ``os_id`` stays as it is; an OS name (``Rocky Linux 9 x64``) is looked up."""
        if image.isdigit():
            return image
        wanted = image.strip().lower()
        for system in self._all("/os", "os"):
            if str(system.get("name", "")).lower() == wanted:
                return str(system["id"])
        raise ProviderError(
            f"vultr: no operating system named {image!r} in GET /v2/os",
            provider="vultr",
            hint="use ubuntu-24.04, ubuntu-22.04 or debian-12, an os_id number, "
            "or an exact name from Vultr's OS list",
        )

    def create_machine(self, spec: MachineSpec) -> Machine:
        if not spec.image.isdigit():
            raise ProviderError(
                f"vultr: {spec.name}: image {spec.image!r} is not an os_id",
                provider="vultr",
                hint="use an image alias, an os_id number or an OS name",
            )
        body: dict[str, Any] = {
            "region": spec.region,
            "plan": spec.size,
            "os_id": int(spec.image),
            "label": spec.name,
            "hostname": spec.name,
            "tags": flat_tags(spec.tags),
            "user_data": base64.b64encode(spec.user_data.encode()).decode(),
            "backups": "disabled",
            "enable_ipv6": False,
            "activation_email": False,
        }
        if spec.key is not None:
            body["sshkey_id"] = [spec.key.id]
        if spec.firewall is not None:  # protected from its first boot, no extra request
            body["firewall_group_id"] = spec.firewall.id
        if spec.network is not None:
            body["attach_vpc"] = [spec.network.id]
        instance = self._request("POST", "/instances", body)["instance"]
        # The reply carries a generated root password: never kept, redacted if it shows anywhere.
        password = instance.pop("default_password", None)
        if password:
            register_secret(str(password))
        return self._machine(instance)

    def destroy_machine(self, machine: Machine) -> None:
        with self._gone_is_fine():
            self._request("DELETE", f"/instances/{machine.id}")

    # -- SSH key --------------------------------------------------------------------------------

    def import_key(self, cluster: str, public_key: str) -> Resource:
        name = self._cluster_tag(cluster)
        key = self._request("POST", "/ssh-keys", {"name": name, "ssh_key": public_key.strip()})
        return Resource("key", str(key["ssh_key"]["id"]), name)

    def list_keys(self, cluster: str) -> list[Resource]:
        name = self._cluster_tag(cluster)
        return [
            Resource("key", str(k["id"]), name)
            for k in self._all("/ssh-keys", "ssh_keys")
            if k.get("name") == name
        ]

    def delete_key(self, key: Resource) -> None:
        with self._gone_is_fine():
            self._request("DELETE", f"/ssh-keys/{key.id}")

    # -- firewall group -------------------------------------------------------------------------

    def create_firewall(
        self, cluster: str, rules: Sequence[FirewallRule], network: Resource | None
    ) -> Resource:
        name = self._cluster_tag(cluster)
        group = self._request("POST", "/firewalls", {"description": name})["firewall_group"]
        firewall = Resource("firewall", str(group["id"]), name)
        try:  # one request per rule and source: the API takes one subnet per rule
            for rule in rules:
                for source in rule.sources:
                    self._request("POST", f"/firewalls/{firewall.id}/rules", _rule(rule, source))
        except Exception:
            # A group with half its rules would be adopted as it is by the next run: remove it.
            with contextlib.suppress(Exception):
                self.delete_firewall(firewall)
            raise
        return firewall

    firewall_update_blocker = None

    def update_firewall_rules(self, firewall: Resource, rules: Sequence[FirewallRule]) -> None:
        # One Vultr rule per protocol, ports and source: add the missing ones, delete by id
        # those the cluster no longer wants (DELETE /v2/firewalls/{id}/rules/{rule-id}).
        wanted = {
            _permission(body): body
            for rule in rules
            for source in rule.sources
            for body in [_rule(rule, source)]
        }
        found = self._all(f"/firewalls/{firewall.id}/rules", "firewall_rules")
        have = {_permission(r) for r in found}
        for key, body in wanted.items():
            if key not in have:
                self._request("POST", f"/firewalls/{firewall.id}/rules", body)
        for rule in found:
            if _permission(rule) not in wanted:
                self._request("DELETE", f"/firewalls/{firewall.id}/rules/{rule['id']}")

    def list_firewalls(self, cluster: str) -> list[Resource]:
        name = self._cluster_tag(cluster)
        return [
            Resource("firewall", str(g["id"]), name)
            for g in self._all("/firewalls", "firewall_groups")
            if g.get("description") == name
        ]

    def delete_firewall(self, firewall: Resource) -> None:
        with self._gone_is_fine():
            self._request("DELETE", f"/firewalls/{firewall.id}")

    def firewall_rules(self, firewall: Resource) -> list[FirewallRule]:
        merged: dict[tuple[str, str, str], list[str]] = {}
        for rule in self._all(f"/firewalls/{firewall.id}/rules", "firewall_rules"):
            protocol = str(rule.get("protocol", "")).lower()
            port = str(rule.get("port") or "").replace(":", "-")
            ports = "0" if protocol == "icmp" or not port else port
            source = f"{rule.get('subnet')}/{rule.get('subnet_size')}"
            merged.setdefault((protocol, ports, str(rule.get("notes") or "")), []).append(source)
        return [
            FirewallRule(protocol, ports, tuple(sources), notes)  # type: ignore[arg-type]
            for (protocol, ports, notes), sources in merged.items()
        ]

    # -- private network (VPC) ------------------------------------------------------------------

    def create_network(self, cluster: str, cidr: str) -> Resource:
        network = ipaddress.IPv4Network(cidr)
        name = self._cluster_tag(cluster)
        body = {
            "region": self.region,
            "description": name,
            "v4_subnet": str(network.network_address),
            "v4_subnet_mask": network.prefixlen,
        }
        vpc = self._request("POST", "/vpcs", body)["vpc"]
        return Resource("network", str(vpc["id"]), name)

    def list_networks(self, cluster: str) -> list[Resource]:
        name = self._cluster_tag(cluster)
        return [
            Resource("network", str(v["id"]), name)
            for v in self._all("/vpcs", "vpcs")
            if v.get("description") == name
        ]

    def delete_network(self, network: Resource) -> None:
        with self._gone_is_fine():
            self._request("DELETE", f"/vpcs/{network.id}")

    # -- catalog --------------------------------------------------------------------------------

    def list_sizes(self) -> list[Size]:
        sizes = []
        for plan in self._all("/plans", "plans"):
            locations = tuple(plan.get("locations") or ())
            if not locations:  # orderable nowhere (an empty list is not "everywhere" here)
                continue
            hourly = plan.get("hourly_cost")
            monthly = plan.get("monthly_cost")
            price = (
                float(hourly)
                if hourly is not None
                else (float(monthly) / HOURS_PER_MONTH if monthly is not None else None)
            )
            sizes.append(
                Size(
                    str(plan["id"]),
                    int(plan["vcpu_count"]),
                    int(plan["ram"]) / 1024,
                    price,
                    regions=locations,
                )
            )
        return sorted(sizes, key=lambda s: (s.cpu, s.memory_gib, s.id))

    def list_images(self) -> list[Image]:
        return [
            Image(str(s["id"]), str(s.get("name", "")))
            for s in self._all("/os", "os")
            if s.get("family") not in _NOT_SYSTEMS
        ]

    def list_regions(self) -> list[Region]:
        return [
            Region(str(r["id"]), ", ".join(str(r[k]) for k in ("city", "country") if r.get(k)))
            for r in self._all("/regions", "regions")
        ]


def _rule(rule: FirewallRule, source: str) -> dict[str, Any]:
    """One Vultr firewall rule (``POST /v2/firewalls/{id}/rules``) for one source range."""
    network = ipaddress.ip_network(source, strict=False)
    body: dict[str, Any] = {
        "ip_type": "v4" if network.version == 4 else "v6",
        "protocol": rule.protocol,
        "subnet": str(network.network_address),
        "subnet_size": network.prefixlen,
        "notes": rule.description,
    }
    if rule.protocol != "icmp":
        low, high = rule.port_range
        body["port"] = str(low) if low == high else f"{low}:{high}"
    return body


def _permission(rule: dict[str, Any]) -> tuple[str, str, str]:
    """What a rule allows (protocol, port, source), from a rule body or one the API lists."""
    protocol = str(rule.get("protocol", "")).lower()
    port = "" if protocol == "icmp" else str(rule.get("port") or "")
    return protocol, port, f"{rule.get('subnet')}/{rule.get('subnet_size')}"


__all__ = ["HOURS_PER_MONTH", "VultrDriver"]
