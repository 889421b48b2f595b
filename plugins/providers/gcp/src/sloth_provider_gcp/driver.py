"""The contract over the Compute Engine v1 API, through libcloud's GCE connection.

Instances carry the labels ``sloth-cluster``/``sloth-node`` and are listed across zones with
``aggregated/instances?filter=labels.sloth-cluster = "<cluster>"``. Networks and firewall rules
take no labels: the VPC network and its subnetwork are named ``sloth-<cluster>``, the firewall is
one GCE firewall rule per cluster rule, named ``sloth-<cluster>-<n>`` (listed by a name regex),
targeting the network tag ``sloth-<cluster>`` every instance carries. GCE has no SSH key
resource: the operator key goes into the instance's ``ssh-keys`` metadata (for the guest agent)
and the cloud-config into ``user-data`` (cloud-init on Ubuntu images installs it for root,
with the pinned host key). Every change is an operation, polled until ``DONE``; an operation's
error is the request's error. The endpoint override re-points the OAuth token request and the
Compute requests alike.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any, ClassVar

from sloth_kubernetes.plugin import (
    CLUSTER_TAG,
    CloudDriver,
    Endpoint,
    FirewallRule,
    Image,
    Machine,
    MachineSpec,
    ProviderError,
    Region,
    Resource,
    Size,
    guard_connection,
)

from .account import load_service_account

_STATES = {
    "PROVISIONING": "pending",
    "STAGING": "pending",
    "REPAIRING": "pending",
    "RUNNING": "running",
    "STOPPING": "stopped",
    "SUSPENDING": "stopped",
    "SUSPENDED": "stopped",
    "TERMINATED": "stopped",
}
NAME_LIMIT = 63  # instance names, label keys and values
_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def _unsafe(action: str, _params: Any, method: str, _data: Any) -> bool:
    return method == "POST" and action.rstrip("/").endswith("/instances")


def _last(url: str | None) -> str:
    return (url or "").rstrip("/").rsplit("/", 1)[-1]


class GcpDriver(CloudDriver):
    name = "gcp"
    features = frozenset(
        {
            "ssh",
            "tags",
            "user-data",
            "host-key-at-creation",
            "firewall",
            "private-network",
            "console-output",
            "catalog",
        }
    )
    image_aliases: ClassVar[dict[str, str]] = {
        "ubuntu-24.04": "projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64",
        "ubuntu-22.04": "projects/ubuntu-os-cloud/global/images/family/ubuntu-2204-lts",
        "debian-12": "projects/debian-cloud/global/images/family/debian-12",
    }
    default_region = "europe-west1"
    default_size = "e2-standard-2"
    default_endpoint = "https://compute.googleapis.com"

    def __init__(
        self, settings: Any, credentials: dict[str, Any], region: str, guard: Any = None
    ) -> None:
        super().__init__(settings, credentials, region, guard)
        reference = settings.credentials
        if not settings.project:
            raise ProviderError(
                "gcp: no project: spec.providers.gcp.project is not set",
                provider="gcp",
                hint="set spec.providers.gcp.project to the project id the machines go in",
            )
        self.project: str = settings.project
        # europe-west1 and us-east1 have no zone "-a"; every region has a "-b"
        self.zone: str = settings.zone or f"{region}-b"
        account = load_service_account(credentials["credentials"].reveal(), reference)
        from . import _google

        explicit = settings.endpoint
        compute = Endpoint.parse(explicit or self.default_endpoint)
        token = Endpoint.parse(account.token_uri)
        if explicit:  # every request to the endpoint: the token's path is kept, not its host
            token = compute
        token_connection = _google.TokenConnection(
            account.email, account.private_key.reveal(), account.token_uri, token
        )
        credential = _google.Credential(
            token_connection, account.private_key_id or _google.key_digest(account.email)
        )
        self.connection: Any = _google.ComputeConnection(credential, self.project, compute)
        named = str(reference)
        _google.convert_errors(
            token_connection, lambda e, doing: _google.token_error(e, doing, named)
        )
        _google.convert_errors(
            self.connection, lambda e, doing: _google.compute_error(e, doing, named)
        )
        if guard is not None:
            guard_connection(token_connection, guard, lambda *_: False)
            guard_connection(self.connection, guard, _unsafe)

    @property
    def endpoint(self) -> str:
        """The API base URL, plus what shapes the catalog: the core caches sizes per endpoint
        and region, but machine types are per zone and filtered by ``machineFamilies``."""
        families = ",".join(self.settings.machine_families) or "all"
        return f"{super().endpoint}#zone={self.zone};families={families}"

    # -- requests -------------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        reply = self.connection.request(path, params=params or None, data=body, method=method)
        return reply.object

    def _all(self, path: str, **params: Any) -> list[Any]:
        """Every item of a list (``items`` is a list) or aggregated list (a dict by scope)."""
        items: list[Any] = []
        token = ""
        while True:
            page = {"maxResults": 500, **params, **({"pageToken": token} if token else {})}
            reply = self._request("GET", path, **page)
            found = reply.get("items") or []
            if isinstance(found, dict):
                for scoped in found.values():
                    items += next((v for k, v in scoped.items() if k != "warning"), [])
            else:
                items += found
            token = reply.get("nextPageToken") or ""
            if not token:
                return items

    def _missing_ok(self, method: str, path: str) -> dict[str, Any] | None:
        """A delete; None when the resource is already gone (404)."""
        try:
            return dict(self._request(method, path))
        except Exception as error:
            if getattr(error, "http_code", None) == 404:
                return None
            raise

    def _wait(self, operation: dict[str, Any] | None, what: str) -> None:
        """Poll a zone/region/global operation until DONE; its error becomes ours."""
        if operation is None:
            return
        if operation.get("zone"):
            path = f"/zones/{_last(operation['zone'])}/operations/{operation['name']}"
        elif operation.get("region"):
            path = f"/regions/{_last(operation['region'])}/operations/{operation['name']}"
        else:
            path = f"/global/operations/{operation['name']}"
        deadline = time.monotonic() + self.settings.create_timeout
        while operation.get("status") != "DONE":
            if time.monotonic() > deadline:
                raise ProviderError(
                    f"gcp: {what}: operation {operation['name']} not done within "
                    f"{self.settings.create_timeout:g} s",
                    provider="gcp",
                    hint="check the operation in the console; re-run to continue",
                )
            time.sleep(self.settings.poll_interval)
            operation = self._request("GET", path)
        errors = (operation.get("error") or {}).get("errors") or []
        if errors:
            detail = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors[:3])
            raise ProviderError(
                f"gcp: {what} failed: {detail}",
                provider="gcp",
                http_status=operation.get("httpErrorStatusCode"),
                hint="see the message above (quota, zone capacity, image or permission)",
            )

    @staticmethod
    def _check_name(name: str, what: str) -> None:
        if len(name) > NAME_LIMIT or not _NAME.match(name):
            raise ProviderError(
                f"gcp: {what} {name!r} is not a valid GCE name (lowercase letters, digits and "
                f"hyphens, at most {NAME_LIMIT} characters)",
                provider="gcp",
                hint="shorten the cluster or pool name",
            )

    # -- machines -------------------------------------------------------------------------------

    def check_credentials(self) -> None:
        self._request("GET", f"/zones/{self.zone}")

    def list_machines(self, cluster: str) -> list[Machine]:
        found = self._all("/aggregated/instances", filter=f'labels.{CLUSTER_TAG} = "{cluster}"')
        return [
            self._machine(i)
            for i in found
            if (i.get("labels") or {}).get(CLUSTER_TAG) == cluster  # the filter is not trusted
        ]

    @staticmethod
    def _machine(instance: dict[str, Any]) -> Machine:
        interfaces = instance.get("networkInterfaces") or [{}]
        nat = [a.get("natIP") for a in interfaces[0].get("accessConfigs") or [] if a.get("natIP")]
        return Machine(
            id=str(instance["id"]),
            name=instance["name"],
            state=_STATES.get(instance.get("status", ""), "unknown"),  # type: ignore[arg-type]
            public_ip=nat[0] if nat else None,
            private_ip=interfaces[0].get("networkIP"),
            tags=dict(instance.get("labels") or {}),
            extra={"zone": _last(instance.get("zone")), "size": _last(instance.get("machineType"))},
        )

    def create_machine(self, spec: MachineSpec) -> Machine:
        self._check_name(spec.name, "machine name")
        for key, value in spec.tags.items():
            self._check_name(value, f"label {key}")
        network = spec.network.name if spec.network else "default"
        interface: dict[str, Any] = {
            "network": f"projects/{self.project}/global/networks/{network}",
            "accessConfigs": [{"type": "ONE_TO_ONE_NAT", "name": "External NAT"}],
        }
        if spec.network is not None:
            interface["subnetwork"] = (
                f"projects/{self.project}/regions/{self.region}/subnetworks/{network}"
            )
        metadata = [{"key": "user-data", "value": spec.user_data}]
        if spec.operator_key:
            metadata.append({"key": "ssh-keys", "value": f"sloth:{spec.operator_key.strip()}"})
        body: dict[str, Any] = {
            "name": spec.name,
            "description": f"sloth-kubernetes node {spec.name} of cluster {spec.cluster}",
            "machineType": f"zones/{self.zone}/machineTypes/{spec.size}",
            "labels": dict(spec.tags),
            "tags": {"items": [spec.firewall.id] if spec.firewall else []},
            "metadata": {"items": metadata},
            "disks": [
                {
                    "boot": True,
                    "autoDelete": True,
                    "initializeParams": {
                        "sourceImage": spec.image,
                        "diskSizeGb": str(self.settings.disk_size_gb),
                        "diskType": f"zones/{self.zone}/diskTypes/pd-balanced",
                    },
                }
            ],
            "networkInterfaces": [interface],
        }
        path = f"/zones/{self.zone}/instances"
        try:
            operation = self._request("POST", path, body)
        except Exception as error:
            if getattr(error, "http_code", None) != 409:
                raise
            return self._existing(spec)  # an earlier attempt's reply was lost
        self._wait(operation, f"creating {spec.name}")
        return self._machine(self._request("GET", f"{path}/{spec.name}"))

    def _existing(self, spec: MachineSpec) -> Machine:
        """The instance named like ``spec``, if it carries this node's labels."""
        machine = self._machine(self._request("GET", f"/zones/{self.zone}/instances/{spec.name}"))
        if any(machine.tags.get(key) != value for key, value in spec.tags.items()):
            raise ProviderError(
                f"gcp: an instance named {spec.name} already exists in {self.zone} and is not "
                f"node {spec.name} of cluster {spec.cluster} (labels: {machine.tags or 'none'})",
                provider="gcp",
                hint="rename the cluster or pool, or delete that instance",
            )
        return machine

    def destroy_machine(self, machine: Machine) -> None:
        zone = machine.extra.get("zone") or self.zone
        operation = self._missing_ok("DELETE", f"/zones/{zone}/instances/{machine.name}")
        self._wait(operation, f"deleting {machine.name}")

    def console_output(self, machine: Machine) -> str:
        zone = machine.extra.get("zone") or self.zone
        reply = self._request("GET", f"/zones/{zone}/instances/{machine.name}/serialPort", port=1)
        return str(reply.get("contents") or "")

    # -- firewall: one GCE rule per cluster rule ------------------------------------------------

    def _rules_of(self, cluster: str) -> list[dict[str, Any]]:
        pattern = f"sloth-{cluster}-[0-9]+"
        found = self._all("/global/firewalls", filter=f"name eq {pattern}")
        return [f for f in found if re.fullmatch(pattern, f.get("name", ""))]

    def create_firewall(
        self, cluster: str, rules: Sequence[FirewallRule], network: Resource | None
    ) -> Resource:
        tag = f"sloth-{cluster}"
        self._check_name(f"{tag}-{len(rules)}", "firewall rule name")
        where = f"global/networks/{network.name if network else 'default'}"
        operations = [  # all inserts first, then one wait each
            self._request("POST", "/global/firewalls", _firewall_body(cluster, index, rule, where))
            for index, rule in enumerate(rules)
        ]
        for index, operation in enumerate(operations):
            self._wait(operation, f"creating firewall rule {tag}-{index}")
        return Resource("firewall", tag, tag)

    firewall_update_blocker = None

    def update_firewall_rules(self, firewall: Resource, rules: Sequence[FirewallRule]) -> None:
        # Rule n of the cluster is the GCE firewall sloth-<cluster>-<n>: a changed one is
        # patched (compute.firewalls.patch), a missing one inserted, one past the end deleted.
        tag = firewall.id
        cluster = tag.removeprefix("sloth-")
        self._check_name(f"{tag}-{len(rules)}", "firewall rule name")
        found = {f["name"]: f for f in self._rules_of(cluster)}
        where = next(iter(found.values()))["network"] if found else "global/networks/default"
        operations: list[dict[str, Any] | None] = []
        for index, rule in enumerate(rules):
            body = _firewall_body(cluster, index, rule, where)
            existing = found.pop(body["name"], None)
            if existing is None:
                operations.append(self._request("POST", "/global/firewalls", body))
            elif sorted(existing.get("sourceRanges") or []) != sorted(body["sourceRanges"]) or (
                existing.get("allowed") != body["allowed"]
            ):
                changed = {k: body[k] for k in ("name", "description", "sourceRanges", "allowed")}
                path = f"/global/firewalls/{body['name']}"
                operations.append(self._request("PATCH", path, changed))
        for name in found:
            operations.append(self._missing_ok("DELETE", f"/global/firewalls/{name}"))
        for operation in operations:
            self._wait(operation, f"updating the firewall rules of {cluster}")

    def list_firewalls(self, cluster: str) -> list[Resource]:
        tag = f"sloth-{cluster}"
        return [Resource("firewall", tag, tag)] if self._rules_of(cluster) else []

    def delete_firewall(self, firewall: Resource) -> None:
        cluster = firewall.id.removeprefix("sloth-")
        operations = [
            self._missing_ok("DELETE", f"/global/firewalls/{rule['name']}")
            for rule in self._rules_of(cluster)
        ]
        for operation in operations:
            self._wait(operation, f"deleting the firewall rules of {cluster}")

    def firewall_rules(self, firewall: Resource) -> list[FirewallRule]:
        rules = []
        for found in self._rules_of(firewall.id.removeprefix("sloth-")):
            for allowed in found.get("allowed") or []:
                ports = (allowed.get("ports") or ["0"])[0]
                rules.append(
                    FirewallRule(
                        allowed["IPProtocol"],
                        ports,
                        tuple(found.get("sourceRanges") or ()),
                        str(found.get("description") or "").partition(": ")[2],
                    )
                )
        return rules

    # -- private network: a custom-mode VPC with one subnetwork ---------------------------------

    def create_network(self, cluster: str, cidr: str) -> Resource:
        name = f"sloth-{cluster}"
        self._check_name(name, "network name")
        description = f"sloth-kubernetes cluster {cluster}"
        network = {"name": name, "description": description, "autoCreateSubnetworks": False}
        self._wait(self._request("POST", "/global/networks", network), f"creating network {name}")
        subnetwork = {
            "name": name,
            "description": description,
            "network": f"projects/{self.project}/global/networks/{name}",
            "ipCidrRange": cidr,
            "region": self.region,
        }
        self._wait(
            self._request("POST", f"/regions/{self.region}/subnetworks", subnetwork),
            f"creating subnetwork {name}",
        )
        return Resource("network", name, name)

    def list_networks(self, cluster: str) -> list[Resource]:
        name = f"sloth-{cluster}"
        found = self._all("/global/networks", filter=f"name eq {name}")
        return [Resource("network", name, name) for n in found if n.get("name") == name]

    def delete_network(self, network: Resource) -> None:
        path = f"/regions/{self.region}/subnetworks/{network.name}"
        self._wait(self._missing_ok("DELETE", path), f"deleting subnetwork {network.name}")
        self._wait(
            self._missing_ok("DELETE", f"/global/networks/{network.name}"),
            f"deleting network {network.name}",
        )

    # -- catalog --------------------------------------------------------------------------------

    def list_sizes(self) -> list[Size]:
        """x86 machine types with dedicated vCPUs in the zone, of ``machineFamilies``.

        The Compute API publishes no prices (they live in the Cloud Billing catalog): every
        price is None, so a portable size gets the smallest match (fewest vCPUs, then least
        memory), which is why the families are narrowed to cost-optimised ``e2`` by default.
        """
        families = set(self.settings.machine_families)
        sizes = []
        for kind in self._all(f"/zones/{self.zone}/machineTypes"):
            if kind.get("isSharedCpu") or kind.get("deprecated"):
                continue  # shared-core types give fractions of a vCPU
            if kind.get("architecture", "X86_64") not in ("X86_64", ""):
                continue  # the image aliases are amd64
            if families and kind["name"].split("-")[0] not in families:
                continue
            sizes.append(
                Size(kind["name"], int(kind["guestCpus"]), int(kind["memoryMb"]) / 1024, None)
            )
        return sorted(sizes, key=lambda s: (s.cpu, s.memory_gib, s.id))

    def list_images(self) -> list[Image]:
        return [Image(alias, family) for alias, family in self.image_aliases.items()]

    def list_regions(self) -> list[Region]:
        return [
            Region(r["name"], r.get("description") or r["name"])
            for r in self._all("/regions")
            if r.get("status", "UP") == "UP"
        ]


def _firewall_body(cluster: str, index: int, rule: FirewallRule, network: str) -> dict[str, Any]:
    """The GCE firewall ``sloth-<cluster>-<index>`` for one cluster rule."""
    tag = f"sloth-{cluster}"
    allowed: dict[str, Any] = {"IPProtocol": rule.protocol}
    if rule.protocol != "icmp":
        allowed["ports"] = [rule.ports]
    return {
        "name": f"{tag}-{index}",
        "description": f"sloth-kubernetes cluster {cluster}: {rule.description}",
        "network": network,
        "direction": "INGRESS",
        "priority": 1000,
        "sourceRanges": list(rule.sources),
        "targetTags": [tag],
        "allowed": [allowed],
    }
