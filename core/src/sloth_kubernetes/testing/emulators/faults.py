"""A small forwarding HTTP proxy that injects faults: 429 with Retry-After, 503, dropped
connections, and latency.

Put it in front of any emulator (``FaultyProxy(upstream=emulator.endpoint, ...)``) and point the
client at ``proxy.endpoint``. Which requests fail is decided by a seeded random generator in the
order requests arrive, so a serial test sees the same faults on every run. A 429/503 is answered
by the proxy and never reaches the upstream, as with a real rate limiter. Two faults cut the
client's connection without a reply: :data:`DROP` before the request reaches the upstream (a
load balancer resetting it), :data:`LOST_REPLY` after the upstream acted on it (the machine was
created, its reply never arrived) — the case a client must not answer by creating it again.

Concurrent clients share the one sequence, so which request a fault lands on depends on how their
threads interleave; a seeded run of 30 % faults can then hand one request a burst of six faults in
a row (the last straggler of a destroy draws the sequence's tail alone). ``max_burst`` bounds how
many faults one request (method and path) meets in a row, so a retry budget larger than it always
gets through, whatever the interleaving.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import attrs

from sloth_kubernetes.testing.emulators._http import (
    BackgroundServer,
    RecordedRequest,
    RequestLog,
    reason,
)

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
}

#: One JSON error body that the JSON API clients in use read, whichever key they look at: ``id`` and
#: ``message``, ``errors[0].reason``, or ``error.code`` and ``error.message``.
_JSON_FAULT = {
    429: ("too_many_requests", "API rate limit exceeded (injected by the fault proxy)"),
    503: ("service_unavailable", "Service unavailable (injected by the fault proxy)"),
}

#: The connection is cut before the request is forwarded (the upstream never sees it).
DROP = "drop"
#: The request is forwarded, the upstream acts on it, then the connection is cut (reply lost).
LOST_REPLY = "lost-reply"
#: What a test asks for when it wants every kind of fault.
ALL_FAULTS: tuple[int | str, ...] = (429, 503, DROP, LOST_REPLY)

#: Called with (status, headers, body) of every upstream reply; used to collect spec violations.
ResponseHook = Callable[[int, dict[str, str], bytes], None]

#: The error body of an injected fault for an API whose clients read no JSON errors: called with
#: the status, returns ``(content type, body)``. A plugin's test support module provides it.
FaultBody = Callable[[int], tuple[str, bytes]]


@attrs.frozen
class FaultPolicy:
    """What to inject. ``fault_rate`` is the fraction of requests answered with a fault."""

    fault_rate: float = 0.0
    statuses: Sequence[int | str] = (429, 503)  # HTTP statuses, DROP, LOST_REPLY
    retry_after: int = 1
    latency: float = 0.0  # seconds added before every request
    seed: int = 0
    #: the injected error body; None: the JSON body above
    fault_body: FaultBody | None = None
    #: at most this many faults in a row for one method and path (None: no bound)
    max_burst: int | None = None


@attrs.define
class FaultCounters:
    requests: int = 0
    faults: int = 0
    by_status: dict[int, int] = attrs.field(factory=dict)
    by_fault: dict[int | str, int] = attrs.field(factory=dict)


class FaultyProxy:
    """A running fault-injecting proxy in front of ``upstream`` (``http://host:port``)."""

    def __init__(
        self,
        upstream: str,
        policy: FaultPolicy | None = None,
        *,
        on_response: ResponseHook | None = None,
        name: str = "faulty-proxy",
    ) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be http://host:port, not {upstream!r}")
        self.upstream = upstream
        self._upstream_host = parts.hostname
        self._upstream_port = parts.port or 80
        self.policy = policy or FaultPolicy()
        self.on_response = on_response
        self.requests = RequestLog()
        self._lock = threading.Lock()
        self._random = random.Random(self.policy.seed)  # noqa: S311 (not for security)
        self._faults = 0
        self._by_fault: dict[int | str, int] = {}
        self._in_a_row: dict[tuple[str, str], int] = {}  # faults per request since its last pass
        self._server = BackgroundServer(self, name=name)
        self.host = "127.0.0.1"
        self.port = self._server.port

    @property
    def endpoint(self) -> str:
        return self._server.endpoint

    @property
    def counters(self) -> FaultCounters:
        records = self.requests.records
        by_status: dict[int, int] = {}
        for record in records:
            by_status[record.status] = by_status.get(record.status, 0) + 1
        with self._lock:
            return FaultCounters(
                requests=len(records),
                faults=self._faults,
                by_status=by_status,
                by_fault=dict(self._by_fault),
            )

    def configure(self, policy: FaultPolicy) -> None:
        """Switch policy (and restart the seeded sequence), e.g. to stop injecting mid-test."""
        with self._lock:
            self.policy = policy
            self._random = random.Random(policy.seed)  # noqa: S311
            self._in_a_row = {}

    def reset(self) -> None:
        """Zero the counters and restart the seeded fault sequence."""
        with self._lock:
            self._random = random.Random(self.policy.seed)  # noqa: S311
            self._faults = 0
            self._by_fault = {}
            self._in_a_row = {}
        self.requests.clear()

    def stop(self) -> None:
        self._server.stop()

    # ------------------------------------------------------------------ WSGI

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "/")
        query = environ.get("QUERY_STRING", "")
        with self._lock:
            policy = self.policy
            fault = self._draw(policy, (method, path))
        if policy.latency:
            time.sleep(policy.latency)
        if fault == DROP:
            self.requests.add(RecordedRequest(method=method, path=path, status=0))
            _cut(environ, unread_body=True)
        if isinstance(fault, int):
            status, headers, body = self._fault_reply(fault, policy)
        else:
            status, headers, body = self._forward(environ, method, path, query)
        if fault == LOST_REPLY:
            self.requests.add(RecordedRequest(method=method, path=path, status=0))
            _cut(environ, unread_body=False)  # forwarding read it
        self.requests.add(RecordedRequest(method=method, path=path, status=status))
        headers.append(("Content-Length", str(len(body))))
        start_response(f"{status} {reason(status)}", headers)
        return [body]

    def _draw(self, policy: FaultPolicy, request: tuple[str, str]) -> int | str | None:
        """The fault for the next request (under the lock): the seeded sequence, unless this
        request already met ``max_burst`` faults in a row."""
        if policy.fault_rate <= 0:
            return None
        drawn = self._random.random() < policy.fault_rate
        kind = self._random.choice(list(policy.statuses)) if drawn else None
        in_a_row = self._in_a_row.get(request, 0)
        if kind is None or (policy.max_burst is not None and in_a_row >= policy.max_burst):
            self._in_a_row.pop(request, None)
            return None
        self._in_a_row[request] = in_a_row + 1
        self._faults += 1
        self._by_fault[kind] = self._by_fault.get(kind, 0) + 1
        return kind

    def _forward(
        self, environ: WSGIEnvironment, method: str, path: str, query: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else None
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_") and key[5:].replace("_", "-").lower() not in _HOP_BY_HOP
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        if body is not None:
            headers["Content-Length"] = str(len(body))
        connection = http.client.HTTPConnection(
            self._upstream_host, self._upstream_port, timeout=60
        )
        try:
            connection.request(method, path + (f"?{query}" if query else ""), body, headers)
            reply = connection.getresponse()
            data = reply.read()
            reply_headers = [(k, v) for k, v in reply.getheaders() if k.lower() not in _HOP_BY_HOP]
            status = reply.status
        except OSError as error:
            message = f"fault proxy could not reach {self.upstream}: {error}"
            return 502, [("Content-Type", "text/plain")], message.encode()
        finally:
            connection.close()
        if self.on_response is not None:
            self.on_response(status, dict(reply_headers), data)
        return status, reply_headers, data

    @staticmethod
    def _fault_reply(status: int, policy: FaultPolicy) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = [("Retry-After", str(policy.retry_after))]
        if policy.fault_body is not None:
            content_type, body = policy.fault_body(status)
            return status, [*headers, ("Content-Type", content_type)], body
        code, message = _JSON_FAULT.get(status, ("error", "Injected by the fault proxy"))
        payload = {
            "id": code,
            "message": message,
            "errors": [{"reason": message}],
            "error": {"code": code, "message": message},
        }
        return (
            status,
            [*headers, ("Content-Type", "application/json")],
            json.dumps(payload).encode(),
        )


def _cut(environ: WSGIEnvironment, *, unread_body: bool) -> None:
    """Reset the client's connection without a reply (what a client sees as "connection reset by
    peer" / "remote end closed connection") and end this request quietly."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if unread_body and length:  # or the server takes the unread body for a next request
        environ["wsgi.input"].read(length)
    connection: socket.socket = environ["werkzeug.socket"]
    # SO_LINGER 0: closing sends a RST instead of a FIN, as a crashed load balancer does
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.shutdown(socket.SHUT_RDWR)
    # werkzeug treats ConnectionError as "client went away" and logs nothing
    raise ConnectionResetError("connection cut by the fault proxy")
