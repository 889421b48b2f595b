"""The supervisor: what joining nodes ask a server for (K3s: on 6443, shared with the API;
RKE2: on 9345, and the API port knows none of it).

Routes and their authentication from k3s-io/k3s ``pkg/server/router.go`` (v1.31.4+k3s1; RKE2
uses the same code with ``SupervisorPort`` 9345): ``/cacerts`` (anyone), ``/ping``,
``/v1-k3s/server-bootstrap`` and ``/db/info`` (user ``server`` + server token),
``/v1-k3s/client-kubelet.crt`` (user ``node``/``server`` + token, header ``K3s-Node-Name``).
A wrong token is a 401. Each accepted kubelet certificate of another node is a registration
recorded in ``joins.log`` with the number of nodes registered before it, as is each
server's bootstrap request.
"""

from __future__ import annotations

import base64
import hmac
import json
import threading
from typing import Any

from . import pki
from .config import token_password
from .http import Request, Response, status
from .records import record
from .store import ApiFailure, Store

BOOTSTRAP_FILES = [f"{ca}.{ext}" for ca in pki.CAS for ext in ("crt", "key")]


class Supervisor:
    def __init__(self, tls: str, token: str, own_name: str, store: Store, members: Any) -> None:
        self.tls = tls
        self.password = token_password(token)
        self.own_name = own_name
        self.store = store
        self.members = members  # () -> etcd member list
        self.lock = threading.Lock()
        self.pending: set[str] = set()

    def _user(self, request: Request) -> tuple[str, str]:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return "", ""
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return "", ""
        return user, password

    def handle(self, request: Request) -> Response | None:
        """The answer for a supervisor path, None for any other path."""
        path = request.path
        if path == "/cacerts":
            return Response(200, pki.read(f"{self.tls}/server-ca.crt").encode(), "text/plain")
        if path == "/ping":
            return Response(200, b"pong", "text/plain")
        if not (path.startswith("/v1-") or path == "/db/info"):
            return None
        user, password = self._user(request)
        name = request.headers.get("k3s-node-name", "")
        if not hmac.compare_digest(token_password(password), self.password) or user not in (
            "server",
            "node",
        ):
            record(f"DENIED {name or '?'} port={request.port}", "joins.log")
            return status(401, "Unauthorized", "Unauthorized")
        if path.endswith("/server-bootstrap") or path == "/db/info":
            if user != "server":
                return status(401, "Unauthorized", "Unauthorized")
            if path == "/db/info":
                return Response.of(200, {"members": self.members()})
            if name:  # a server joins when it takes the cluster's CAs
                self._joined(name, "server", request.port)
            return Response.of(200, {f: pki.read(f"{self.tls}/{f}") for f in BOOTSTRAP_FILES})
        if path.endswith("/client-kubelet.crt"):
            if not name:
                return status(400, "BadRequest", "missing K3s-Node-Name header")
            self._joined(name, "server" if user == "server" else "agent", request.port)
            crt, key = pki.issue(
                self.tls,
                "client-ca",
                f"kubelet/{name}",
                f"system:node:{name}",
                organization="system:nodes",
                client=True,
            )
            return Response(200, (pki.read(crt) + pki.read(key)).encode(), "text/plain")
        return status(404, "NotFound", "not found")

    def _joined(self, name: str, role: str, port: int) -> None:
        if name == self.own_name:
            return
        with self.lock:
            nodes = self._node_names()
            if name in nodes:
                return  # a restart: already registered
            self.pending -= nodes
            if role == "server" and self.pending - {name}:
                record(f"CONCURRENT {name}", "joins.log")
            if name not in self.pending:
                record(f"JOIN {name} {role} members_before={len(nodes)} port={port}", "joins.log")
                self.pending.add(name)

    def _node_names(self) -> set[str]:
        try:
            resource = next(r for r in self.store.catalog() if r.plural == "nodes" and not r.group)
            items, _ = self.store.list(resource)
        except (ApiFailure, OSError, Exception):
            return set()
        return {i["metadata"]["name"] for i in items}


def bootstrap_files(reply: bytes) -> dict[str, str]:
    data: dict[str, str] = json.loads(reply)
    missing = [f for f in BOOTSTRAP_FILES if f not in data]
    if missing:
        raise ValueError(f"bootstrap data without {missing}")
    return data
