"""Names, paths and request bodies of the ARM resources a cluster consists of.

One resource group per cluster (``sloth-<cluster>``) holds everything: the virtual network
``sloth-<cluster>`` with subnet ``nodes``, the network security group ``sloth-<cluster>``, and per
node a Standard static public IP ``<node>-ip``, a NIC ``<node>-nic`` (on the subnet, with the NSG)
and the VM ``<node>`` whose OS disk is ``<node>-osdisk``. Names are the identity in ARM: a PUT
to an existing name updates that resource, it never makes a second one.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from sloth_kubernetes.plugin import FirewallRule, ProviderError

SUBNET = "nodes"
#: NSG rule priorities: ours start here, 10 apart (Azure allows 100-4096, lower wins).
FIRST_PRIORITY = 100
_PROTOCOLS = {"tcp": "Tcp", "udp": "Udp", "icmp": "Icmp"}


def group_name(cluster: str) -> str:
    return f"sloth-{cluster}"


def group_path(subscription: str, cluster: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{group_name(cluster)}"


def in_group(subscription: str, cluster: str, kind: str, name: str = "") -> str:
    """``…/resourceGroups/sloth-<cluster>/providers/<kind>[/<name>]``."""
    path = f"{group_path(subscription, cluster)}/providers/{kind}"
    return f"{path}/{name}" if name else path


def node_resources(vm_id: str) -> dict[str, str]:
    """The paths of a VM's NIC, public IP and OS disk, from the VM's id (same group)."""
    base, _, name = vm_id.rpartition("/providers/Microsoft.Compute/virtualMachines/")
    return {
        "nic": f"{base}/providers/Microsoft.Network/networkInterfaces/{name}-nic",
        "ip": f"{base}/providers/Microsoft.Network/publicIPAddresses/{name}-ip",
        "disk": f"{base}/providers/Microsoft.Compute/disks/{name}-osdisk",
    }


def image_reference(image: str) -> dict[str, str]:
    """``publisher:offer:sku:version`` (a marketplace URN) or an image resource id."""
    if image.startswith("/subscriptions/"):
        return {"id": image}
    parts = image.split(":")
    if len(parts) != 4 or not all(parts):
        raise ProviderError(
            f"azure: image {image!r} is neither publisher:offer:sku:version nor an image id",
            provider="azure",
            hint="use an alias (ubuntu-24.04, ubuntu-22.04, debian-12), a marketplace URN such "
            "as Canonical:ubuntu-24_04-lts:server:latest, or /subscriptions/…/images/…",
        )
    publisher, offer, sku, version = parts
    return {"publisher": publisher, "offer": offer, "sku": sku, "version": version}


def network_body(location: str, cidr: str, tags: dict[str, str]) -> dict[str, Any]:
    return {
        "location": location,
        "tags": tags,
        "properties": {
            "addressSpace": {"addressPrefixes": [cidr]},
            "subnets": [{"name": SUBNET, "properties": {"addressPrefix": cidr}}],
        },
    }


def security_rules(rules: Sequence[FirewallRule]) -> list[dict[str, Any]]:
    """The cluster's inbound rules as NSG security rules (priorities 100, 110, …)."""
    converted = []
    for index, rule in enumerate(rules):
        sources = list(rule.sources)
        properties: dict[str, Any] = {
            "protocol": _PROTOCOLS[rule.protocol],
            "sourcePortRange": "*",
            "destinationPortRange": "*" if rule.protocol == "icmp" else rule.ports,
            "destinationAddressPrefix": "*",
            "access": "Allow",
            "priority": FIRST_PRIORITY + 10 * index,
            "direction": "Inbound",
            "description": rule.description[:140],
        }
        if len(sources) == 1:
            properties["sourceAddressPrefix"] = sources[0]
        else:
            properties["sourceAddressPrefixes"] = sources
        converted.append({"name": f"sloth-{index:02d}", "properties": properties})
    return converted


def rule_from(security_rule: dict[str, Any]) -> FirewallRule | None:
    """An NSG inbound allow rule back as a :class:`FirewallRule` (None: not one of ours)."""
    properties = security_rule.get("properties") or {}
    protocol = str(properties.get("protocol", "")).lower()
    if properties.get("direction") != "Inbound" or properties.get("access") != "Allow":
        return None
    if protocol not in _PROTOCOLS:
        return None
    sources = properties.get("sourceAddressPrefixes") or [properties.get("sourceAddressPrefix")]
    ports = str(properties.get("destinationPortRange") or "*")
    return FirewallRule(
        protocol,  # type: ignore[arg-type]
        "0" if protocol == "icmp" or ports == "*" else ports,
        tuple("0.0.0.0/0" if s in ("*", "Internet") else str(s) for s in sources if s),
        str(properties.get("description", "")),
    )


def public_ip_body(location: str, tags: dict[str, str]) -> dict[str, Any]:
    return {
        "location": location,
        "tags": tags,
        "sku": {"name": "Standard", "tier": "Regional"},
        "properties": {
            "publicIPAllocationMethod": "Static",
            "publicIPAddressVersion": "IPv4",
            "deleteOption": "Delete",
        },
    }


def nic_body(
    location: str, tags: dict[str, str], subnet_id: str, ip_id: str, nsg_id: str
) -> dict[str, Any]:
    return {
        "location": location,
        "tags": tags,
        "properties": {
            "ipConfigurations": [
                {
                    "name": "primary",
                    "properties": {
                        "subnet": {"id": subnet_id},
                        "privateIPAllocationMethod": "Dynamic",
                        "publicIPAddress": {"id": ip_id},
                    },
                }
            ],
            "networkSecurityGroup": {"id": nsg_id},
        },
    }


def vm_body(
    *,
    name: str,
    location: str,
    tags: dict[str, str],
    size: str,
    image: str,
    nic_id: str,
    admin: str,
    operator_key: str,
    user_data: str,
    disk_type: str,
) -> dict[str, Any]:
    """A Linux VM: key-only SSH for ``admin`` (Azure needs a key or a password; never a
    password), cloud-init user data as ``customData``, OS disk and NIC deleted with the VM."""
    return {
        "location": location,
        "tags": tags,
        "properties": {
            "hardwareProfile": {"vmSize": size},
            "storageProfile": {
                "imageReference": image_reference(image),
                "osDisk": {
                    "name": f"{name}-osdisk",
                    "createOption": "FromImage",
                    "caching": "ReadWrite",
                    "managedDisk": {"storageAccountType": disk_type},
                    "deleteOption": "Delete",
                },
            },
            "osProfile": {
                "computerName": name,
                "adminUsername": admin,
                "customData": base64.b64encode(user_data.encode()).decode(),
                "linuxConfiguration": {
                    "disablePasswordAuthentication": True,
                    "ssh": {
                        "publicKeys": [
                            {
                                "path": f"/home/{admin}/.ssh/authorized_keys",
                                "keyData": operator_key.strip(),
                            }
                        ]
                    },
                },
            },
            "networkProfile": {
                "networkInterfaces": [
                    {"id": nic_id, "properties": {"primary": True, "deleteOption": "Delete"}}
                ]
            },
        },
    }
