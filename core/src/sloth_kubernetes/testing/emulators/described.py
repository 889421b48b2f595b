"""Fakes checked against a cloud's published API description, without Prism.

For clouds whose description cannot be loaded by Prism from ``shared/api-specs`` (an OpenAPI
document Prism cannot load, API references plus a service's own JSON Schemas), a plugin keeps a
*derived subset*: a JSON file of our own listing exactly the operations its driver sends, each with
the JSON pointer (or file) it was derived from, its query parameters, request body and response
bodies as JSON Schema. :class:`DescribedApp` checks every request a fake receives and every reply
it gives against that file with ``jsonschema``:

* a request that breaks it is refused (``400`` in the cloud's error shape, as the real API
  would refuse it) and the broken rule kept, so the test fails at teardown naming it;
* a reply that breaks it is passed on (the client's behaviour stays visible) and the broken rule
  kept the same way;
* a request for an operation the file does not list is a violation too: the fake must not
  answer what the description does not document.

File format (``operations`` keyed ``"METHOD /path/{var}"``)::

    {"_about": {...source, licence, changes...},
     "errors": {JSON Schema of an error body (optional)},
     "operations": {"POST /v2/instances": {
         "source": "#/paths/~1instances/post", "query": {"per_page": {...}},
         "requiredQuery": [], "queryAdditional": false, "path": {"var": {...}} (optional),
         "body": {...} | null,
         "responses": {"202": {...} | null}}}}

A response schema of ``null`` means "documented, body not described"; a status the operation
does not list is checked against ``errors`` when it is 4xx/5xx and is a violation otherwise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import attrs

from ._http import BackgroundServer, JsonApp, JsonReply, JsonRequest, RequestLog


@attrs.frozen
class Operation:
    key: str
    method: str
    pattern: re.Pattern[str]
    query: Mapping[str, Any]
    required_query: Sequence[str]
    query_additional: bool
    body: Any
    responses: Mapping[str, Any]
    source: str
    #: ``{variable: JSON Schema}`` of the path template's variables (optional in the file)
    path_params: Mapping[str, Any] = attrs.field(factory=dict)
    path_names: Sequence[str] = ()


class ApiDescription:
    """One derived description file, optionally served under a path ``prefix`` (a fake that
    serves several services on one port, e.g. ``/compute`` + a compute service's paths);
    ``ignore_case`` for APIs whose paths are case-insensitive."""

    def __init__(
        self, document: Mapping[str, Any], *, name: str, prefix: str = "", ignore_case: bool = False
    ) -> None:
        from jsonschema import Draft7Validator

        self.name = name
        self.document = document
        self._validator = Draft7Validator
        self._validators: dict[int, Any] = {}
        self.errors: Any = document.get("errors")
        self.operations: list[Operation] = []
        for key, entry in document["operations"].items():
            method, template = key.split(" ", 1)
            regex = re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(prefix + template))
            self.operations.append(
                Operation(
                    key=key,
                    method=method.upper(),
                    # ignore_case: some APIs match paths case-insensitively
                    pattern=re.compile(f"^{regex}/?$", re.IGNORECASE if ignore_case else 0),
                    query=entry.get("query") or {},
                    required_query=entry.get("requiredQuery") or [],
                    query_additional=bool(entry.get("queryAdditional")),
                    body=entry.get("body"),
                    responses=entry.get("responses") or {},
                    source=entry.get("source", ""),
                    path_params=entry.get("path") or {},
                    path_names=tuple(re.findall(r"\{([^}]+)\}", template)),
                )
            )

    @classmethod
    def load(cls, path: str | Path, *, prefix: str = "") -> ApiDescription:
        path = Path(path)
        return cls(json.loads(path.read_text(encoding="utf-8")), name=path.name, prefix=prefix)

    def match(self, method: str, path: str) -> Operation | None:
        for operation in self.operations:
            if operation.method == method.upper() and operation.pattern.match(path):
                return operation
        return None

    def _schema_errors(self, schema: Any, instance: Any, where: str) -> list[str]:
        # formats are checked as the services check them (ipv4, uuid, date-time...)
        # one validator per schema: building one over a large description costs more than
        # validating (the schemas live as long as this description, so their ids are stable)
        validator = self._validators.get(id(schema))
        if validator is None:
            validator = self._validator(schema, format_checker=self._validator.FORMAT_CHECKER)
            self._validators[id(schema)] = validator
        found = []
        for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.path)):
            at = ".".join(str(p) for p in error.path)
            found.append(f"{where}{'.' + at if at else ''}: {error.message}")
        return found

    def check_request(
        self, operation: Operation, params: Mapping[str, str], body: Any, path: str = ""
    ) -> list[str]:
        found = []
        matched = operation.pattern.match(path) if operation.path_params else None
        values = matched.groups() if matched else ()
        for name, value in zip(operation.path_names[: len(values)], values, strict=True):
            schema = operation.path_params.get(name)
            if schema is not None:
                found += self._schema_errors(schema, value, f"request.path.{name}")
        for name in operation.required_query:
            if name not in params:
                found.append(f"request.query.{name}: required parameter missing")
        for name, value in params.items():
            schema = operation.query.get(name)
            if schema is None:
                if not operation.query_additional:
                    found.append(f"request.query.{name}: not a documented parameter")
            else:
                found += self._schema_errors(schema, value, f"request.query.{name}")
        if operation.body is None:
            if body is not None:
                found.append("request.body: this operation takes no body")
        elif body is None:
            if operation.body.get("x-required-body", False):
                found.append("request.body: a JSON body is required")
        else:
            found += self._schema_errors(operation.body, body, "request.body")
        return found

    def check_response(self, operation: Operation, status: int, body: Any) -> list[str]:
        code = str(status)
        if code in operation.responses:
            schema = operation.responses[code]
            if schema is None:
                return []
            if body is None:
                return [f"response.{code}: the description has a body for it, the fake sent none"]
            return self._schema_errors(schema, body, f"response.{code}.body")
        if status >= 400 and self.errors is not None:
            return self._schema_errors(self.errors, body, f"response.{code}.body")
        return [f"response.{code}: not a documented status of {operation.key}"]


@attrs.define
class ScriptedFailure:
    """One transient failure (:meth:`DescribedApp.fail_next`): the next ``method`` request whose
    path matches ``path`` (a regex) and whose JSON body contains ``body`` (a recursive subset)
    answers ``status``. With ``after`` the cloud did the work first and the reply was lost on the
    way (a gateway's 502); without it nothing happened (a 429 or 503 before any work)."""

    method: str
    path: str
    status: int
    body: Any = attrs.field(factory=dict)
    after: bool = False

    def matches(self, request: JsonRequest) -> bool:
        return (
            request.method == self.method
            and re.fullmatch(self.path, request.path) is not None
            and _contains(request.body, self.body)
        )


def _contains(sent: Any, wanted: Any) -> bool:
    if wanted == {}:
        return True
    if isinstance(wanted, dict):
        return isinstance(sent, dict) and all(
            k in sent and _contains(sent[k], v) for k, v in wanted.items()
        )
    return bool(sent == wanted)


class DescribedApp(JsonApp):
    """A :class:`JsonApp` whose traffic is checked against one or more :class:`ApiDescription`.

    Subclasses route as usual; :meth:`describe` adds descriptions (each with its path prefix).
    :meth:`gate` answers before any route (authentication, rate limits); its replies are checked
    too. Paths listed in ``undescribed_paths`` (regexes: version documents, ...) are served
    without checks.
    """

    #: paths (regexes) the fake serves that no description covers on purpose (version roots)
    undescribed_paths: Sequence[str] = ()
    #: seconds a scripted 429 asks the client to wait
    retry_after = "1"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.descriptions: list[ApiDescription] = []
        self._violations: list[str] = []
        self._failures: list[ScriptedFailure] = []
        #: ``(method, path, JSON body)`` of every described request, for tests to read back
        self.received: list[tuple[str, str, Any]] = []

    def describe(self, description: ApiDescription) -> None:
        self.descriptions.append(description)

    def fail_next(self, method: str, path: str, status: int, **how: Any) -> None:
        """Script one transient failure of a matching request (see :class:`ScriptedFailure`)."""
        with self.lock:
            self._failures.append(ScriptedFailure(method.upper(), path, status, **how))

    def clear_failures(self) -> None:
        with self.lock:
            self._failures.clear()

    def gate(self, request: JsonRequest) -> JsonReply | None:
        """A reply given before routing (e.g. 401 for a bad token), or None to go on."""
        del request
        return None

    def failure_reply(self, status: int) -> JsonReply:
        """The cloud's answer for a scripted transient failure."""
        reply = self.error(status, "transient", _TRANSIENT.get(status, "Service Unavailable"))
        if status in (413, 429, 503):
            return JsonReply(status, reply.body, {**reply.headers, "Retry-After": self.retry_after})
        return reply

    def _operation(self, method: str, path: str) -> tuple[ApiDescription, Operation] | None:
        for description in self.descriptions:
            found = description.match(method, path)
            if found is not None:
                return description, found
        return None

    def _scripted(self, request: JsonRequest) -> ScriptedFailure | None:
        with self.lock:
            for failure in self._failures:
                if failure.matches(request):
                    self._failures.remove(failure)
                    return failure
        return None

    def _dispatch(
        self, method: str, path: str, params: dict[str, str], raw: bytes, headers: dict[str, str]
    ) -> JsonReply:
        if any(re.match(p, path) for p in self.undescribed_paths):
            return super()._dispatch(method, path, params, raw, headers)
        found = self._operation(method, path)
        if found is None:
            self._note([f"{method} {path}: no such operation in the description"])
            return self.error(404, "not_found", f"{method} {path} is not a documented operation")
        description, operation = found
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self._note([f"{operation.key}: request.body: not JSON"])
            return self.error(400, "bad_request", "request body is not JSON")
        request = JsonRequest(method, path, params, body, headers)
        with self.lock:
            self.received.append((method, path, body))
        reply = self.gate(request)
        if reply is None:
            broken = description.check_request(operation, params, body, path)
            if broken:
                self._note([f"{operation.key}: {b}" for b in broken])
                return self.error(400, "bad_request", "; ".join(broken))
            failure = self._scripted(request)
            if failure is not None and not failure.after:
                reply = self.failure_reply(failure.status)
            else:
                reply = super()._dispatch(method, path, params, raw, headers)
                if failure is not None:  # done, but the answer is lost on the way back
                    reply = self.failure_reply(failure.status)
        self._note(
            [
                f"{operation.key}: {b}"
                for b in description.check_response(operation, reply.status, reply.body)
            ]
        )
        return reply

    def _note(self, found: list[str]) -> None:
        if found:
            with self.lock:
                self._violations.extend(found)

    def violations(self) -> list[str]:
        with self.lock:
            return list(self._violations)

    def take_violations(self) -> list[str]:
        """Return the violations seen so far and forget them (for tests that provoke one)."""
        with self.lock:
            found = list(self._violations)
            self._violations.clear()
            return found

    def clear_violations(self) -> None:
        with self.lock:
            self._violations.clear()
            self.received.clear()

    def sent(self, method: str, path: str) -> list[Any]:
        """The JSON bodies of the described ``method path`` requests received so far."""
        with self.lock:
            return [b for m, p, b in self.received if m == method.upper() and p == path]


_TRANSIENT = {
    413: "Rate limit exceeded",
    429: "Rate limit reached - please try your request again later.",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class DescribedEmulator:
    """A :class:`DescribedApp` served on 127.0.0.1 (the same surface as the Prism emulators:
    ``endpoint``, ``host``, ``port``, ``requests``, ``reset()``, ``violations()``,
    ``take_violations()``, ``stop()``)."""

    def __init__(self, fake: DescribedApp) -> None:
        self.name = fake.name
        self.fake = fake
        self._server = BackgroundServer(fake, name=fake.name)
        self.host = self._server.endpoint.split("//", 1)[1].split(":", 1)[0]
        self.port = self._server.port

    @property
    def endpoint(self) -> str:
        return self._server.endpoint

    @property
    def requests(self) -> RequestLog:
        return self.fake.requests

    def reset(self) -> None:
        reset = getattr(self.fake, "reset", None)
        if callable(reset):
            reset()
        self.fake.requests.clear()
        self.fake.clear_violations()
        self.fake.clear_failures()

    def violations(self) -> list[str]:
        return self.fake.violations()

    def take_violations(self) -> list[str]:
        return self.fake.take_violations()

    def stop(self) -> None:
        self._server.stop()


class _Checked(Protocol):
    name: str

    def reset(self) -> None: ...

    def violations(self) -> list[str]: ...


E = TypeVar("E", bound=_Checked)


def described_test(emulator: E, *, what: str = "API description") -> Iterator[E]:
    """Body of a per-test fixture for any checked emulator (this module's, or Prism's): reset
    before, fail at teardown naming the violations the test left behind."""
    import pytest

    emulator.reset()
    yield emulator
    broken = emulator.violations()
    emulator.reset()
    if broken:
        pytest.fail(
            f"the {emulator.name} {what} was violated during the test "
            "(request.* = the client sent it, response.* = the fake answered it):\n  "
            + "\n  ".join(broken),
            pytrace=False,
        )


def described_session(
    make: Callable[[], DescribedApp], *, missing: tuple[type[Exception], ...] = ()
) -> Iterator[DescribedEmulator]:
    """Body of a session fixture: serve the fake ``make()`` builds until the session ends.

    When ``make`` raises one of ``missing`` (the package carrying the description is not
    installed) the tests skip with its message, or fail with ``SLOTH_REQUIRE_EMULATORS=1``.
    """
    import os

    import pytest

    try:
        fake = make()
    except missing as absent:
        if os.environ.get("SLOTH_REQUIRE_EMULATORS") == "1":
            pytest.fail(f"emulator required but unavailable: {absent}")
        pytest.skip(f"emulator unavailable: {absent}")
    emulator = DescribedEmulator(fake)
    try:
        yield emulator
    finally:
        emulator.stop()


__all__ = [
    "ApiDescription",
    "DescribedApp",
    "DescribedEmulator",
    "Operation",
    "ScriptedFailure",
    "described_session",
    "described_test",
]
