"""The routes of :class:`~.fake.FakeResourceManager` (paths as the SDK's request builders
write them; matched case-insensitively, as ARM does)."""

from __future__ import annotations

import ipaddress
import uuid
from typing import TYPE_CHECKING, Any

from sloth_kubernetes.testing.emulators._http import JsonReply, JsonRequest
from sloth_kubernetes.testing.emulators.state import utc_now

from .catalog import LOCATIONS, VM_SIZES

if TYPE_CHECKING:
    from .fake import FakeResourceManager

SUB = "/subscriptions/{sub}"
GROUP = SUB + "/resourceGroups/{group}"
_NETWORK_TYPES = ("virtualNetworks", "networkSecurityGroups", "publicIPAddresses",
                  "networkInterfaces")  # fmt: skip


def install(arm: FakeResourceManager) -> None:
    route = arm.route

    def rid(group: str, namespace: str, kind: str, name: str) -> str:
        group_id = f"/subscriptions/{arm.subscription}/resourceGroups/{group}"
        return f"{group_id}/providers/{namespace}/{kind}/{name}"

    def public(resource: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in resource.items() if not k.startswith("_")}

    def group_missing(group: str) -> JsonReply:
        return arm.error(
            404, "ResourceGroupNotFound", f"Resource group '{group}' could not be found."
        )

    def not_found(kind: str, name: str, group: str) -> JsonReply:
        return arm.error(404, "ResourceNotFound", f"The Resource '{kind}/{name}' under resource "
                         f"group '{group}' was not found.")  # fmt: skip

    def find(resource_id: str) -> dict[str, Any] | None:
        return arm.resources.get(resource_id.lower())

    def users_of(resource_id: str) -> list[dict[str, Any]]:
        """Resources whose properties refer to ``resource_id`` (or a child of it)."""
        needle = resource_id.lower()
        return [
            r
            for r in arm.resources.values()
            if r["id"].lower() != needle and needle in str(r["properties"]).lower()
        ]

    # -- subscription, locations, sizes ---------------------------------------------------------

    @route("GET", SUB)
    def subscription(_r: JsonRequest, sub: str) -> JsonReply:
        return JsonReply(200, {
            "id": f"/subscriptions/{arm.subscription}", "subscriptionId": arm.subscription,
            "displayName": "sloth-tests", "tenantId": arm.tenant, "state": "Enabled",
            "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01",
                                     "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"},
            "authorizationSource": "RoleBased",
        })  # fmt: skip

    @route("GET", SUB + "/locations")
    def locations(r: JsonRequest, sub: str) -> JsonReply:
        return arm.page(r, [
            {"id": f"/subscriptions/{arm.subscription}/locations/{name}",
             "name": name, "type": "Region", "displayName": display,
             "regionalDisplayName": f"({geography}) {display}",
             "metadata": {"regionType": "Physical", "regionCategory": "Recommended",
                          "geography": geography, "geographyGroup": geography,
                          "longitude": longitude, "latitude": latitude,
                          "physicalLocation": display}}
            for name, (display, geography, latitude, longitude) in LOCATIONS.items()
        ])  # fmt: skip

    @route("GET", SUB + "/providers/Microsoft.Compute/locations/{location}/vmSizes")
    def vm_sizes(r: JsonRequest, sub: str, location: str) -> JsonReply:
        if location not in LOCATIONS:
            return arm.error(404, "NoRegisteredProviderFound", f"No registered resource provider "
                             f"found for location '{location}'.")  # fmt: skip
        return arm.page(r, [
            {"name": name, "numberOfCores": cores, "osDiskSizeInMB": 1047552,
             "resourceDiskSizeInMB": disk, "memoryInMB": memory, "maxDataDiskCount": disks}
            for name, (cores, memory, disk, disks) in VM_SIZES.items()
        ])  # fmt: skip

    # -- async operation status -----------------------------------------------------------------

    @route("GET", SUB + "/providers/{namespace}/locations/{location}/operations/{operation}")
    def operation_status(_r: JsonRequest, sub: str, namespace: str, location: str,
                         operation: str) -> JsonReply:  # fmt: skip
        found = arm.poll_operation(operation)
        if found is None:
            return arm.error(404, "OperationNotFound", f"Operation {operation} was not found.")
        return JsonReply(200, found)

    @route("GET", SUB + "/operationresults/{operation}")
    def group_operation(_r: JsonRequest, sub: str, operation: str) -> JsonReply:
        found = arm.poll_operation(operation)
        if found is None:
            return arm.error(404, "OperationNotFound", f"Operation {operation} was not found.")
        if found["status"] == "InProgress":
            return JsonReply(202, None, {"Location": f"{arm.subscription_link}/operationresults/"
                                         f"{operation}", "Retry-After": "0"})  # fmt: skip
        return JsonReply(200, None)

    # -- resource groups ------------------------------------------------------------------------

    def group_body(name: str) -> dict[str, Any]:
        group = arm.groups[name.lower()]
        return public(group)

    @route("PUT", SUB + "/resourcegroups/{group}")
    def put_group(r: JsonRequest, sub: str, group: str) -> JsonReply:
        existed = group.lower() in arm.groups
        arm.groups[group.lower()] = {
            "id": f"/subscriptions/{arm.subscription}/resourceGroups/{group}", "name": group,
            "type": "Microsoft.Resources/resourceGroups", "location": r.body["location"],
            "tags": dict(r.body.get("tags") or {}),
            "properties": {"provisioningState": "Succeeded"},
        }  # fmt: skip
        return JsonReply(200 if existed else 201, group_body(group))

    @route("GET", SUB + "/resourcegroups/{group}")
    def get_group(_r: JsonRequest, sub: str, group: str) -> JsonReply:
        if group.lower() not in arm.groups:
            return group_missing(group)
        return JsonReply(200, group_body(group))

    @route("DELETE", SUB + "/resourcegroups/{group}")
    def delete_group(_r: JsonRequest, sub: str, group: str) -> JsonReply:
        if group.lower() not in arm.groups:
            return group_missing(group)
        arm.groups[group.lower()]["properties"]["provisioningState"] = "Deleting"

        def gone() -> None:
            arm.groups.pop(group.lower(), None)
            prefix = f"/subscriptions/{arm.subscription}/resourcegroups/{group}/".lower()
            for key in [k for k in arm.resources if k.startswith(prefix)]:
                del arm.resources[key]

        headers = arm.start_operation("Microsoft.Resources", "westeurope", gone)
        operation = headers["Azure-AsyncOperation"].split("/operations/")[1].split("?")[0]
        return JsonReply(202, None, {"Location": f"{arm.subscription_link}/operationresults/"
                                     f"{operation}", "Retry-After": "0"})  # fmt: skip

    @route("GET", SUB + "/resourcegroups")
    def list_groups(r: JsonRequest, sub: str) -> JsonReply:
        wanted = arm.tag_filter(r)
        if isinstance(wanted, JsonReply):
            return wanted
        found = [public(g) for g in arm.groups.values() if _tagged(g, wanted)]
        return arm.page(r, found)

    @route("GET", SUB + "/resources")
    def list_everything(r: JsonRequest, sub: str) -> JsonReply:
        wanted = arm.tag_filter(r)
        if isinstance(wanted, JsonReply):
            return wanted
        found = [{k: v for k, v in public(x).items() if k in ("id", "name", "type", "location",
                                                             "tags")}
                 for x in arm.resources.values() if _tagged(x, wanted)]  # fmt: skip
        return arm.page(r, found)

    # -- resources in a group -------------------------------------------------------------------

    def build(r: JsonRequest, group: str, namespace: str, kind: str, name: str,
              existing: dict[str, Any] | None) -> dict[str, Any] | JsonReply:  # fmt: skip
        """The stored resource a PUT makes, or ARM's refusal."""
        body = r.body
        resource_id = rid(group, namespace, kind, name)
        properties = dict(body.get("properties") or {})
        resource: dict[str, Any] = {
            "id": resource_id, "name": name, "type": f"{namespace}/{kind}",
            "location": body.get("location"), "tags": dict(body.get("tags") or {}),
        }  # fmt: skip
        if kind == "virtualNetworks":
            properties["subnets"] = [
                {"name": s["name"], "id": f"{resource_id}/subnets/{s['name']}",
                 "type": "Microsoft.Network/virtualNetworks/subnets",
                 "properties": {**s.get("properties", {}), "provisioningState": "Succeeded"}}
                for s in properties.get("subnets") or []
            ]  # fmt: skip
            resource["_next"] = {s["name"]: 4 for s in properties["subnets"]}  # Azure keeps .0-.3
        elif kind == "networkSecurityGroups":
            properties["securityRules"] = [
                {"name": rule["name"], "id": f"{resource_id}/securityRules/{rule['name']}",
                 "type": "Microsoft.Network/networkSecurityGroups/securityRules",
                 "properties": {**rule["properties"], "provisioningState": "Succeeded"}}
                for rule in properties.get("securityRules") or []
            ]  # fmt: skip
            properties["defaultSecurityRules"] = _default_rules(resource_id)
            properties["resourceGuid"] = str(uuid.uuid4())
        elif kind == "publicIPAddresses":
            resource["sku"] = body.get("sku") or {"name": "Basic", "tier": "Regional"}
            address = (existing or {}).get("properties", {}).get("ipAddress")
            properties["ipAddress"] = address or next(arm.public_ips)
            properties.setdefault("idleTimeoutInMinutes", 4)
            properties["resourceGuid"] = str(uuid.uuid4())
        elif kind == "networkInterfaces":
            for config in properties.get("ipConfigurations") or []:
                settings = config.setdefault("properties", {})
                subnet_id = str((settings.get("subnet") or {}).get("id", ""))
                vnet_id, _, subnet = subnet_id.rpartition("/subnets/")
                vnet = find(vnet_id)
                if vnet is None or subnet not in vnet.get("_next", {}):
                    return invalid_reference(resource_id, subnet_id)
                ip_id = (settings.get("publicIPAddress") or {}).get("id")
                if ip_id and find(ip_id) is None:
                    return invalid_reference(resource_id, ip_id)
                prefix = next(s["properties"]["addressPrefix"] for s in
                              vnet["properties"]["subnets"] if s["name"] == subnet)  # fmt: skip
                old = (existing or {}).get("properties", {}).get("ipConfigurations") or [{}]
                address = old[0].get("properties", {}).get("privateIPAddress")
                if address is None:
                    address = str(ipaddress.ip_network(prefix).network_address
                                  + vnet["_next"][subnet])  # fmt: skip
                    vnet["_next"][subnet] += 1
                settings.update(privateIPAddress=address, privateIPAddressVersion="IPv4",
                                provisioningState="Succeeded", primary=True)  # fmt: skip
                config["id"] = f"{resource_id}/ipConfigurations/{config['name']}"
                config["type"] = "Microsoft.Network/networkInterfaces/ipConfigurations"
            nsg_id = (properties.get("networkSecurityGroup") or {}).get("id")
            if nsg_id and find(nsg_id) is None:
                return invalid_reference(resource_id, nsg_id)
            properties.update(macAddress="00-0D-3A-00-00-01", primary=True,
                              resourceGuid=str(uuid.uuid4()))  # fmt: skip
        elif kind == "virtualMachines":
            hardware = properties.get("hardwareProfile") or {}
            if hardware.get("vmSize") not in VM_SIZES:
                return arm.error(400, "InvalidParameter", f"The value {hardware.get('vmSize')} "
                                 "provided for the VM size is not valid.")  # fmt: skip
            for reference in (properties.get("networkProfile") or {}).get("networkInterfaces", []):
                if find(reference["id"]) is None:
                    return arm.error(400, "InvalidResourceReference", f"Resource "
                                     f"{reference['id']} referenced by resource {resource_id} "
                                     "was not found.")  # fmt: skip
            os_profile = dict(properties.get("osProfile") or {})
            os_profile.pop("customData", None)  # never returned (docs: osProfile.customData)
            os_profile.update(secrets=[], allowExtensionOperations=True,
                              requireGuestProvisionSignal=True)  # fmt: skip
            properties["osProfile"] = os_profile
            disk = dict((properties.get("storageProfile") or {}).get("osDisk") or {})
            disk_id = rid(group, "Microsoft.Compute", "disks", disk.get("name", f"{name}_OsDisk"))
            disk["osType"] = "Linux"
            disk["managedDisk"] = {**disk.get("managedDisk", {}), "id": disk_id}
            disk["diskSizeGB"] = 30
            properties["storageProfile"] = {**properties["storageProfile"], "osDisk": disk}
            properties["vmId"] = (existing or {}).get("properties", {}).get("vmId") or str(
                uuid.uuid4()
            )
            properties["timeCreated"] = utc_now()
            arm.resources[disk_id.lower()] = {
                "id": disk_id, "name": disk_id.rsplit("/", 1)[1], "type": "Microsoft.Compute/disks",
                "location": body.get("location"), "tags": {},
                "properties": {"diskSizeGB": 30, "osType": "Linux", "diskState": "Attached"},
            }  # fmt: skip
        resource["properties"] = properties
        return resource

    def invalid_reference(resource_id: str, target: str) -> JsonReply:
        return arm.error(400, "InvalidResourceReference", f"Resource {target} referenced by "
                         f"resource {resource_id} was not found.")  # fmt: skip

    def put(
        r: JsonRequest, sub: str, group: str, namespace: str, kind: str, name: str
    ) -> JsonReply:
        if group.lower() not in arm.groups:
            return group_missing(group)
        key = rid(group, namespace, kind, name).lower()
        existing = arm.resources.get(key)
        built = build(r, group, namespace, kind, name, existing)
        if isinstance(built, JsonReply):
            return built
        if kind == "virtualMachines":
            state = "Succeeded" if existing and existing["properties"].get(
                "provisioningState") == "Succeeded" else "Creating"  # fmt: skip
            built["properties"]["provisioningState"] = state
            arm.resources[key] = built
            status = 200 if existing else 201
            headers = arm.start_operation(namespace, built["location"], lambda: None)
            return JsonReply(
                status, public(built), {"Azure-AsyncOperation": headers["Azure-AsyncOperation"]}
            )
        built["properties"]["provisioningState"] = "Updating"
        arm.resources[key] = built

        def done() -> None:
            if key in arm.resources:
                arm.resources[key]["properties"]["provisioningState"] = "Succeeded"

        headers = arm.start_operation(namespace, built["location"], done)
        return JsonReply(200 if existing else 201, public(built),
                         {"Azure-AsyncOperation": headers["Azure-AsyncOperation"]})  # fmt: skip

    def get(_r: JsonRequest, sub: str, group: str, namespace: str, kind: str,
            name: str) -> JsonReply:  # fmt: skip
        resource = find(rid(group, namespace, kind, name))
        if resource is None:
            return not_found(f"{namespace}/{kind}", name, group)
        return JsonReply(200, shown(resource))

    def shown(resource: dict[str, Any]) -> dict[str, Any]:
        """A read: a VM being created comes one step closer to running (unless stuck)."""
        properties = resource["properties"]
        if (
            resource["type"] == "Microsoft.Compute/virtualMachines"
            and resource["name"] not in (arm.stuck)
            and properties["provisioningState"] == "Creating"
        ):
            steps = resource.setdefault("_reads", 0) + 1
            resource["_reads"] = steps
            if steps >= 2:
                properties["provisioningState"] = "Succeeded"
        visible = public(resource)
        visible["properties"] = {k: v for k, v in properties.items() if not k.startswith("_")}
        return visible

    def listing(r: JsonRequest, sub: str, group: str, namespace: str, kind: str) -> JsonReply:
        if group.lower() not in arm.groups:
            return group_missing(group)
        prefix = rid(group, namespace, kind, "").lower()
        return arm.page(
            r,
            [
                shown(x)
                for k, x in sorted(arm.resources.items())
                if k.startswith(prefix) and "/" not in k[len(prefix) :]
            ],
        )

    def delete(_r: JsonRequest, sub: str, group: str, namespace: str, kind: str,
               name: str) -> JsonReply:  # fmt: skip
        resource_id = rid(group, namespace, kind, name)
        resource = find(resource_id)
        if resource is None:
            return JsonReply(204, None)  # ARM: deleting what is not there is no error
        users = [u for u in users_of(resource_id) if u["properties"].get("provisioningState")
                 != "Deleting"]  # fmt: skip
        if users:
            code = {"networkInterfaces": "NicInUse", "publicIPAddresses": "PublicIPAddressInUse",
                    "networkSecurityGroups": "InUseNetworkSecurityGroupCannotBeDeleted",
                    "virtualNetworks": "InUseSubnetCannotBeDeleted",
                    "disks": "OperationNotAllowed"}.get(kind, "Conflict")  # fmt: skip
            user = users[0]["id"]
            return arm.error(
                409 if kind == "disks" else 400,
                code,
                f"{kind} {resource_id} is in use by {user} and cannot be deleted.",
            )
        resource["properties"]["provisioningState"] = "Deleting"

        def gone() -> None:
            arm.resources.pop(resource_id.lower(), None)
            if kind == "virtualMachines":
                cascade(resource)

        headers = arm.start_operation(namespace, str(resource["location"]), gone)
        return JsonReply(202, None, headers)

    def cascade(vm: dict[str, Any]) -> None:
        """What ``deleteOption: Delete`` takes with a VM: its NICs, their public IPs (when the IP
        says so) and the OS disk."""
        properties = vm["properties"]
        disk = properties["storageProfile"]["osDisk"]
        if disk.get("deleteOption") == "Delete":
            arm.resources.pop(disk["managedDisk"]["id"].lower(), None)
        else:
            attached = find(disk["managedDisk"]["id"])
            if attached is not None:
                attached["properties"]["diskState"] = "Unattached"
        for reference in properties["networkProfile"]["networkInterfaces"]:
            if (reference.get("properties") or {}).get("deleteOption") != "Delete":
                continue
            nic = arm.resources.pop(reference["id"].lower(), None)
            for config in (nic or {}).get("properties", {}).get("ipConfigurations", []):
                ip_id = (config["properties"].get("publicIPAddress") or {}).get("id")
                ip = find(ip_id) if ip_id else None
                if ip and ip["properties"].get("deleteOption") == "Delete":
                    arm.resources.pop(ip_id.lower(), None)

    for namespace, kinds in (("Microsoft.Network", _NETWORK_TYPES),
                             ("Microsoft.Compute", ("virtualMachines",))):  # fmt: skip
        for kind in kinds:
            base = f"{GROUP}/providers/{namespace}/{kind}"

            def bind(handler: Any, namespace: str = namespace, kind: str = kind) -> Any:
                return lambda r, **v: handler(r, namespace=namespace, kind=kind, **v)

            route("PUT", base + "/{name}")(bind(put))
            route("GET", base + "/{name}")(bind(get))
            route("DELETE", base + "/{name}")(bind(delete))
            route("GET", base)(bind(listing))
    route("DELETE", f"{GROUP}/providers/Microsoft.Compute/disks/{{name}}")(
        lambda r, **v: delete(r, namespace="Microsoft.Compute", kind="disks", **v)
    )


def _tagged(resource: dict[str, Any], wanted: tuple[str, str] | None) -> bool:
    if wanted is None:
        return True
    return (resource.get("tags") or {}).get(wanted[0]) == wanted[1]


def _default_rules(nsg_id: str) -> list[dict[str, Any]]:
    """The six rules every NSG has (docs: "Network security groups", default security rules)."""
    rules = [
        ("AllowVnetInBound", "Inbound", 65000, "VirtualNetwork", "VirtualNetwork", "Allow"),
        ("AllowAzureLoadBalancerInBound", "Inbound", 65001, "AzureLoadBalancer", "*", "Allow"),
        ("DenyAllInBound", "Inbound", 65500, "*", "*", "Deny"),
        ("AllowVnetOutBound", "Outbound", 65000, "VirtualNetwork", "VirtualNetwork", "Allow"),
        ("AllowInternetOutBound", "Outbound", 65001, "*", "Internet", "Allow"),
        ("DenyAllOutBound", "Outbound", 65500, "*", "*", "Deny"),
    ]
    return [
        {"name": name, "id": f"{nsg_id}/defaultSecurityRules/{name}",
         "type": "Microsoft.Network/networkSecurityGroups/defaultSecurityRules",
         "properties": {"description": name, "protocol": "*", "sourcePortRange": "*",
                        "destinationPortRange": "*", "sourceAddressPrefix": source,
                        "destinationAddressPrefix": destination, "access": access,
                        "priority": priority, "direction": direction,
                        "provisioningState": "Succeeded"}}
        for name, direction, priority, source, destination, access in rules
    ]  # fmt: skip
