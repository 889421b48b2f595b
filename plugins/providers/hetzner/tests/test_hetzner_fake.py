"""The Hetzner fake through Prism with plain HTTP (Hetzner has no libcloud driver)."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlencode

import pytest
from hetzner_fake import SPEC, HetznerFake
from sloth_kubernetes.testing.emulators._http import emulator_processes, process_group_members
from sloth_kubernetes.testing.emulators.prism import PrismEmulator, PrismUnavailable

pytestmark = pytest.mark.emulator

PUBLIC_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl sloth-test"
)


def call(emulator: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    connection = http.client.HTTPConnection(emulator.host, emulator.port, timeout=10)
    headers = {"Authorization": "Bearer sloth-test-token"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    try:
        connection.request(method, path, json.dumps(body) if body is not None else None, headers)
        reply = connection.getresponse()
        data = reply.read()
    finally:
        connection.close()
    return reply.status, json.loads(data) if data else None


def create_server(emulator: Any, name: str, labels: dict[str, str]) -> dict[str, Any]:
    status, body = call(
        emulator,
        "POST",
        "/servers",
        {
            "name": name,
            "server_type": "cx22",
            "image": "debian-12",
            "location": "fsn1",
            "labels": labels,
            "ssh_keys": ["sloth-key"],
        },
    )
    assert status == 201, body
    return dict(body["server"])


def test_servers_create_list_paginate_filter_delete(hetzner_emulator: Any) -> None:
    assert (
        call(
            hetzner_emulator, "POST", "/ssh_keys", {"name": "sloth-key", "public_key": PUBLIC_KEY}
        )[0]
        == 201
    )
    for i in range(3):
        create_server(hetzner_emulator, f"server-{i}", {"sloth/cluster": "a", "index": str(i)})
    create_server(hetzner_emulator, "other", {"sloth/cluster": "b"})

    names: list[str] = []
    page: int | None = 1
    while page is not None:
        query = urlencode({"label_selector": "sloth/cluster=a", "per_page": 2, "page": page})
        status, body = call(hetzner_emulator, "GET", f"/servers?{query}")
        assert status == 200
        names += [s["name"] for s in body["servers"]]
        page = body["meta"]["pagination"]["next_page"]
    assert names == ["server-0", "server-1", "server-2"]

    server_id = create_server(hetzner_emulator, "doomed", {})["id"]
    status, body = call(hetzner_emulator, "DELETE", f"/servers/{server_id}")
    assert status == 200
    assert body["action"]["command"] == "delete_server"
    status, body = call(hetzner_emulator, "GET", f"/servers/{server_id}")
    assert status == 404
    assert body["error"]["code"] == "not_found"


def test_label_selector_operators(hetzner_emulator: Any) -> None:
    create_server(hetzner_emulator, "srv-a", {"role": "server", "pool": "x"})
    create_server(hetzner_emulator, "agent-a", {"role": "agent"})

    def names(selector: str) -> list[str]:
        status, body = call(
            hetzner_emulator, "GET", "/servers?" + urlencode({"label_selector": selector})
        )
        assert status == 200
        return [s["name"] for s in body["servers"]]

    assert names("role!=server") == ["agent-a"]
    assert names("pool") == ["srv-a"]
    assert names("!pool") == ["agent-a"]
    assert names("role in (agent,other)") == ["agent-a"]
    assert names("role=server,pool=x") == ["srv-a"]


def test_networks_and_firewalls(hetzner_emulator: Any) -> None:
    status, body = call(
        hetzner_emulator,
        "POST",
        "/networks",
        {
            "name": "sloth",
            "ip_range": "10.0.0.0/16",
            "subnets": [{"type": "cloud", "network_zone": "eu-central", "ip_range": "10.0.1.0/24"}],
        },
    )
    assert status == 201, body
    status, body = call(
        hetzner_emulator,
        "POST",
        "/firewalls",
        {
            "name": "sloth",
            "rules": [
                {
                    "direction": "in",
                    "protocol": "udp",
                    "port": "51820",
                    "source_ips": ["0.0.0.0/0", "::/0"],
                }
            ],
        },
    )
    assert status == 201, body
    assert [f["name"] for f in call(hetzner_emulator, "GET", "/firewalls")[1]["firewalls"]] == [
        "sloth"
    ]


def test_request_violating_the_spec_is_refused(hetzner_emulator: Any) -> None:
    status, _ = call(
        hetzner_emulator, "POST", "/servers", {"name": "no-type", "image": "debian-12"}
    )
    assert status == 422
    violations = hetzner_emulator.take_violations()
    assert any("server_type" in v for v in violations), violations


def test_stop_leaves_no_process_behind() -> None:
    try:
        prism = PrismEmulator("hetzner", HetznerFake(), SPEC)
    except PrismUnavailable as missing:
        pytest.skip(missing.reason)
    group = prism.process.pid
    assert process_group_members(group)
    prism.stop()
    assert process_group_members(group) == []
    assert group not in emulator_processes()
