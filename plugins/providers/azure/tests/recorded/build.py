"""Writes the recorded Azure exchanges (run: ``python build.py``; the JSON files are committed).

Every response body follows a documented ARM shape — the azure-rest-api-specs examples and
libcloud's recorded Azure fixtures named in README.md — with names, ids and addresses filled in
for one cluster. Nothing here imports the plugin: the replies do not echo what our code sends.
Scenarios: ``lifecycle`` (3 nodes from nothing, re-run, destroy), ``throttled`` (429 with
Retry-After, 503s), ``never-running`` (a VM stuck in Creating), ``bad-credentials`` (Entra ID
refuses the secret), ``catalog`` (vmSizes of a location).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
SUB = "00000000-0000-0000-0000-000000000000"
TENANT = "72f988bf-0000-0000-0000-000000000000"
REGION = "westeurope"
COMPUTE, NETWORK, RESOURCES, DISKS = "2024-07-01", "2024-05-01", "2021-04-01", "2024-03-02"
OPERATOR_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMvrWSe0b0pYbLMwS2NBc6B7GOXVmHcpq5iT9MVWmW4h sloth-test"
)


class Scenario:
    def __init__(self, name: str, cluster: str) -> None:
        self.folder = HERE / name
        self.cluster = cluster
        self.group = f"/subscriptions/{SUB}/resourceGroups/sloth-{cluster}"
        self.count = 0
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir()

    def add(
        self,
        what: str,
        method: str,
        path: str,
        status: int,
        body: Any = None,
        *,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.count += 1
        request: dict[str, Any] = {"method": method, "path": path}
        if query:
            request["query"] = query
        response: dict[str, Any] = {"status": status}
        if headers:
            response["headers"] = headers
        if body is not None:
            response["body"] = body
        file = self.folder / f"{self.count:03d}-{what}.json"
        file.write_text(json.dumps({"request": request, "response": response}, indent=2) + "\n")

    # -- pieces ---------------------------------------------------------------------------------

    def token(self) -> None:
        # v1 token endpoint reply, as libcloud's fixture azure_arm/<tenant>/oauth2/token
        self.add("token", "POST", f"/{TENANT}/oauth2/token", 200, {
            "token_type": "Bearer", "expires_in": "3599", "ext_expires_in": "3599",
            "expires_on": "4102444800", "not_before": "4102441200",
            "resource": "https://management.core.windows.net/",
            "access_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.recorded.signature",
        })  # fmt: skip

    def tags(self, node: str | None = None) -> dict[str, str]:
        found = {"sloth-cluster": self.cluster}
        if node:
            found["sloth-node"] = node
        return found

    def path(self, kind: str, name: str = "") -> str:
        return f"{self.group}/providers/{kind}" + (f"/{name}" if name else "")

    def operation(self, what: str, rp: str, op_id: str, statuses: list[str]) -> dict[str, str]:
        """An Azure-AsyncOperation link and its status replies (InProgress…, then the end)."""
        api = COMPUTE if rp == "Microsoft.Compute" else NETWORK
        path = f"/subscriptions/{SUB}/providers/{rp}/locations/{REGION}/operations/{op_id}"
        for status in statuses:
            body: dict[str, Any] = {"name": op_id, "status": status,
                                    "startTime": "2025-01-20T10:00:00.0000000+00:00"}  # fmt: skip
            if status != "InProgress":
                body["endTime"] = "2025-01-20T10:00:20.0000000+00:00"
            self.add(f"operation-{what}", "GET", path, 200, body, query={"api-version": api})
        return {"Azure-AsyncOperation": "{{endpoint}}" + path + f"?api-version={api}"}

    def group_body(self) -> dict[str, Any]:
        # Resource groups - Create Or Update (CreateResourceGroup.json)
        return {"id": self.group, "name": f"sloth-{self.cluster}", "type":
                "Microsoft.Resources/resourceGroups", "location": REGION, "tags": self.tags(),
                "properties": {"provisioningState": "Succeeded"}}  # fmt: skip

    def vnet(self, state: str = "Succeeded") -> dict[str, Any]:
        # Virtual Networks - Create Or Update (VirtualNetworkCreateSubnet.json)
        name = f"sloth-{self.cluster}"
        vid = self.path("Microsoft.Network/virtualNetworks", name)
        return {
            "name": name, "id": vid, "type": "Microsoft.Network/virtualNetworks",
            "location": REGION, "tags": self.tags(),
            "etag": 'W/"00000000-0000-0000-0000-00000000000a"',
            "properties": {
                "provisioningState": state,
                "resourceGuid": "0b3a8f8e-0000-4000-8000-00000000000a",
                "addressSpace": {"addressPrefixes": ["10.240.0.0/16"]},
                "subnets": [{
                    "name": "nodes", "id": f"{vid}/subnets/nodes",
                    "properties": {"provisioningState": state,
                                   "addressPrefix": "10.240.0.0/16"},
                }],
                "virtualNetworkPeerings": [], "enableDdosProtection": False,
            },
        }  # fmt: skip

    def nsg(self, state: str = "Succeeded") -> dict[str, Any]:
        # Network Security Groups - Create Or Update (NetworkSecurityGroupCreateWithRule.json);
        # the rules are the cluster's documented inbound rules (docs/providers/README.md)
        name = f"sloth-{self.cluster}"
        gid = self.path("Microsoft.Network/networkSecurityGroups", name)
        wanted = [
            ("Tcp", "22", ["198.51.100.0/24"], "SSH from the operators"),
            ("Tcp", "6443", ["198.51.100.0/24"], "Kubernetes API"),
            ("Udp", "51820", ["0.0.0.0/0"], "WireGuard mesh"),
            ("Tcp", "1-65535", ["10.240.0.0/16"], "between nodes (TCP)"),
            ("Udp", "1-65535", ["10.240.0.0/16"], "between nodes (UDP)"),
            ("Icmp", "*", ["10.240.0.0/16"], "between nodes (ICMP)"),
        ]
        rules = []
        for index, (protocol, ports, sources, description) in enumerate(wanted):
            rules.append({
                "name": f"sloth-{index:02d}", "id": f"{gid}/securityRules/sloth-{index:02d}",
                "properties": {
                    "provisioningState": state, "protocol": protocol, "sourcePortRange": "*",
                    "destinationPortRange": ports, "sourceAddressPrefix": sources[0],
                    "destinationAddressPrefix": "*", "access": "Allow",
                    "priority": 100 + 10 * index, "direction": "Inbound",
                    "description": description,
                },
            })  # fmt: skip
        defaults = [
            ("AllowVnetInBound", "VirtualNetwork", "Allow", 65000, "Inbound"),
            ("AllowAzureLoadBalancerInBound", "AzureLoadBalancer", "Allow", 65001, "Inbound"),
            ("DenyAllInBound", "*", "Deny", 65500, "Inbound"),
            ("AllowVnetOutBound", "VirtualNetwork", "Allow", 65000, "Outbound"),
            ("AllowInternetOutBound", "*", "Allow", 65001, "Outbound"),
            ("DenyAllOutBound", "*", "Deny", 65500, "Outbound"),
        ]
        return {
            "name": name, "id": gid, "type": "Microsoft.Network/networkSecurityGroups",
            "location": REGION, "tags": self.tags(),
            "properties": {
                "provisioningState": state, "securityRules": rules,
                "defaultSecurityRules": [
                    {"name": n, "id": f"{gid}/defaultSecurityRules/{n}", "properties": {
                        "provisioningState": "Succeeded", "protocol": "*",
                        "sourcePortRange": "*", "destinationPortRange": "*",
                        "sourceAddressPrefix": source, "destinationAddressPrefix": "*",
                        "access": access, "priority": priority, "direction": direction}}
                    for n, source, access, priority, direction in defaults
                ],
            },
        }  # fmt: skip

    def public_ip(self, node: str, address: str, state: str = "Succeeded") -> dict[str, Any]:
        # Public IP Addresses - Create Or Update (PublicIpAddressCreateCustomizedValues.json)
        return {
            "name": f"{node}-ip", "id": self.path("Microsoft.Network/publicIPAddresses",
                                                   f"{node}-ip"),
            "type": "Microsoft.Network/publicIPAddresses", "location": REGION,
            "tags": self.tags(node), "sku": {"name": "Standard", "tier": "Regional"},
            "properties": {
                "provisioningState": state, "ipAddress": address,
                "publicIPAddressVersion": "IPv4", "publicIPAllocationMethod": "Static",
                "idleTimeoutInMinutes": 4, "deleteOption": "Delete",
                "ipConfiguration": {"id": self.path("Microsoft.Network/networkInterfaces",
                                                    f"{node}-nic") + "/ipConfigurations/primary"},
                "ddosSettings": {"protectionMode": "VirtualNetworkInherited"},
            },
        }  # fmt: skip

    def nic(self, node: str, private: str) -> dict[str, Any]:
        # Network Interfaces - Create Or Update (NetworkInterfaceCreate.json)
        nid = self.path("Microsoft.Network/networkInterfaces", f"{node}-nic")
        vnet = self.path("Microsoft.Network/virtualNetworks", f"sloth-{self.cluster}")
        return {
            "name": f"{node}-nic", "id": nid, "type": "Microsoft.Network/networkInterfaces",
            "location": REGION, "tags": self.tags(node),
            "properties": {
                "provisioningState": "Succeeded",
                "ipConfigurations": [{
                    "name": "primary", "id": f"{nid}/ipConfigurations/primary",
                    "properties": {
                        "provisioningState": "Succeeded", "privateIPAddress": private,
                        "privateIPAllocationMethod": "Dynamic",
                        "publicIPAddress": {"id": self.path(
                            "Microsoft.Network/publicIPAddresses", f"{node}-ip")},
                        "subnet": {"id": f"{vnet}/subnets/nodes"},
                        "primary": True, "privateIPAddressVersion": "IPv4",
                    },
                }],
                "networkSecurityGroup": {"id": self.path(
                    "Microsoft.Network/networkSecurityGroups", f"sloth-{self.cluster}")},
                "dnsSettings": {"dnsServers": [], "appliedDnsServers": []},
                "enableAcceleratedNetworking": False, "enableIPForwarding": False,
                "vnetEncryptionSupported": False,
            },
        }  # fmt: skip

    def vm(self, node: str, state: str, image: dict[str, str] | None = None) -> dict[str, Any]:
        # Virtual Machines - Create Or Update (VirtualMachine_Create_WithSshAuthentication.json);
        # customData is never returned by ARM
        image = image or {"publisher": "Canonical", "offer": "ubuntu-24_04-lts",
                          "sku": "server", "version": "latest"}  # fmt: skip
        return {
            "id": self.path("Microsoft.Compute/virtualMachines", node), "name": node,
            "type": "Microsoft.Compute/virtualMachines", "location": REGION,
            "tags": self.tags(node),
            "properties": {
                "vmId": f"5c1f0a3e-0000-4000-8000-{sum(map(ord, node)) * 7919:012d}",
                "hardwareProfile": {"vmSize": "Standard_B2s"},
                "storageProfile": {
                    "imageReference": image,
                    "osDisk": {"osType": "Linux", "name": f"{node}-osdisk",
                               "createOption": "FromImage", "caching": "ReadWrite",
                               "managedDisk": {"storageAccountType": "StandardSSD_LRS"},
                               "deleteOption": "Delete", "diskSizeGB": 30},
                    "dataDisks": [],
                },
                "osProfile": {
                    "computerName": node, "adminUsername": "sloth", "secrets": [],
                    "linuxConfiguration": {
                        "disablePasswordAuthentication": True,
                        "ssh": {"publicKeys": [{"path": "/home/sloth/.ssh/authorized_keys",
                                                "keyData": OPERATOR_KEY}]},
                        "provisionVMAgent": True,
                    },
                    "allowExtensionOperations": True,
                },
                "networkProfile": {"networkInterfaces": [{
                    "id": self.path("Microsoft.Network/networkInterfaces", f"{node}-nic"),
                    "properties": {"primary": True, "deleteOption": "Delete"}}]},
                "provisioningState": state,
                "timeCreated": "2025-01-20T10:00:00.0000000+00:00",
            },
        }  # fmt: skip

    def lists(self, kind: str, items: list[dict[str, Any]], api: str, what: str) -> None:
        self.add(what, "GET", self.path(kind), 200, {"value": items}, query={"api-version": api})

    def missing_group(self, kind: str, api: str, what: str) -> None:
        self.add(what, "GET", self.path(kind), 404, {"error": {
            "code": "ResourceGroupNotFound",
            "message": f"Resource group 'sloth-{self.cluster}' could not be found."}},
            query={"api-version": api})  # fmt: skip

    def create_node(self, node: str, n: int, image: dict[str, str] | None = None,
                    vm_status: int = 201) -> None:  # fmt: skip
        ip_headers = self.operation(f"ip-{n}", "Microsoft.Network", f"op-ip-{n}", ["Succeeded"])
        self.add(f"put-ip-{n}", "PUT", self.path("Microsoft.Network/publicIPAddresses",
                 f"{node}-ip"), 201, self.public_ip(node, f"20.0.0.{10 + n}", "Updating"),
                 query={"api-version": NETWORK}, headers=ip_headers)  # fmt: skip
        nic_headers = self.operation(f"nic-{n}", "Microsoft.Network", f"op-nic-{n}", ["Succeeded"])
        self.add(f"put-nic-{n}", "PUT", self.path("Microsoft.Network/networkInterfaces",
                 f"{node}-nic"), 201, self.nic(node, f"10.240.0.{3 + n}"),
                 query={"api-version": NETWORK}, headers=nic_headers)  # fmt: skip
        vm_path = f"/subscriptions/{SUB}/providers/Microsoft.Compute/locations/{REGION}/operations"
        if vm_status == 201:
            self.add(
                f"put-vm-{n}",
                "PUT",
                self.path("Microsoft.Compute/virtualMachines", node),
                201,
                self.vm(node, "Creating", image),
                query={"api-version": COMPUTE},
                headers={
                    "Azure-AsyncOperation": "{{endpoint}}"
                    + f"{vm_path}/op-vm-{n}?api-version={COMPUTE}"
                },
            )

    def delete_node(self, node: str, n: int) -> None:
        vm_headers = self.operation(f"delete-vm-{n}", "Microsoft.Compute", f"op-del-vm-{n}",
                                    ["InProgress", "Succeeded"])  # fmt: skip
        self.add(f"delete-vm-{n}", "DELETE", self.path("Microsoft.Compute/virtualMachines",
                 node), 202, query={"api-version": COMPUTE}, headers=vm_headers)  # fmt: skip
        # NIC and OS disk went with the VM (deleteOption: Delete): ARM answers 204 for a
        # resource that does not exist
        self.add(f"delete-nic-{n}", "DELETE", self.path("Microsoft.Network/networkInterfaces",
                 f"{node}-nic"), 204, query={"api-version": NETWORK})  # fmt: skip
        ip_headers = self.operation(f"delete-ip-{n}", "Microsoft.Network", f"op-del-ip-{n}",
                                    ["Succeeded"])  # fmt: skip
        self.add(
            f"delete-ip-{n}",
            "DELETE",
            self.path("Microsoft.Network/publicIPAddresses", f"{node}-ip"),
            202,
            query={"api-version": NETWORK},
            headers=ip_headers,
        )
        self.add(f"delete-disk-{n}", "DELETE", self.path("Microsoft.Compute/disks",
                 f"{node}-osdisk"), 204, query={"api-version": DISKS})  # fmt: skip

    def machine_lists(self, nodes: list[str], what: str, states: list[str]) -> None:
        vms = [self.vm(node, state) for node, state in zip(nodes, states, strict=True)]
        self.lists("Microsoft.Compute/virtualMachines", vms, COMPUTE, what)

    def nic_and_ip_lists(self, nodes: list[str]) -> None:
        self.lists("Microsoft.Network/networkInterfaces",
                   [self.nic(n, f"10.240.0.{3 + i}") for i, n in enumerate(nodes)], NETWORK,
                   "list-nics")  # fmt: skip
        self.lists("Microsoft.Network/publicIPAddresses",
                   [self.public_ip(n, f"20.0.0.{10 + i}") for i, n in enumerate(nodes)],
                   NETWORK, "list-ips")  # fmt: skip

    def tag_listing(self, items: list[dict[str, Any]], groups: list[dict[str, Any]]) -> None:
        # Resources - List / Resource Groups - List with $filter on a tag (GetResources docs)
        where = f"tagName eq 'sloth-cluster' and tagValue eq '{self.cluster}'"
        query = {"api-version": RESOURCES, "$filter": where}
        self.add("tagged-resources", "GET", f"/subscriptions/{SUB}/resources", 200,
                 {"value": items}, query=query)  # fmt: skip
        self.add("tagged-groups", "GET", f"/subscriptions/{SUB}/resourcegroups", 200,
                 {"value": groups}, query=query)  # fmt: skip


def generic(item: dict[str, Any]) -> dict[str, Any]:
    """A resource as the generic Resources - List shows it (id, name, type, location, tags)."""
    return {k: item[k] for k in ("id", "name", "type", "location", "tags")}


def lifecycle() -> None:
    s = Scenario("lifecycle", "azdemo")
    nodes = ["azdemo-server-1", "azdemo-agent-1", "azdemo-agent-2"]
    s.token()
    # shared resources: nothing exists, then the group, the vnet (one InProgress poll), the NSG
    s.missing_group("Microsoft.Network/virtualNetworks", NETWORK, "list-vnets-none")
    s.lists("Microsoft.Network/virtualNetworks", [s.vnet()], NETWORK, "list-vnets")
    s.add("put-group", "PUT", s.group, 201, s.group_body(), query={"api-version": RESOURCES})
    vnet_headers = s.operation("vnet", "Microsoft.Network", "op-vnet", ["InProgress", "Succeeded"])
    s.add("put-vnet", "PUT", s.path("Microsoft.Network/virtualNetworks", "sloth-azdemo"), 201,
          s.vnet("Updating"), query={"api-version": NETWORK}, headers=vnet_headers)  # fmt: skip
    s.lists("Microsoft.Network/networkSecurityGroups", [], NETWORK, "list-nsgs-none")
    s.lists("Microsoft.Network/networkSecurityGroups", [s.nsg()], NETWORK, "list-nsgs")
    nsg_headers = s.operation("nsg", "Microsoft.Network", "op-nsg", ["Succeeded"])
    nsg_path = s.path("Microsoft.Network/networkSecurityGroups", "sloth-azdemo")
    s.add("put-nsg", "PUT", nsg_path, 201, s.nsg("Updating"), query={"api-version": NETWORK},
          headers=nsg_headers)  # fmt: skip
    s.add("get-nsg", "GET", nsg_path, 200, s.nsg(), query={"api-version": NETWORK})
    # machines: none; created; Creating, then one still Creating, then all Succeeded
    s.machine_lists([], "list-vms-none", [])
    for n, node in enumerate(nodes):
        s.create_node(node, n)
    s.machine_lists(nodes, "list-vms-creating", ["Creating", "Succeeded", "Creating"])
    for what in ("list-vms-running", "list-vms-listed", "list-vms-rerun", "list-vms-destroy"):
        s.machine_lists(nodes, what, ["Succeeded"] * 3)
    s.nic_and_ip_lists(nodes)
    # before destroy everything carries the tags; after it nothing does
    items = [s.vm(n, "Succeeded") for n in nodes] + [s.nic(n, "") for n in nodes]
    items += [s.public_ip(n, "") for n in nodes] + [s.vnet(), s.nsg()]
    s.tag_listing([generic(i) for i in items], [generic(s.group_body())])
    for n, node in enumerate(nodes):
        s.delete_node(node, n)
    s.machine_lists([], "list-vms-gone", [])
    headers = s.operation("delete-nsg", "Microsoft.Network", "op-del-nsg", ["Succeeded"])
    s.add("delete-nsg", "DELETE", nsg_path, 202, query={"api-version": NETWORK}, headers=headers)
    headers = s.operation("delete-vnet", "Microsoft.Network", "op-del-vnet", ["Succeeded"])
    s.add("delete-vnet", "DELETE", s.path("Microsoft.Network/virtualNetworks", "sloth-azdemo"),
          202, query={"api-version": NETWORK}, headers=headers)  # fmt: skip
    s.add("get-group", "GET", s.group, 200, s.group_body(), query={"api-version": RESOURCES})
    # Resource Groups - Delete: 202 + Location, polled until 200
    result = f"/subscriptions/{SUB}/operationresults/eyJqb2JJZCI6IlJFU09VUkNFR1JPVVBERUxFVElPTkpPQi1TTE9USC1BWkRFTU8ifQ"  # noqa: E501
    s.add("delete-group", "DELETE", s.group, 202, query={"api-version": RESOURCES},
          headers={"Location": "{{endpoint}}" + result + f"?api-version={RESOURCES}",
                   "Retry-After": "15"})  # fmt: skip
    s.add("group-deleting", "GET", result, 202, query={"api-version": RESOURCES})
    s.add("group-deleted", "GET", result, 200, query={"api-version": RESOURCES})
    s.tag_listing([], [])


def throttled() -> None:
    s = Scenario("throttled", "azthrottle")
    node = "azthrottle-server-1"
    debian = {"publisher": "Debian", "offer": "debian-12", "sku": "12-gen2", "version": "latest"}
    s.token()
    s.lists("Microsoft.Network/virtualNetworks", [s.vnet()], NETWORK, "list-vnets")
    s.lists("Microsoft.Network/networkSecurityGroups", [s.nsg()], NETWORK, "list-nsgs")
    # ARM throttling: 429 + Retry-After (seconds), then the same request succeeds
    s.add(
        "list-vms-throttled",
        "GET",
        s.path("Microsoft.Compute/virtualMachines"),
        429,
        {"error": {"code": "TooManyRequests", "message": "The request is being throttled."}},
        query={"api-version": COMPUTE},
        headers={"Retry-After": "1", "x-ms-ratelimit-remaining-subscription-reads": "0"},
    )
    s.machine_lists([], "list-vms-none", [])
    s.create_node(node, 0, debian, vm_status=503)
    # the VM PUT fails with 503 although ARM accepted it: the VM is there on the next listing
    s.add("put-vm-503", "PUT", s.path("Microsoft.Compute/virtualMachines", node), 503,
          {"error": {"code": "ServiceUnavailable", "message": "The service is unavailable."}},
          query={"api-version": COMPUTE})  # fmt: skip
    s.lists("Microsoft.Compute/virtualMachines", [s.vm(node, "Creating", debian)], COMPUTE,
            "list-vms-creating")  # fmt: skip
    s.lists("Microsoft.Compute/virtualMachines", [s.vm(node, "Succeeded", debian)], COMPUTE,
            "list-vms-running")  # fmt: skip
    s.add("list-nics-503", "GET", s.path("Microsoft.Network/networkInterfaces"), 503,
          {"error": {"code": "ServerTimeout", "message": "The server did not answer in time."}},
          query={"api-version": NETWORK})  # fmt: skip
    s.nic_and_ip_lists([node])


def never_running() -> None:
    s = Scenario("never-running", "azstuck")
    node = "azstuck-server-1"
    s.token()
    s.lists("Microsoft.Network/virtualNetworks", [s.vnet()], NETWORK, "list-vnets")
    s.lists("Microsoft.Network/networkSecurityGroups", [s.nsg()], NETWORK, "list-nsgs")
    s.machine_lists([], "list-vms-none", [])
    s.create_node(node, 0)
    s.machine_lists([node], "list-vms-creating", ["Creating"])  # and so it stays
    s.nic_and_ip_lists([node])
    s.delete_node(node, 0)


def bad_credentials() -> None:
    s = Scenario("bad-credentials", "azbad")
    # Entra ID v1 token endpoint refusing a wrong client secret (AADSTS7000215)
    s.add("token-refused", "POST", f"/{TENANT}/oauth2/token", 401, {
        "error": "invalid_client",
        "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret "
        "being sent in the request is the client secret value, not the client secret ID, for a "
        "secret added to app '00000000-0000-0000-0000-00000000c11e'.\r\nTrace ID: "
        "6d1f0b5e-0000-0000-0000-000000000000\r\nCorrelation ID: "
        "0e7f0c6a-0000-0000-0000-000000000000\r\nTimestamp: 2025-01-20 10:00:00Z",
        "error_codes": [7000215], "timestamp": "2025-01-20 10:00:00Z",
        "trace_id": "6d1f0b5e-0000-0000-0000-000000000000",
        "correlation_id": "0e7f0c6a-0000-0000-0000-000000000000",
        "error_uri": "https://login.microsoftonline.com/error?code=7000215",
    })  # fmt: skip


def catalog() -> None:
    s = Scenario("catalog", "azcat")
    s.token()
    # Virtual Machine Sizes - List (VirtualMachine_ListAvailableVmSizes.json shape); a
    # westeurope subset
    sizes = [
        ("Standard_B1s", 1, 1024, 4096, 2),
        ("Standard_B1ms", 1, 2048, 4096, 2),
        ("Standard_B2s", 2, 4096, 8192, 4),
        ("Standard_B2ms", 2, 8192, 16384, 4),
        ("Standard_A2_v2", 2, 4096, 20480, 4),
        ("Standard_F2s_v2", 2, 4096, 16384, 4),
        ("Standard_D2s_v5", 2, 8192, 0, 4),
        ("Standard_D4s_v5", 4, 16384, 0, 8),
        ("Standard_B4ms", 4, 16384, 32768, 8),
    ]
    s.add("vm-sizes", "GET",
          f"/subscriptions/{SUB}/providers/Microsoft.Compute/locations/{REGION}/vmSizes", 200,
          {"value": [{"name": n, "numberOfCores": c, "osDiskSizeInMB": 1047552,
                      "resourceDiskSizeInMB": r, "memoryInMB": m, "maxDataDiskCount": d}
                     for n, c, m, r, d in sizes]},
          query={"api-version": COMPUTE})  # fmt: skip


if __name__ == "__main__":
    for build in (lifecycle, throttled, never_running, bad_credentials, catalog):
        build()
