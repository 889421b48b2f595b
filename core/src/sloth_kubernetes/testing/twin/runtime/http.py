"""HTTPS plumbing shared by the API server and the supervisor: TLS with optional client
certificates (verified against the client CA), one thread per connection, HTTP/1.1."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    port: int
    user: str = ""  # from the client certificate's CN
    groups: list[str] = field(default_factory=list)  # its O values

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Response:
    code: int
    body: bytes
    content_type: str = "application/json"

    @classmethod
    def of(cls, code: int, data: Any) -> Response:
        return cls(code, json.dumps(data).encode())


def status(code: int, reason: str, message: str, **details: Any) -> Response:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return Response.of(code, body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    address_family = socket.AF_INET


def serve(
    address: str, port: int, context: ssl.SSLContext, handle: Callable[[Request], Response]
) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _any(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            user, groups = "", []
            try:
                cert = self.connection.getpeercert()
            except (AttributeError, ValueError):
                cert = None
            for rdn in (cert or {}).get("subject", ()):
                for key, value in rdn:
                    if key == "commonName":
                        user = value
                    elif key == "organizationName":
                        groups.append(value)
            request = Request(
                self.command,
                parts.path,
                dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True)),
                {k.lower(): v for k, v in self.headers.items()},
                body,
                port,
                user,
                groups,
            )
            try:
                response = handle(request)
            except Exception as error:  # an answer, never a dropped connection
                response = status(
                    500, "InternalError", f"sloth twin: {type(error).__name__}: {error}"
                )
            self.send_response(response.code)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _any

    server = _Server((address, port), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True, name=f"https-{port}").start()
    return server


def server_context(tls: str, cert: str, client_ca: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(f"{tls}/{cert}.crt", f"{tls}/{cert}.key")
    context.load_verify_locations(f"{tls}/{client_ca}.crt")
    context.verify_mode = ssl.CERT_OPTIONAL
    return context
