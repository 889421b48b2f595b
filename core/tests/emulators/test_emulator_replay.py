"""Recorded responses: libcloud's Vultr v2 driver against a recorded scenario (no local Vultr)."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any

import pytest
from sloth_kubernetes.testing.emulators._http import EmulatorError
from sloth_kubernetes.testing.emulators.replay import ReplayServer

pytestmark = pytest.mark.emulator

SCENARIO = Path(__file__).parent / "recorded" / "vultr-lifecycle"


def test_recorded_vultr_lifecycle_with_libcloud(recorded_api: Any) -> None:
    from libcloud.compute.drivers.vultr import VultrNodeDriver

    api = recorded_api(SCENARIO)
    driver = VultrNodeDriver("sloth-test-key", api_version="2")
    driver.connection.host, driver.connection.port = api.host, api.port
    driver.connection.secure = False
    driver.connection.connect()

    assert driver.list_nodes(ex_list_bare_metals=False) == []
    created = driver.connection.request(
        "/v2/instances",
        data=json.dumps({"label": "node-1", "region": "fra", "plan": "vc2-1c-1gb", "os_id": 2136}),
        method="POST",
    ).object["instance"]
    (node,) = driver.list_nodes(ex_list_bare_metals=False)  # the second recorded list
    assert node.id == created["id"]
    assert node.public_ips == ["192.0.2.10"]
    assert driver.destroy_node(node) is True
    assert api.unmatched == []


def test_unrecorded_request_is_refused_and_listed(recorded_api: Any) -> None:
    api = recorded_api(SCENARIO)
    connection = http.client.HTTPConnection(api.host, api.port, timeout=5)
    connection.request("GET", "/v2/regions")
    reply = connection.getresponse()
    message = reply.read().decode()
    connection.close()
    assert reply.status == 421  # a 4xx: not retried
    assert "GET /v2/instances" in message  # tells what was recorded
    assert api.unmatched == ["GET /v2/regions?"]


def test_last_recording_repeats_and_reset_rewinds(recorded_api: Any) -> None:
    api = recorded_api(SCENARIO)

    def count() -> int:
        connection = http.client.HTTPConnection(api.host, api.port, timeout=5)
        connection.request("GET", "/v2/instances")
        body = json.loads(connection.getresponse().read())
        connection.close()
        return int(body["meta"]["total"])

    assert [count(), count(), count()] == [0, 1, 1]
    api.reset()
    assert count() == 0


def test_broken_recording_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "001.json").write_text('{"request": {"path": "/x"}}')
    with pytest.raises(EmulatorError, match=r"001\.json"):
        ReplayServer(tmp_path)


def test_endpoint_placeholder_points_replies_back_at_the_server(
    recorded_api: Any, tmp_path: Path
) -> None:
    exchange = {
        "request": {"method": "POST", "path": "/v3/auth/tokens"},
        "response": {
            "status": 201,
            "headers": {"X-Subject-Token": "t", "Location": "{{endpoint}}/v3/auth/tokens/1"},
            "body": {"catalog": [{"url": "{{endpoint}}/compute/v2.1"}]},
        },
    }
    (tmp_path / "01-auth.json").write_text(json.dumps(exchange), encoding="utf-8")
    api = recorded_api(tmp_path)
    connection = http.client.HTTPConnection(api.host, api.port, timeout=5)
    connection.request("POST", "/v3/auth/tokens", body=b"{}")
    reply = connection.getresponse()
    body = json.loads(reply.read())
    connection.close()
    assert body["catalog"][0]["url"] == f"http://127.0.0.1:{api.port}/compute/v2.1"
    assert reply.getheader("Location") == f"http://127.0.0.1:{api.port}/v3/auth/tokens/1"
    assert api.received == [("POST", "/v3/auth/tokens", {})]


def test_body_match_is_a_nested_subset(recorded_api: Any, tmp_path: Path) -> None:
    for index, name in enumerate(("node-1", "node-2")):
        exchange = {
            "request": {"method": "POST", "path": "/servers", "body": {"server": {"name": name}}},
            "response": {"status": 202, "body": {"server": {"id": f"id-{index}"}}},
        }
        (tmp_path / f"{index}.json").write_text(json.dumps(exchange), encoding="utf-8")
    api = recorded_api(tmp_path)

    def create(name: str) -> Any:
        connection = http.client.HTTPConnection(api.host, api.port, timeout=5)
        body = {"server": {"name": name, "flavorRef": "m1", "networks": [{"uuid": "n"}]}}
        connection.request("POST", "/servers", body=json.dumps(body).encode())
        reply = connection.getresponse()
        raw = reply.read()
        payload = json.loads(raw) if reply.status < 400 else raw.decode()
        connection.close()
        return reply.status, payload

    # served by name, whatever the order: parallel creates can be recorded
    assert create("node-2") == (202, {"server": {"id": "id-1"}})
    assert create("node-1") == (202, {"server": {"id": "id-0"}})
    assert create("node-3")[0] == 421
