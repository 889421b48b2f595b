"""A fake AWS EC2 API: moto's server behind a WSGI wrapper that makes its replies parse like AWS's.

moto's EC2 replies differ from AWS in ways that silently break libcloud's ``EC2NodeDriver``
(measured with moto 5.2 and libcloud 3.9):

* the XML namespace lacks AWS's trailing slash (``.../doc/2016-11-15``), so every namespaced
  ``findall`` in libcloud matches nothing and every list comes back empty;
* error bodies carry that namespace too, while AWS sends ``<Response><Errors>`` without one, so
  libcloud's ``findall("Errors/Error")`` finds nothing and raises an exception with no message;
* actions that AWS answers with ``<return>true</return>`` (RebootInstances, DeleteSecurityGroup,
  ...) are answered with only a ``requestId``, so libcloud reports ``False``.

The wrapper fixes those three and nothing else. It runs in a subprocess (``python -m ec2_fake``,
this file) so moto's global state and its heavy imports stay out of the test process;
:class:`Ec2Emulator` starts and stops it. :func:`aws_fault_body` is the error body a fault proxy
injects in front of it (``faulty_proxy(ec2_emulator, fault_body=aws_fault_body)``).
"""

from __future__ import annotations

import io
import json
import re
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from sloth_kubernetes.testing.emulators._http import (
    LOOPBACK,
    EmulatorError,
    RecordedRequest,
    RequestLog,
    loopback_call,
    quiet_handler,
    start_process,
    stop_process,
    wait_for_log_line,
)

if TYPE_CHECKING:
    import subprocess
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

#: The namespace libcloud's EC2 driver (API version 2016-11-15) looks elements up in.
LIBCLOUD_EC2_NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15/"
_MOTO_NAMESPACE = re.compile(rb'xmlns="http://ec2\.amazonaws\.com/doc/[^"]*"')
_ONLY_REQUEST_ID = re.compile(
    rb"^(<\?xml[^>]*\?>\s*<(\w+)Response [^>]*>)\s*"
    rb"(<requestId>[^<]*</requestId>)\s*(</\2Response>)\s*$"
)
_CONTROL_PREFIX = "/sloth-emulator/"
READY_LINE = "sloth-emulator ec2 listening on port "


class Ec2CompatMiddleware:
    """Wrap moto's WSGI app so EC2 replies look like AWS's to libcloud; count requests."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app
        self.requests = RequestLog()
        # (action, seconds moto spent answering it): the emulator's own cost per request, so
        # benchmarks can tell moto's time from the client's
        self.timings: list[tuple[str | None, float]] = []

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path.startswith(_CONTROL_PREFIX):
            return self._control(path, start_response)
        if path == "/moto-api/reset":
            self.requests.clear()
            self.timings.clear()
            return self.app(environ, start_response)
        action = self._action(environ)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda _data: None

        started = time.perf_counter()
        body = b"".join(self.app(environ, capture))
        spent = time.perf_counter() - started
        status_line: str = captured["status"]
        status = int(status_line.split(maxsplit=1)[0])
        if action is not None:
            body = self.rewrite(body, status)
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
        start_response(status_line, headers)
        self.requests.add(
            RecordedRequest(
                method=environ["REQUEST_METHOD"], path=path, status=status, action=action
            )
        )
        self.timings.append((action, spent))  # list.append is atomic: no lock needed
        return [body]

    @staticmethod
    def rewrite(body: bytes, status: int) -> bytes:
        """Turn one moto EC2 reply into the shape AWS sends."""
        if status >= 400:
            # AWS error bodies are not namespaced; libcloud looks them up without one.
            return _MOTO_NAMESPACE.sub(b"", body).replace(b"<Response >", b"<Response>")
        body = _MOTO_NAMESPACE.sub(f'xmlns="{LIBCLOUD_EC2_NAMESPACE}"'.encode(), body)
        match = _ONLY_REQUEST_ID.match(body)
        if match:
            head, _name, request_id, tail = match.groups()
            body = head + request_id + b"<return>true</return>" + tail
        return body

    @staticmethod
    def _action(environ: WSGIEnvironment) -> str | None:
        params = dict(parse_qsl(str(environ.get("QUERY_STRING", ""))))
        if "Action" in params:
            return params["Action"]
        if environ.get("REQUEST_METHOD") == "POST" and "x-www-form-urlencoded" in environ.get(
            "CONTENT_TYPE", ""
        ):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(raw)  # moto reads it again
            return dict(parse_qsl(raw.decode())).get("Action")
        return None

    def _control(self, path: str, start_response: StartResponse) -> list[bytes]:
        if path == _CONTROL_PREFIX + "requests":
            payload = json.dumps(
                [[r.method, r.path, r.status, r.action] for r in self.requests.records]
            ).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [payload]
        if path == _CONTROL_PREFIX + "timings":
            payload = json.dumps(self.timings).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [payload]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"unknown control path"]


def _index_image_lookups() -> None:
    """Answer moto's own AMI lookup by id from its AMI dict.

    moto's ``Instance`` looks its image up with a filter that walks every AMI moto knows (a few
    hundred, each matched through its generic filter code) on every RunInstances: ~40% of the
    request's cost, measured with py-spy. The same question answered by key gives the same
    answer (the AMI, or none: moto accepts unknown images either way), so nothing a test checks
    changes; any other lookup (names, owners, wildcards) goes to moto's own code.
    """
    from moto.ec2.models.amis import AmiBackend

    original = AmiBackend.describe_images

    def describe_images(
        self: Any,
        ami_ids: Any = None,
        filters: Any = None,
        exec_users: Any = None,
        owners: Any = None,
    ) -> Any:
        wanted = (filters or {}).get("image-id")
        if (
            isinstance(wanted, str)
            and list(filters) == ["image-id"]
            and not (ami_ids or exec_users or owners)
            and not any(char in wanted for char in "*?[")
        ):
            found = self.amis.get(wanted)
            return [found] if found is not None else []
        return original(self, ami_ids, filters, exec_users, owners)

    AmiBackend.describe_images = describe_images  # type: ignore[method-assign]


def serve() -> None:
    """Entry point of the subprocess: serve moto's EC2 through the wrapper until killed."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    _index_image_lookups()
    app = Ec2CompatMiddleware(DomainDispatcherApplication(create_backend_app))
    server = make_server(LOOPBACK, 0, app, threaded=True, request_handler=quiet_handler())
    print(READY_LINE + str(server.server_address[1]), flush=True)
    server.serve_forever()


def ec2_driver(emulator: Any) -> Any:
    """libcloud's ``EC2NodeDriver`` pointed at ``emulator`` (or a proxy in front of it)."""
    from libcloud.compute.drivers.ec2 import EC2NodeDriver

    return EC2NodeDriver(
        "AKIDSLOTHTEST", "not-a-secret", region="eu-west-1", host=emulator.host,
        port=emulator.port, secure=False, signature_version="4",
    )  # fmt: skip


class Ec2Emulator:
    """A running moto EC2 server. Point ``EC2NodeDriver(..., host=, port=, secure=False,
    signature_version="4")`` at it."""

    name = "ec2"

    def __init__(self, *, startup_timeout: float = 30.0) -> None:
        self._log = tempfile.NamedTemporaryFile(prefix="sloth-ec2-", suffix=".log", delete=False)  # noqa: SIM115
        started = time.monotonic()
        self.process: subprocess.Popen[bytes] = start_process(
            [sys.executable, "-m", "ec2_fake"],
            log=self._log,
            env={"PYTHONPATH": _pythonpath()},
        )
        try:
            match = wait_for_log_line(
                self.process,
                self._log.name,
                re.compile(re.escape(READY_LINE) + r"(\d+)"),
                timeout=startup_timeout,
                what="the moto EC2 server",
            )
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        self.host = LOOPBACK
        self.port = int(match.group(1))

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def reset(self) -> None:
        """Forget every instance, key pair, group, ... (moto's ``POST /moto-api/reset``)."""
        status, body = loopback_call(self.port, "POST", "/moto-api/reset", b"")
        if status != 200:
            raise EmulatorError(f"moto refused the reset ({status}): {body[:200]!r}")

    @property
    def requests(self) -> RequestLog:
        """A snapshot of the EC2 requests answered since the last reset."""
        _status, body = loopback_call(self.port, "GET", _CONTROL_PREFIX + "requests")
        rows = json.loads(body)
        log = RequestLog()
        for method, path, status, action in rows:
            log.add(RecordedRequest(method=method, path=path, status=status, action=action))
        return log

    def timings(self) -> list[tuple[str | None, float]]:
        """(EC2 action, seconds moto spent on it) of every request answered since the last
        reset, in arrival order: the emulator's own cost, without the network or the client."""
        _status, body = loopback_call(self.port, "GET", _CONTROL_PREFIX + "timings")
        return [(action, float(seconds)) for action, seconds in json.loads(body)]

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the emulator process has used so far: moto's own cost,
        whatever the client's concurrency."""
        import os

        with open(f"/proc/{self.process.pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        stop_process(self.process)
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)


def _pythonpath() -> str:
    """The subprocess imports this module and the core, even when core is not pip-installed."""
    import os

    import sloth_kubernetes

    here = str(Path(__file__).resolve().parent)
    core_source = str(Path(sloth_kubernetes.__file__).resolve().parents[1])
    existing = os.environ.get("PYTHONPATH", "")
    return os.pathsep.join([here, core_source, *([existing] if existing else [])])


#: The error codes AWS answers a throttled or overloaded request with (EC2 API reference, "Error
#: codes for the Amazon EC2 API": ``Throttling``/``RequestLimitExceeded``).
_AWS_FAULT = {429: "Throttling", 503: "RequestLimitExceeded"}


def aws_fault_body(status: int) -> tuple[str, bytes]:
    """EC2's XML error body (``<Response><Errors>``, no namespace) for an injected fault: the
    :class:`~sloth_kubernetes.testing.emulators.faults.FaultPolicy` ``fault_body`` for EC2."""
    code = _AWS_FAULT.get(status, "InternalError")
    body = (
        f"<Response><Errors><Error><Code>{code}</Code><Message>Injected by the fault "
        f"proxy</Message></Error></Errors><RequestID>fault</RequestID></Response>"
    )
    return "text/xml", body.encode()


if __name__ == "__main__":
    serve()
