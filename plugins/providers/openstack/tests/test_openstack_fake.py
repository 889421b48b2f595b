"""The fake OpenStack cloud itself: tokens, microversions, paging, in-use refusals and the
description checks (so the plugin's tests against it mean something)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from sloth_kubernetes.testing.emulators.described import DescribedEmulator
from sloth_kubernetes.testing.provider_contract import OPERATOR_KEY

from .conftest import PASSWORD
from .openstack_fake import EXTERNAL_NET, OpenStackFake


class Client:
    def __init__(self, emulator: DescribedEmulator) -> None:
        self.emulator = emulator
        self.token = ""

    def call(
        self, method: str, path: str, body: Any = None, **headers: str
    ) -> tuple[int, Any, Any]:
        request = urllib.request.Request(
            self.emulator.endpoint + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "X-Auth-Token": self.token,
                     "X-OpenStack-Nova-API-Version": "2.52", **headers},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                raw = reply.read()
                return reply.status, json.loads(raw) if raw else None, reply.headers
        except urllib.error.HTTPError as error:
            raw = error.read()
            return error.code, json.loads(raw) if raw else None, error.headers

    def login(self, password: str = PASSWORD) -> tuple[int, Any, Any]:
        auth = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "operator", "domain": {"name": "Default"}, "password": password}}},
            "scope": {"project": {"name": "k8s", "domain": {"name": "Default"}}}}}  # fmt: skip
        status, body, headers = self.call("POST", "/identity/v3/auth/tokens", auth)
        self.token = headers.get("X-Subject-Token", "")
        return status, body, headers


@pytest.fixture
def client(openstack_emulator: DescribedEmulator) -> Client:
    return Client(openstack_emulator)


def test_keystone_issues_a_token_with_a_catalog_and_every_call_needs_it(
    client: Client, openstack_emulator: DescribedEmulator
) -> None:
    status, body, headers = client.call("GET", "/compute/v2.1/flavors")  # keystonemiddleware
    assert (status, body["error"]["title"]) == (401, "Unauthorized")
    assert headers["WWW-Authenticate"].startswith("Keystone uri=")
    status, body, _ = client.login("wrong")
    assert status == 401
    assert set(body["error"]) == {"code", "message", "title"}
    status, body, _ = client.login()
    assert status == 201
    assert client.token
    services = {s["type"]: s for s in body["token"]["catalog"]}
    assert set(services) == {"identity", "compute", "network", "image"}
    urls = {e["interface"]: e["url"] for e in services["compute"]["endpoints"]}
    assert urls["public"] == openstack_emulator.endpoint + "/compute/v2.1"
    assert client.call("GET", "/compute/v2.1/flavors")[0] == 200
    # an internal endpoint is not what a client outside the cloud should use
    assert client.call("GET", "/internal/compute/v2.1/flavors")[0] == 404
    assert openstack_emulator.take_violations() == [
        "GET /internal/compute/v2.1/flavors: no such operation in the description"
    ]


def test_nova_requests_are_checked_against_novas_own_schemas(
    client: Client, openstack_emulator: DescribedEmulator
) -> None:
    client.login()
    bad = {"server": {"name": "x", "flavorRef": "3", "imageRef": "not-a-uuid",
                      "networks": "auto", "tags": ["a"], "colour": "red"}}  # fmt: skip
    status, body, _ = client.call("POST", "/compute/v2.1/servers", bad)
    assert status == 400
    assert "badRequest" in body
    broken = openstack_emulator.take_violations()
    assert any("'colour' was unexpected" in b for b in broken), broken
    client.call("GET", "/compute/v2.1/flavors", **{"X-OpenStack-Nova-API-Version": "2.1"})
    assert openstack_emulator.take_violations() == [
        "GET /compute/v2.1/flavors: compute microversion 2.1 asked; "
        "the description is Nova's at 2.52"
    ]


def test_neutron_pages_filters_and_refuses_deleting_what_is_in_use(
    client: Client, openstack_emulator: DescribedEmulator, fake: OpenStackFake
) -> None:
    client.login()
    ids = []
    for n in range(3):
        status, body, _ = client.call(
            "POST", "/networking/v2.0/networks", {"network": {"name": f"n{n}"}}
        )
        assert status == 201
        ids.append(body["network"]["id"])
    seen, marker, pages = [], "", 0
    while True:
        status, body, _ = client.call("GET", f"/networking/v2.0/networks?limit=2{marker}")
        seen += [n["id"] for n in body["networks"]]
        pages += 1
        links = [link["href"] for link in body.get("networks_links", []) if link["rel"] == "next"]
        if not links:
            break
        marker = "&marker=" + links[0].split("marker=")[1]
    assert pages == 2
    assert sorted(seen) == sorted([*ids, EXTERNAL_NET])
    status, body, _ = client.call("GET", "/networking/v2.0/networks?colour=red")
    assert status == 400
    assert openstack_emulator.take_violations() == [
        "GET /v2.0/networks: request.query.colour: not a documented parameter"
    ]
    subnet = {"subnet": {"network_id": ids[0], "ip_version": 4, "cidr": "10.9.0.0/24"}}
    assert client.call("POST", "/networking/v2.0/subnets", subnet)[0] == 201
    router = {"router": {"name": "r", "external_gateway_info": {"network_id": EXTERNAL_NET}}}
    _, body, _ = client.call("POST", "/networking/v2.0/routers", router)
    router_id = body["router"]["id"]
    subnet_id = fake.networks[ids[0]]["subnets"][0]
    path = f"/networking/v2.0/routers/{router_id}/add_router_interface"
    assert client.call("PUT", path, {"subnet_id": subnet_id})[0] == 200
    status, body, _ = client.call("DELETE", f"/networking/v2.0/networks/{ids[0]}")
    assert (status, body["NeutronError"]["type"]) == (409, "NetworkInUse")
    status, body, _ = client.call("DELETE", f"/networking/v2.0/routers/{router_id}")
    assert (status, body["NeutronError"]["type"]) == (409, "RouterInUse")


def test_a_new_security_group_has_neutrons_egress_rules_and_refuses_duplicates(
    client: Client,
) -> None:
    client.login()
    _, body, _ = client.call(
        "POST", "/networking/v2.0/security-groups", {"security_group": {"name": "g"}}
    )
    group = body["security_group"]
    assert sorted((r["direction"], r["ethertype"]) for r in group["security_group_rules"]) == [
        ("egress", "IPv4"), ("egress", "IPv6")
    ]  # fmt: skip
    rule = {"security_group_rule": {"security_group_id": group["id"], "direction": "ingress",
                                    "protocol": "tcp", "port_range_min": 22, "port_range_max": 22,
                                    "remote_ip_prefix": "198.51.100.0/24"}}  # fmt: skip
    assert client.call("POST", "/networking/v2.0/security-group-rules", rule)[0] == 201
    status, body, _ = client.call("POST", "/networking/v2.0/security-group-rules", rule)
    assert (status, body["NeutronError"]["type"]) == (409, "SecurityGroupRuleExists")


def test_servers_build_then_become_active_and_key_pairs_are_unique(
    client: Client, fake: OpenStackFake
) -> None:
    client.login()
    key = {"keypair": {"name": "k", "public_key": OPERATOR_KEY}}
    assert client.call("POST", "/compute/v2.1/os-keypairs", key)[0] == 201
    status, body, _ = client.call("POST", "/compute/v2.1/os-keypairs", key)
    assert (status, body["conflictingRequest"]["code"]) == (409, 409)
    server = {"server": {"name": "s1", "flavorRef": "3", "networks": "auto", "key_name": "k",
                         "imageRef": "9d3f0c52-2f8b-4b1e-a1b4-0e8a7c6d5e40"}}  # fmt: skip
    status, body, _ = client.call("POST", "/compute/v2.1/servers", server)
    assert status == 202
    assert body["server"]["adminPass"]
    states = []
    for _ in range(2):
        _, listing, _ = client.call("GET", "/compute/v2.1/servers/detail")
        (shown,) = listing["servers"]
        states.append((shown["status"], shown["OS-EXT-STS:task_state"], bool(shown["addresses"])))
    assert states == [("BUILD", "spawning", False), ("ACTIVE", None, True)]


@pytest.mark.parametrize("name", ["keystone-v3", "nova-v2.1", "neutron-v2.0", "glance-v2"])
def test_the_derived_descriptions_are_valid_json_schema_and_cite_their_sources(name: str) -> None:
    from pathlib import Path

    from jsonschema import Draft7Validator

    path = Path(__file__).parent / "described" / f"{name}.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["_about"]["source"]["licence"] == "Apache-2.0"
    for key, entry in document["operations"].items():
        assert entry["source"], key
        schemas = [*entry["query"].values(), entry["body"], *entry["responses"].values()]
        for schema in (s for s in schemas if s is not None):
            Draft7Validator.check_schema(schema)
