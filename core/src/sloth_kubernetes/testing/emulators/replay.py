"""Recorded responses: exchanges a fake cannot produce, or an API with no local server.

A scenario is a folder of JSON files, read in name order; each file is one exchange::

    {
      "request":  {"method": "POST", "path": "/v2/instances",
                   "query": {"per_page": "100"},      # optional: these params must be present
                   "body": {"label": "node-1"}},      # optional: a subset the body must contain
      "response": {"status": 202, "headers": {"X-Id": "1"}, "body": {"instance": {...}}}
    }

``{{endpoint}}`` anywhere in a response (body or header values) is replaced by the server's own
``http://127.0.0.1:PORT``, for APIs whose replies point at further endpoints (a service catalog,
OAuth token URIs, operation links). Several files with the same method and path are
served in order (a list before and after a create), the last one repeating. A request nothing
matches gets ``421`` (a 4xx: clients fail at once instead of retrying) with a message listing
the recorded routes, and lands in :attr:`ReplayServer.unmatched` so a test can assert there
were none.
Responses come from the provider's documentation or a real session (secrets removed), never from
our own code, so the driver is checked against the cloud's shapes rather than our assumptions.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import attrs

from sloth_kubernetes.testing.emulators._http import (
    BackgroundServer,
    EmulatorError,
    RecordedRequest,
    RequestLog,
    reason,
)

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment


@attrs.frozen
class Exchange:
    source: str
    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any] | None
    status: int
    headers: dict[str, str]
    response_body: Any

    def matches(self, method: str, path: str, query: dict[str, str], body: Any) -> bool:
        if method != self.method or path.rstrip("/") != self.path.rstrip("/"):
            return False
        if any(query.get(k) != v for k, v in self.query.items()):
            return False
        return self.body is None or _contains(body, self.body)


def _contains(actual: Any, expected: Any) -> bool:
    """``expected`` is a subset of ``actual``: dicts by their keys, recursively (so a recording
    can match ``{"server": {"name": "node-1"}}`` inside a larger body); anything else equal."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and _contains(actual[key], value) for key, value in expected.items()
        )
    return bool(actual == expected)


def load_scenario(directory: Path) -> list[Exchange]:
    """Every ``*.json`` exchange under ``directory``, in file-name order."""
    files = sorted(directory.rglob("*.json"))
    if not files:
        raise EmulatorError(f"no recorded exchanges (*.json) under {directory}")
    exchanges = []
    for file in files:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
            request, response = data["request"], data["response"]
            exchanges.append(
                Exchange(
                    source=str(file.relative_to(directory)),
                    method=request["method"].upper(),
                    path=request["path"],
                    query={k: str(v) for k, v in request.get("query", {}).items()},
                    body=request.get("body"),
                    status=int(response.get("status", 200)),
                    headers=dict(response.get("headers", {})),
                    response_body=response.get("body"),
                )
            )
        except (ValueError, KeyError, TypeError) as problem:
            raise EmulatorError(f"{file}: not a recorded exchange ({problem!r})") from problem
    return exchanges


class ReplayServer:
    """Serves a scenario folder on 127.0.0.1; :meth:`reset` rewinds every sequence."""

    def __init__(self, directory: str | Path, *, name: str = "replay") -> None:
        self.name = name
        self.directory = Path(directory)
        self.exchanges = load_scenario(self.directory)
        self.requests = RequestLog()
        self.unmatched: list[str] = []
        #: (method, path, decoded JSON body or None) of every request, to read back what a client
        #: sent (user data, tags, firewall rules).
        self.received: list[tuple[str, str, Any]] = []
        self._served: dict[int, int] = {}  # exchange index -> times served
        self._lock = threading.Lock()
        self._server = BackgroundServer(self, name=name)
        self.host = "127.0.0.1"
        self.port = self._server.port

    @property
    def endpoint(self) -> str:
        return self._server.endpoint

    def reset(self) -> None:
        with self._lock:
            self._served.clear()
            self.unmatched.clear()
            self.received.clear()
        self.requests.clear()

    def stop(self) -> None:
        self._server.stop()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"].upper()
        path = environ.get("PATH_INFO", "/")
        query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            self.received.append((method, path, body))
            exchange = self._next(method, path, query, body)
            if exchange is None:
                self.unmatched.append(f"{method} {path}?{environ.get('QUERY_STRING', '')}")
        if exchange is None:
            routes = sorted({f"{e.method} {e.path}" for e in self.exchanges})
            payload = (
                f"no recorded exchange for {method} {path} in {self.directory}; recorded: "
                + ", ".join(routes)
            ).encode()
            status, headers = 421, [("Content-Type", "text/plain")]
        else:
            status = exchange.status
            headers = [(k, self._expand(v)) for k, v in exchange.headers.items()]
            if exchange.response_body is None:
                payload = b""
            else:
                payload = self._expand(json.dumps(exchange.response_body)).encode()
                if not any(k.lower() == "content-type" for k, _ in headers):
                    headers.append(("Content-Type", "application/json"))
        self.requests.add(RecordedRequest(method=method, path=path, status=status))
        headers.append(("Content-Length", str(len(payload))))
        start_response(f"{status} {reason(status)}", headers)
        return [payload]

    def _expand(self, text: str) -> str:
        return text.replace("{{endpoint}}", self.endpoint)

    def _next(self, method: str, path: str, query: dict[str, str], body: Any) -> Exchange | None:
        candidates = [
            index
            for index, exchange in enumerate(self.exchanges)
            if exchange.matches(method, path, query, body)
        ]
        if not candidates:
            return None
        # The first candidate not served yet, else the last one again.
        for index in candidates:
            if not self._served.get(index):
                self._served[index] = 1
                return self.exchanges[index]
        last = candidates[-1]
        self._served[last] += 1
        return self.exchanges[last]
