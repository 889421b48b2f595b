"""The routes of :class:`~.fake.FakeComputeEngine`: one per discovery method it serves."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from sloth_kubernetes.testing.emulators._http import JsonReply, JsonRequest
from sloth_kubernetes.testing.emulators.state import utc_now

from .catalog import IMAGE_FAMILIES, MACHINE_TYPES, REGIONS, ZONES
from .fake import LINK, _fingerprint, _public

if TYPE_CHECKING:
    from .fake import FakeComputeEngine

_STEPS = {"PROVISIONING": "STAGING", "STAGING": "RUNNING"}


def install(fake: FakeComputeEngine) -> None:
    project_link = f"{LINK}/{fake.project}"

    def missing(kind: str, where: str) -> JsonReply:
        return fake.error(404, "notFound", f"The resource 'projects/{fake.project}/{where}' "
                          f"was not found")  # fmt: skip

    def exists(where: str) -> JsonReply:
        return fake.error(409, "alreadyExists", f"The resource 'projects/{fake.project}/{where}' "
                          "already exists")  # fmt: skip

    def in_use(what: str, user: str) -> JsonReply:
        return fake.error(
            400, "resourceInUseByAnotherResource",
            f"The {what} resource 'projects/{fake.project}/{what}' is already being used by "
            f"'{user}'",
        )  # fmt: skip

    def shown(instance: dict[str, Any]) -> dict[str, Any]:
        """A read of an instance: it boots one step further (unless told never to)."""
        if instance["name"] not in fake.stuck and instance["status"] in _STEPS:
            instance["status"] = _STEPS[instance["status"]]
        return _public(instance)

    # -- zones, regions, machine types ----------------------------------------------------------

    @fake.routed("compute.zones.get", "/zones/{zone}", "GET")
    def zone(_r: JsonRequest, zone: str) -> JsonReply:
        if zone not in ZONES:
            return missing("zone", f"zones/{zone}")
        return JsonReply(200, _zone(project_link, zone))

    @fake.routed("compute.regions.list", "/regions", "GET")
    def regions(r: JsonRequest) -> JsonReply:
        items = [
            {
                "kind": "compute#region",
                "id": str(1000 + index),
                "creationTimestamp": "1969-12-31T16:00:00.000-08:00",
                "name": name,
                "description": name,
                "status": "UP",
                "zones": [f"{project_link}/zones/{z}" for z in zones],
                "selfLink": f"{project_link}/regions/{name}",
                "supportsPzs": False,
            }
            for index, (name, zones) in enumerate(sorted(REGIONS.items()))
        ]
        return fake.listing(r, "compute#regionList", items, f"{project_link}/regions")

    @fake.routed("compute.machineTypes.list", "/zones/{zone}/machineTypes", "GET")
    def machine_types(r: JsonRequest, zone: str) -> JsonReply:
        if zone not in ZONES:
            return missing("zone", f"zones/{zone}")
        items = [_machine_type(project_link, zone, name) for name in MACHINE_TYPES]
        return fake.listing(r, "compute#machineTypeList", items,
                            f"{project_link}/zones/{zone}/machineTypes")  # fmt: skip

    # -- operations -----------------------------------------------------------------------------

    def get_operation(r: JsonRequest, **_values: str) -> JsonReply:
        operation = fake.advance_operation(r.path)
        if operation is None:
            return missing("operation", r.path.split(f"{fake.base}/", 1)[1])
        return JsonReply(200, operation)

    fake.routed("compute.zoneOperations.get", "/zones/{zone}/operations/{op}", "GET")(get_operation)
    fake.routed("compute.regionOperations.get", "/regions/{region}/operations/{op}", "GET")(
        get_operation
    )
    fake.routed("compute.globalOperations.get", "/global/operations/{op}", "GET")(get_operation)

    # -- instances ------------------------------------------------------------------------------

    @fake.routed("compute.instances.aggregatedList", "/aggregated/instances", "GET")
    def aggregated(r: JsonRequest) -> JsonReply:
        everything = [shown(i) for _, i in sorted(fake.instances.items())]
        listed = fake.listing(r, "compute#instanceAggregatedList", everything,
                              f"{project_link}/aggregated/instances")  # fmt: skip
        if listed.status != 200:
            return listed
        body = dict(listed.body)
        page = body.pop("items", [])
        scopes: dict[str, Any] = {}
        for zone_name in sorted(ZONES):
            found = [i for i in page if i["zone"].endswith(f"/zones/{zone_name}")]
            scope = f"zones/{zone_name}"
            scopes[scope] = {"instances": found} if found else {"warning": {
                "code": "NO_RESULTS_ON_PAGE",
                "message": f"There are no results for scope '{scope}' on this page.",
                "data": [{"key": "scope", "value": scope}]}}  # fmt: skip
        body["items"] = scopes
        return JsonReply(200, body)

    @fake.routed("compute.instances.list", "/zones/{zone}/instances", "GET")
    def list_instances(r: JsonRequest, zone: str) -> JsonReply:
        found = [shown(i) for (z, _), i in sorted(fake.instances.items()) if z == zone]
        return fake.listing(r, "compute#instanceList", found,
                            f"{project_link}/zones/{zone}/instances")  # fmt: skip

    @fake.routed("compute.instances.get", "/zones/{zone}/instances/{name}", "GET")
    def get_instance(_r: JsonRequest, zone: str, name: str) -> JsonReply:
        instance = fake.instances.get((zone, name))
        if instance is None:
            return missing("instance", f"zones/{zone}/instances/{name}")
        return JsonReply(200, shown(instance))

    @fake.routed("compute.instances.insert", "/zones/{zone}/instances", "POST")
    def insert_instance(r: JsonRequest, zone: str) -> JsonReply:
        if zone not in ZONES:
            return missing("zone", f"zones/{zone}")
        body = r.body
        name = body["name"]
        if (zone, name) in fake.instances:
            return exists(f"zones/{zone}/instances/{name}")
        region = ZONES[zone]
        machine_type = str(body.get("machineType", "")).rsplit("/", 1)[-1]
        if machine_type not in MACHINE_TYPES:
            return fake.error(
                400,
                "invalid",
                "Invalid value for field 'resource.machineType': "
                f"'{body.get('machineType')}'. Machine type does not exist.",
            )
        disks = []
        for index, disk in enumerate(body.get("disks") or []):
            image = str((disk.get("initializeParams") or {}).get("sourceImage", ""))
            parts = image.split("/")
            if len(parts) != 6 or parts[0] != "projects" or parts[3:5] != ["images", "family"] \
                    or (parts[1], parts[5]) not in IMAGE_FAMILIES:  # fmt: skip
                return fake.error(
                    400,
                    "invalid",
                    f"Invalid value for field "
                    f"'resource.disks[{index}].initializeParams.sourceImage': "
                    f"'{image}'. The referenced image resource cannot be found.",
                )
            size = (disk.get("initializeParams") or {}).get("diskSizeGb", "10")
            disks.append(
                {
                    "kind": "compute#attachedDisk",
                    "type": "PERSISTENT",
                    "mode": "READ_WRITE",
                    "source": f"{project_link}/zones/{zone}/disks/{name}",
                    "deviceName": "persistent-disk-0",
                    "index": index,
                    "boot": bool(disk.get("boot")),
                    "autoDelete": bool(disk.get("autoDelete")),
                    "interface": "SCSI",
                    "diskSizeGb": str(size),
                    "architecture": "X86_64",
                    "licenses": [f"{LINK}/{parts[1]}/global/licenses/{parts[5]}"],
                    "guestOsFeatures": [{"type": "VIRTIO_SCSI_MULTIQUEUE"}],
                }
            )
        interfaces = []
        for index, nic in enumerate(body.get("networkInterfaces") or []):
            network_name = str(nic.get("network", "global/networks/default")).rsplit("/", 1)[-1]
            network = fake.networks.get(network_name)
            if network is None:
                return missing("network", f"global/networks/{network_name}")
            subnet_path = str(
                nic.get("subnetwork") or f"regions/{region}/subnetworks/{network_name}"
            )
            subnet_region, subnet_name = subnet_path.split("/")[-3], subnet_path.rsplit("/", 1)[-1]
            subnetwork = fake.subnetworks.get((subnet_region, subnet_name))
            if subnetwork is None or subnet_region != region:
                return fake.error(400, "invalid", "Invalid value for field "
                                  f"'resource.networkInterfaces[{index}].subnetwork': "
                                  f"'{subnet_path}'. The referenced subnetwork resource cannot "
                                  "be found.")  # fmt: skip
            if subnetwork["network"] != network["selfLink"]:
                return fake.error(400, "invalid", f"Subnetwork '{subnet_path}' does not belong "
                                  f"to network '{network_name}'.")  # fmt: skip
            address = ipaddress.ip_network(subnetwork["ipCidrRange"]).network_address
            private = str(address + subnetwork["_next"])
            subnetwork["_next"] += 1
            access = [
                {"kind": "compute#accessConfig", "type": "ONE_TO_ONE_NAT",
                 "name": config.get("name", "External NAT"), "natIP": next(fake.nat),
                 "networkTier": "PREMIUM"}
                for config in nic.get("accessConfigs") or []
            ]  # fmt: skip
            interfaces.append({
                "kind": "compute#networkInterface", "network": network["selfLink"],
                "subnetwork": subnetwork["selfLink"], "networkIP": private, "name": f"nic{index}",
                "accessConfigs": access, "fingerprint": _fingerprint(private),
                "stackType": "IPV4_ONLY",
            })  # fmt: skip
        instance_id = fake.next_id()
        link = f"{project_link}/zones/{zone}/instances/{name}"
        metadata = body.get("metadata") or {}
        fake.instances[(zone, name)] = {
            "kind": "compute#instance",
            "id": instance_id,
            "creationTimestamp": utc_now(),
            "name": name,
            "description": body.get("description", ""),
            "tags": {"items": (body.get("tags") or {}).get("items") or [],
                     "fingerprint": _fingerprint(name + "tags")},
            "machineType": f"{project_link}/zones/{zone}/machineTypes/{machine_type}",
            "status": "PROVISIONING",
            "zone": f"{project_link}/zones/{zone}",
            "canIpForward": False,
            "networkInterfaces": interfaces,
            "disks": disks,
            "metadata": {"kind": "compute#metadata", "fingerprint": _fingerprint(name + "md"),
                         "items": metadata.get("items") or []},
            "selfLink": link,
            "scheduling": {"onHostMaintenance": "MIGRATE", "automaticRestart": True,
                           "preemptible": False, "provisioningModel": "STANDARD"},
            "cpuPlatform": "Unknown CPU Platform",
            "labels": dict(body.get("labels") or {}),
            "labelFingerprint": _fingerprint(str(sorted((body.get("labels") or {}).items()))),
            "startRestricted": False,
            "deletionProtection": False,
            "fingerprint": _fingerprint(link),
            "lastStartTimestamp": utc_now(),
        }  # fmt: skip
        return fake.started(
            "compute.instances.insert", fake.instances[(zone, name)], ("zones", zone)
        )

    @fake.routed("compute.instances.delete", "/zones/{zone}/instances/{name}", "DELETE")
    def delete_instance(_r: JsonRequest, zone: str, name: str) -> JsonReply:
        instance = fake.instances.pop((zone, name), None)
        if instance is None:
            return missing("instance", f"zones/{zone}/instances/{name}")
        return fake.started("compute.instances.delete", instance, ("zones", zone))

    @fake.routed("compute.instances.getSerialPortOutput",
                 "/zones/{zone}/instances/{name}/serialPort", "GET")  # fmt: skip
    def serial_port(r: JsonRequest, zone: str, name: str) -> JsonReply:
        instance = fake.instances.get((zone, name))
        if instance is None:
            return missing("instance", f"zones/{zone}/instances/{name}")
        contents = _console(instance) if instance["status"] == "RUNNING" else ""
        return JsonReply(200, {
            "kind": "compute#serialPortOutput", "contents": contents, "start": "0",
            "next": str(len(contents)),
            "selfLink": f"{instance['selfLink']}/serialPort?port={r.params.get('port', '1')}",
        })  # fmt: skip

    # -- networks, subnetworks, firewalls -------------------------------------------------------

    @fake.routed("compute.networks.list", "/global/networks", "GET")
    def list_networks(r: JsonRequest) -> JsonReply:
        return fake.listing(r, "compute#networkList", list(fake.networks.values()),
                            f"{project_link}/global/networks")  # fmt: skip

    @fake.routed("compute.networks.insert", "/global/networks", "POST")
    def insert_network(r: JsonRequest) -> JsonReply:
        name = r.body["name"]
        if name in fake.networks:
            return exists(f"global/networks/{name}")
        network = fake._network_resource(
            name, r.body.get("description", ""), bool(r.body.get("autoCreateSubnetworks", True))
        )
        fake.networks[name] = network
        return fake.started("compute.networks.insert", network, ("global", ""))

    @fake.routed("compute.networks.delete", "/global/networks/{name}", "DELETE")
    def delete_network(_r: JsonRequest, name: str) -> JsonReply:
        network = fake.networks.get(name)
        if network is None:
            return missing("network", f"global/networks/{name}")
        users = [s["selfLink"] for s in fake.subnetworks.values()
                 if s["network"] == network["selfLink"]]  # fmt: skip
        users += [f["selfLink"] for f in fake.firewalls.values()
                  if f["network"] == network["selfLink"]]  # fmt: skip
        if users:
            return in_use(f"global/networks/{name}", users[0].removeprefix(f"{LINK}/"))
        del fake.networks[name]
        return fake.started("compute.networks.delete", network, ("global", ""))

    @fake.routed("compute.subnetworks.list", "/regions/{region}/subnetworks", "GET")
    def list_subnetworks(r: JsonRequest, region: str) -> JsonReply:
        found = [_public(s) for (g, _), s in fake.subnetworks.items() if g == region]
        return fake.listing(r, "compute#subnetworkList", found,
                            f"{project_link}/regions/{region}/subnetworks")  # fmt: skip

    @fake.routed("compute.subnetworks.insert", "/regions/{region}/subnetworks", "POST")
    def insert_subnetwork(r: JsonRequest, region: str) -> JsonReply:
        body = r.body
        name = body["name"]
        if region not in REGIONS:
            return missing("region", f"regions/{region}")
        if (region, name) in fake.subnetworks:
            return exists(f"regions/{region}/subnetworks/{name}")
        network = fake.networks.get(str(body.get("network", "")).rsplit("/", 1)[-1])
        if network is None:
            return missing("network", str(body.get("network")))
        try:
            cidr = ipaddress.ip_network(str(body.get("ipCidrRange")))
        except ValueError:
            return fake.error(400, "invalid", "Invalid value for field 'resource.ipCidrRange': "
                              f"'{body.get('ipCidrRange')}'. Invalid IPCidrRange.")  # fmt: skip
        subnetwork = fake._subnetwork_resource(name, region, str(cidr), network["selfLink"])
        subnetwork["description"] = body.get("description", "")
        fake.subnetworks[(region, name)] = subnetwork
        return fake.started("compute.subnetworks.insert", subnetwork, ("regions", region))

    @fake.routed("compute.subnetworks.delete", "/regions/{region}/subnetworks/{name}", "DELETE")
    def delete_subnetwork(_r: JsonRequest, region: str, name: str) -> JsonReply:
        subnetwork = fake.subnetworks.get((region, name))
        if subnetwork is None:
            return missing("subnetwork", f"regions/{region}/subnetworks/{name}")
        users = [i["selfLink"] for i in fake.instances.values()
                 if any(n["subnetwork"] == subnetwork["selfLink"]
                        for n in i["networkInterfaces"])]  # fmt: skip
        if users:
            return in_use(f"regions/{region}/subnetworks/{name}", users[0].removeprefix(f"{LINK}/"))
        del fake.subnetworks[(region, name)]
        network = fake.networks.get(subnetwork["network"].rsplit("/", 1)[-1])
        if network is not None:
            network["subnetworks"].remove(subnetwork["selfLink"])
        return fake.started("compute.subnetworks.delete", subnetwork, ("regions", region))

    @fake.routed("compute.firewalls.list", "/global/firewalls", "GET")
    def list_firewalls(r: JsonRequest) -> JsonReply:
        return fake.listing(r, "compute#firewallList", list(fake.firewalls.values()),
                            f"{project_link}/global/firewalls")  # fmt: skip

    @fake.routed("compute.firewalls.insert", "/global/firewalls", "POST")
    def insert_firewall(r: JsonRequest) -> JsonReply:
        body = r.body
        name = body["name"]
        if name in fake.firewalls:
            return exists(f"global/firewalls/{name}")
        network = fake.networks.get(str(body.get("network", "default")).rsplit("/", 1)[-1])
        if network is None:
            return missing("network", str(body.get("network")))
        firewall = {
            "kind": "compute#firewall", "id": fake.next_id(), "creationTimestamp": utc_now(),
            "name": name, "description": body.get("description", ""),
            "network": network["selfLink"], "priority": body.get("priority", 1000),
            "sourceRanges": body.get("sourceRanges") or ["0.0.0.0/0"],
            "targetTags": body.get("targetTags") or [], "allowed": body.get("allowed") or [],
            "direction": body.get("direction", "INGRESS"), "disabled": False,
            "logConfig": {"enable": False},
            "selfLink": f"{project_link}/global/firewalls/{name}",
        }  # fmt: skip
        fake.firewalls[name] = firewall
        return fake.started("compute.firewalls.insert", firewall, ("global", ""))

    @fake.routed("compute.firewalls.patch", "/global/firewalls/{name}", "PATCH")
    def patch_firewall(r: JsonRequest, name: str) -> JsonReply:
        # compute.v1.json, firewalls.patch: "Updates the specified firewall rule with the data
        # included in the request" (merge semantics: the fields sent replace theirs).
        firewall = fake.firewalls.get(name)
        if firewall is None:
            return missing("firewall", f"global/firewalls/{name}")
        changeable = ("description", "sourceRanges", "allowed", "priority", "targetTags")
        firewall.update({k: v for k, v in (r.body or {}).items() if k in changeable})
        return fake.started("compute.firewalls.patch", firewall, ("global", ""))

    @fake.routed("compute.firewalls.delete", "/global/firewalls/{name}", "DELETE")
    def delete_firewall(_r: JsonRequest, name: str) -> JsonReply:
        firewall = fake.firewalls.pop(name, None)
        if firewall is None:
            return missing("firewall", f"global/firewalls/{name}")
        return fake.started("compute.firewalls.delete", firewall, ("global", ""))


def _zone(project_link: str, zone: str) -> dict[str, Any]:
    return {
        "kind": "compute#zone",
        "id": str(2000 + sorted(ZONES).index(zone)),
        "creationTimestamp": "1969-12-31T16:00:00.000-08:00",
        "name": zone,
        "description": zone,
        "status": "UP",
        "region": f"{project_link}/regions/{ZONES[zone]}",
        "selfLink": f"{project_link}/zones/{zone}",
        "availableCpuPlatforms": ["Intel Broadwell", "AMD Milan"],
        "supportsPzs": False,
    }


def _machine_type(project_link: str, zone: str, name: str) -> dict[str, Any]:
    cpus, memory, shared, architecture = MACHINE_TYPES[name]
    found: dict[str, Any] = {
        "kind": "compute#machineType",
        "id": str(int.from_bytes(name.encode()[:6], "big")),
        "creationTimestamp": "1969-12-31T16:00:00.000-08:00",
        "name": name,
        "description": f"{cpus} vCPU{'s' if cpus > 1 else ''}, {memory / 1024:g} GB RAM",
        "guestCpus": cpus,
        "memoryMb": memory,
        "imageSpaceGb": 0,
        "maximumPersistentDisks": 128,
        "maximumPersistentDisksSizeGb": "263168",
        "zone": zone,
        "selfLink": f"{project_link}/zones/{zone}/machineTypes/{name}",
        "isSharedCpu": shared,
    }
    if architecture != "X86_64":
        found["architecture"] = architecture
    return found


def _console(instance: dict[str, Any]) -> str:
    """What cloud-init prints on the serial console: the ed25519 host key it installed from the
    cloud-config's ``ssh_keys`` (cloud-init's cc_keys_to_console), nothing if there is none."""
    from ruamel.yaml import YAML

    items = {i["key"]: i["value"] for i in instance["metadata"]["items"]}
    document = items.get("user-data", "")
    config = YAML(typ="safe").load(document) if document.startswith("#cloud-config") else None
    key = ((config or {}).get("ssh_keys") or {}).get("ed25519_public", "")
    lines = [f"[    0.000000] Linux version 6.8.0 ({instance['name']})"]
    if key:
        lines += [
            "-----BEGIN SSH HOST KEY KEYS-----",
            key.strip(),
            "-----END SSH HOST KEY KEYS-----",
        ]
    lines.append(f"Cloud-init finished at {utc_now()}")
    return "\r\n".join(lines) + "\r\n"
