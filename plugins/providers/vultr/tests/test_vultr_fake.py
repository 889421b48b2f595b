"""The fake Vultr API itself: it refuses what the OpenAPI document refuses, pages with cursors,
rate-limits and answers errors in the documented shape (so the plugin's tests mean something)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from sloth_kubernetes.testing.emulators.described import DescribedEmulator

API_KEY = "V" * 36  # the key the fake accepts


def _call(
    emulator: DescribedEmulator, method: str, path: str, body: Any = None, key: str = API_KEY
) -> tuple[int, Any, dict[str, str]]:
    request = urllib.request.Request(
        emulator.endpoint + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            raw = reply.read()
            return reply.status, json.loads(raw) if raw else None, dict(reply.headers)
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else None, dict(error.headers)


def test_a_request_the_description_refuses_is_refused_and_reported(
    vultr_emulator: DescribedEmulator,
) -> None:
    status, body, _ = _call(vultr_emulator, "POST", "/v2/ssh-keys", {"name": "k"})  # no ssh_key
    assert status == 400
    assert set(body) == {"error", "status"}
    status, _, _ = _call(
        vultr_emulator, "POST", "/v2/vpcs", {"region": "fra", "v4_subnet_mask": "16"}
    )
    assert status == 400
    broken = vultr_emulator.take_violations()
    assert any("'ssh_key' is a required property" in b for b in broken), broken
    assert any("v4_subnet_mask: '16' is not of type 'integer'" in b for b in broken), broken
    status, _, _ = _call(vultr_emulator, "GET", "/v2/kubernetes/clusters")  # not described here
    assert status == 404
    assert vultr_emulator.take_violations() == [
        "GET /v2/kubernetes/clusters: no such operation in the description"
    ]


def test_cursor_pages_cover_every_item_once(vultr_emulator: DescribedEmulator) -> None:
    seen: list[str] = []
    cursor, pages = "", 0
    while True:
        query = f"?per_page=5{'&cursor=' + cursor if cursor else ''}"
        status, body, _ = _call(vultr_emulator, "GET", "/v2/regions" + query)
        assert status == 200
        assert body["meta"]["total"] == 17
        seen += [r["id"] for r in body["regions"]]
        pages += 1
        cursor = body["meta"]["links"]["next"]
        if not cursor:
            break
        assert body["meta"]["links"]["prev"] or pages == 1
    assert pages == 4
    assert len(seen) == len(set(seen)) == 17


def test_unknown_key_missing_resource_and_bursts_answer_as_documented(
    vultr_emulator: DescribedEmulator,
) -> None:
    status, body, _ = _call(vultr_emulator, "GET", "/v2/account", key="nope")
    assert (status, body) == (401, {"error": "Invalid API token.", "status": 401})
    status, body, _ = _call(vultr_emulator, "DELETE", "/v2/instances/not-there")
    assert status == 404
    assert body["status"] == 404
    replies = [_call(vultr_emulator, "GET", "/v2/account") for _ in range(40)]
    limited = [headers for status, _, headers in replies if status == 429]
    assert limited  # more than 30 in one second
    assert limited[0]["Retry-After"] == "1"
    assert [status for status, _, _ in replies].count(200) <= 30


def test_an_instance_boots_pending_then_active_with_an_address(
    vultr_emulator: DescribedEmulator,
) -> None:
    create = {"region": "fra", "plan": "vc2-1c-1gb", "os_id": 2284, "label": "n1"}
    status, body, _ = _call(vultr_emulator, "POST", "/v2/instances", create)
    assert status == 202
    instance = body["instance"]
    assert (instance["status"], instance["main_ip"]) == ("pending", "0.0.0.0")
    assert instance["default_password"]
    states = []
    for _ in range(2):
        _, listing, _ = _call(vultr_emulator, "GET", "/v2/instances")
        (shown,) = listing["instances"]
        states.append((shown["status"], shown["main_ip"] != "0.0.0.0"))
        assert "default_password" not in shown
    assert states == [("pending", False), ("active", True)]
    status, body, _ = _call(vultr_emulator, "POST", "/v2/instances", {**create, "plan": "nope"})
    assert (status, body["error"]) == (400, "Plan is not available in the selected region.")


def test_the_derived_description_is_valid_json_schema_and_cites_its_source() -> None:
    from jsonschema import Draft7Validator
    from vultr_fake import DESCRIPTION

    document = json.loads(DESCRIPTION.read_text(encoding="utf-8"))
    assert document["_about"]["source"]["licence"].startswith("Apache-2.0")
    for key, entry in document["operations"].items():
        assert entry["source"].startswith("#/paths/"), key
        schemas = [*entry["query"].values(), entry["body"], *entry["responses"].values()]
        for schema in (s for s in schemas if s is not None):
            Draft7Validator.check_schema(schema)
