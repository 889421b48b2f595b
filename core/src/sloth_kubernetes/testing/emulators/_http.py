"""Shared plumbing for the emulators: a WSGI server in a background thread, a request log, a tiny
JSON router for the stateful fakes, and subprocess helpers.

Everything binds 127.0.0.1 on a port the kernel picks (port 0), so parallel sessions never collide.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import IO, TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

LOOPBACK = "127.0.0.1"


class EmulatorError(RuntimeError):
    """An emulator could not be started or answered something it should not have."""


@attrs.frozen
class RecordedRequest:
    """One request an emulator answered. ``action`` is the ``Action`` parameter of a query-style
    API (None for REST APIs)."""

    method: str
    path: str
    status: int
    action: str | None = None


@attrs.define
class RequestLog:
    """Thread-safe record of the requests one emulator answered since its last reset."""

    _records: list[RecordedRequest] = attrs.field(factory=list)
    _lock: threading.Lock = attrs.field(factory=threading.Lock)

    def add(self, record: RecordedRequest) -> None:
        with self._lock:
            self._records.append(record)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    @property
    def records(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._records)

    @property
    def total(self) -> int:
        with self._lock:
            return len(self._records)

    def count(
        self,
        method: str | None = None,
        path_prefix: str | None = None,
        action: str | None = None,
        status: int | None = None,
    ) -> int:
        """Number of recorded requests matching every given criterion."""
        return sum(
            1
            for r in self.records
            if (method is None or r.method == method.upper())
            and (path_prefix is None or r.path.startswith(path_prefix))
            and (action is None or r.action == action)
            and (status is None or r.status == status)
        )

    def by_status(self) -> Counter[int]:
        return Counter(r.status for r in self.records)


class BackgroundServer:
    """A threaded werkzeug server for one WSGI app, on 127.0.0.1 and a free port."""

    def __init__(self, app: WSGIApplication, *, name: str) -> None:
        from werkzeug.serving import make_server

        self.name = name
        self._server = make_server(LOOPBACK, 0, app, threaded=True, request_handler=quiet_handler())
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            # a short poll interval makes stop() quick (the default 0.5 s adds up over servers)
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"emulator-{name}",
            daemon=True,
        )
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def quiet_handler() -> Any:
    """werkzeug's request handler without its per-request log line on stderr."""
    from werkzeug.serving import WSGIRequestHandler

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *_args: Any, **_kwargs: Any) -> None:
            pass

    return QuietHandler


# ----------------------------------------------------------------------------- JSON router


@attrs.frozen
class JsonRequest:
    method: str
    path: str
    params: Mapping[str, str]
    body: Any
    headers: Mapping[str, str]


@attrs.frozen
class JsonReply:
    status: int
    body: Any = None  # None means an empty body (204)
    headers: Mapping[str, str] = attrs.field(factory=dict)


Handler = Callable[..., JsonReply]


class JsonApp:
    """A WSGI app routing ``METHOD /path/{var}`` to handlers returning :class:`JsonReply`.

    The stateful fakes are built on this; it records every request in :attr:`requests`.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.requests = RequestLog()
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.lock = threading.RLock()  # one lock per fake: handlers mutate shared state

    def route(self, method: str, template: str) -> Callable[[Handler], Handler]:
        pattern = re.compile(
            "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template.rstrip("/")) + "/?$"
        )

        def register(handler: Handler) -> Handler:
            self._routes.append((method.upper(), pattern, handler))
            return handler

        return register

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        from urllib.parse import parse_qsl

        method = environ["REQUEST_METHOD"].upper()
        path = environ.get("PATH_INFO", "/")
        params = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        reply = self._dispatch(method, path, params, raw, headers)
        self.requests.add(RecordedRequest(method=method, path=path, status=reply.status))
        payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        response_headers = [("Content-Length", str(len(payload))), *reply.headers.items()]
        if reply.body is not None:
            response_headers.append(("Content-Type", "application/json"))
        start_response(f"{reply.status} {_REASONS.get(reply.status, 'Status')}", response_headers)
        return [payload]

    def _dispatch(
        self, method: str, path: str, params: dict[str, str], raw: bytes, headers: dict[str, str]
    ) -> JsonReply:
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return self.error(400, "bad_request", "request body is not JSON")
        path_matched = False
        for route_method, pattern, handler in self._routes:
            match = pattern.match(path)
            if not match:
                continue
            path_matched = True
            if route_method != method:
                continue
            request = JsonRequest(method, path, params, body, headers)
            with self.lock:
                return handler(request, **match.groupdict())
        if path_matched:
            return self.error(405, "method_not_allowed", f"{method} is not supported on {path}")
        return self.error(404, "not_found", f"the fake {self.name} API has no route {path}")

    def error(self, status: int, code: str, message: str) -> JsonReply:
        """The cloud's error body; fakes override this to match their API's error schema."""
        return JsonReply(status, {"id": code, "message": message})


_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def reason(status: int) -> str:
    return _REASONS.get(status, "Status")


# ----------------------------------------------------------------------------- subprocesses


#: Set in every emulator process's environment to the pid of the process that started it, so a
#: later run can find the emulators a crashed (SIGKILLed) run left behind.
OWNER_VARIABLE = "SLOTH_EMULATOR_OWNER"


def start_process(
    argv: list[str], *, log: IO[bytes], env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a server process in its own process group so :func:`stop_process` reaps it whole."""
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {}), OWNER_VARIABLE: str(os.getpid())},
        start_new_session=True,
    )


def emulator_processes() -> dict[int, int]:
    """``{pid: owner pid}`` of every running emulator process started by this kit."""
    marker = f"{OWNER_VARIABLE}=".encode()
    found: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                variables = handle.read().split(b"\0")
        except OSError:  # gone, or not ours to read
            continue
        for variable in variables:
            if variable.startswith(marker) and variable[len(marker) :].isdigit():
                found[int(entry)] = int(variable[len(marker) :])
    return found


def process_group_members(pgid: int) -> list[str]:
    """``ps`` lines of the live (not zombie) processes of group ``pgid``: an emulator started by
    :func:`start_process` leads its own group, so after ``stop()`` this is empty."""
    listing = subprocess.run(
        ["ps", "-o", "pid=,stat=", "-g", str(pgid)], capture_output=True, text=True, check=False
    ).stdout.split("\n")
    return [line for line in listing if line.strip() and "Z" not in line.split()[-1]]


def sweep_stale_processes() -> list[int]:
    """Stop emulator processes whose starting process no longer exists (a crashed run)."""
    swept = []
    for pid, owner in emulator_processes().items():
        if owner == os.getpid() or _alive(owner):
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
            swept.append(pid)
    return swept


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_process(process: subprocess.Popen[bytes], *, grace: float = 3.0) -> None:
    """SIGTERM the process group, SIGKILL it after ``grace`` seconds, and reap the leader."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=grace)


def wait_for_log_line(
    process: subprocess.Popen[bytes],
    log_path: str,
    pattern: re.Pattern[str],
    *,
    timeout: float,
    what: str,
) -> re.Match[str]:
    """Poll ``log_path`` until ``pattern`` matches; fail fast if the process dies or times out."""
    deadline = time.monotonic() + timeout
    while True:
        with open(log_path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        match = pattern.search(text)
        if match:
            return match
        if process.poll() is not None:
            raise EmulatorError(
                f"{what} exited with status {process.returncode} before it was ready; "
                f"its output:\n{text[-4000:]}"
            )
        if time.monotonic() > deadline:
            raise EmulatorError(
                f"{what} was not ready after {timeout:.0f} s; its output:\n{text[-4000:]}"
            )
        time.sleep(0.05)


def loopback_call(
    port: int, method: str, path: str, body: bytes | None = None, *, timeout: float = 10.0
) -> tuple[int, bytes]:
    """One plain HTTP request to an emulator on 127.0.0.1 (for control calls like reset)."""
    import http.client

    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        connection.request(method, path, body)
        reply = connection.getresponse()
        return reply.status, reply.read()
    finally:
        connection.close()


def port_is_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((LOOPBACK, port)) == 0
