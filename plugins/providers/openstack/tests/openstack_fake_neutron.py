"""The Neutron half of the fake OpenStack cloud (see ``openstack_fake``): networks, subnets,
ports, routers, floating IPs, security groups and rules, tags, filters and paging, as the
Networking API v2.0 does them; checked against ``described/neutron-v2.0.json``."""

from __future__ import annotations

import ipaddress
import secrets
import uuid
from collections.abc import Callable
from typing import Any

from sloth_kubernetes.testing.emulators._http import JsonReply, JsonRequest
from sloth_kubernetes.testing.emulators.state import AddressPool, utc_now

PROJECT_ID = "8b2b4a0f6c0e4d8c9f3b0a1e2d3c4b5a"
EXTERNAL_NET = "5c1d7a5e-1b2a-4f4f-9a51-0d0b6b8f0e11"
EXTERNAL_SUBNET = "6d2e8b6f-2c3b-4a5a-8b62-1e1c7c9f1f22"


class NeutronFake:
    """Mixed into :class:`~.openstack_fake.OpenStackFake`, which owns the state and routing."""

    networks: dict[str, dict[str, Any]]
    subnets: dict[str, dict[str, Any]]
    ports: dict[str, dict[str, Any]]
    routers: dict[str, dict[str, Any]]
    floatingips: dict[str, dict[str, Any]]
    security_groups: dict[str, dict[str, Any]]
    servers: dict[str, dict[str, Any]]
    _pools: dict[str, AddressPool]
    route: Callable[..., Any]
    error: Callable[..., JsonReply]
    link: Callable[[str], str]

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

        @route("DELETE", "/networking/v2.0/security-group-rules/{rule_id}")
        def delete_rule(_r: JsonRequest, rule_id: str) -> JsonReply:
            # described/neutron-v2.0.json: 204, or 404 for a rule that does not exist
            for group in self.security_groups.values():
                kept = [r for r in group["security_group_rules"] if r["id"] != rule_id]
                if len(kept) != len(group["security_group_rules"]):
                    group["security_group_rules"] = kept
                    return JsonReply(204)
            return self.not_found("SecurityGroupRule", rule_id)

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
