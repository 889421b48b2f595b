"""The generic checker for fakes whose cloud has a derived API description (no Prism)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from sloth_kubernetes.testing.emulators._http import JsonReply, JsonRequest
from sloth_kubernetes.testing.emulators.described import (
    ApiDescription,
    DescribedApp,
    DescribedEmulator,
)

DOCUMENT = {
    "errors": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
        "additionalProperties": False,
    },
    "operations": {
        "GET /v1/things": {
            "query": {"limit": {"type": "string", "pattern": "^[0-9]+$"}},
            "responses": {
                "200": {
                    "type": "object",
                    "required": ["things"],
                    "properties": {"things": {"type": "array", "items": {"type": "string"}}},
                    "additionalProperties": False,
                }
            },
        },
        "POST /v1/things": {
            "body": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string", "enum": ["a", "b"]}},
                "additionalProperties": False,
            },
            "responses": {"201": None},
        },
        "DELETE /v1/things/{id}": {"responses": {"204": None}},
    },
}


class ThingsFake(DescribedApp):
    def __init__(self) -> None:
        super().__init__("things")
        self.describe(ApiDescription(DOCUMENT, name="things", prefix="/svc"))
        self.things: list[str] = []
        self.wrong_reply = False

        @self.route("GET", "/svc/v1/things")
        def listing(_r: JsonRequest) -> JsonReply:
            return JsonReply(200, {"things": [*self.things, *([1] if self.wrong_reply else [])]})

        @self.route("POST", "/svc/v1/things")
        def create(r: JsonRequest) -> JsonReply:
            self.things.append(r.body["name"])
            return JsonReply(201, {"thing": r.body["name"]})

        @self.route("DELETE", "/svc/v1/things/{thing}")
        def delete(_r: JsonRequest, thing: str) -> JsonReply:
            if thing not in self.things:
                return self.error(404, "not_found", "no such thing")
            self.things.remove(thing)
            return JsonReply(204)

    def error(self, status: int, code: str, message: str) -> JsonReply:
        return JsonReply(status, {"error": message})

    def reset(self) -> None:
        self.things.clear()
        self.wrong_reply = False


@pytest.fixture(scope="module")
def things() -> Any:
    emulator = DescribedEmulator(ThingsFake())
    yield emulator
    emulator.stop()


def _call(emulator: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(emulator.endpoint + path, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            raw = reply.read()
            return reply.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else None


def test_valid_traffic_leaves_no_violation(things: Any) -> None:
    things.reset()
    assert _call(things, "POST", "/svc/v1/things", {"name": "a"})[0] == 201
    assert _call(things, "GET", "/svc/v1/things?limit=5") == (200, {"things": ["a"]})
    assert _call(things, "DELETE", "/svc/v1/things/a")[0] == 204
    assert _call(things, "DELETE", "/svc/v1/things/a") == (404, {"error": "no such thing"})
    assert things.violations() == []
    assert things.fake.sent("POST", "/svc/v1/things") == [{"name": "a"}]


def test_bad_requests_are_refused_and_bad_replies_reported(things: Any) -> None:
    things.reset()
    status, body = _call(things, "POST", "/svc/v1/things", {"name": "c", "extra": 1})
    assert status == 400
    assert "'c' is not one of ['a', 'b']" in body["error"]
    assert things.fake.things == []  # refused before the fake saw it
    _call(things, "GET", "/svc/v1/things?limit=x&page=2")
    things.fake.wrong_reply = True
    _call(things, "GET", "/svc/v1/things")
    _call(things, "PUT", "/svc/v1/things/a", {})
    found = things.take_violations()
    assert found == [
        "POST /v1/things: request.body: Additional properties are not allowed "
        "('extra' was unexpected)",
        "POST /v1/things: request.body.name: 'c' is not one of ['a', 'b']",
        "GET /v1/things: request.query.limit: 'x' does not match '^[0-9]+$'",
        "GET /v1/things: request.query.page: not a documented parameter",
        "GET /v1/things: response.200.body.things.0: 1 is not of type 'string'",
        "PUT /svc/v1/things/a: no such operation in the description",
    ]
    assert things.violations() == []


def test_scripted_failures_happen_once_before_or_after_the_work(things: Any) -> None:
    things.reset()
    things.fake.fail_next("POST", "/svc/v1/things", 429, body={"name": "a"})
    things.fake.fail_next("POST", "/svc/v1/things", 502, body={"name": "b"}, after=True)
    assert _call(things, "POST", "/svc/v1/things", {"name": "b"})[0] == 502
    assert _call(things, "POST", "/svc/v1/things", {"name": "a"})[0] == 429
    assert things.fake.things == ["b"]  # the 502 lost the reply, not the work
    assert _call(things, "POST", "/svc/v1/things", {"name": "a"})[0] == 201
    assert things.fake.things == ["b", "a"]
    assert things.violations() == []


def test_path_parameters_are_checked_and_paths_may_match_case_insensitively() -> None:
    document = {
        "operations": {
            "GET /subscriptions/{sub}/resourcegroups/{group}": {
                "path": {"group": {"type": "string", "pattern": "^[a-z-]+$"}},
                "responses": {"200": None},
            }
        }
    }
    strict = ApiDescription(document, name="strict")
    assert strict.match("GET", "/subscriptions/s/resourceGroups/g") is None
    arm = ApiDescription(document, name="arm", ignore_case=True)
    operation = arm.match("GET", "/subscriptions/s/resourceGroups/g")
    assert operation is not None
    assert arm.check_request(operation, {}, None, "/subscriptions/s/resourceGroups/ok-name") == []
    assert arm.check_request(operation, {}, None, "/subscriptions/s/resourceGroups/Bad_1") == [
        "request.path.group: 'Bad_1' does not match '^[a-z-]+$'"
    ]


def test_described_session_skips_or_fails_when_the_description_is_not_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sloth_kubernetes.testing.emulators.described import described_session

    class Missing(RuntimeError):
        pass

    def make() -> DescribedApp:
        raise Missing("the-sdk is not installed")

    monkeypatch.delenv("SLOTH_REQUIRE_EMULATORS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="the-sdk is not installed"):
        next(described_session(make, missing=(Missing,)))
    monkeypatch.setenv("SLOTH_REQUIRE_EMULATORS", "1")  # CI: a missing description fails
    with pytest.raises(pytest.fail.Exception, match="the-sdk is not installed"):
        next(described_session(make, missing=(Missing,)))
