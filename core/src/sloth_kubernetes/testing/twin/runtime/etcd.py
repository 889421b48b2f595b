"""Embedded etcd: a real etcd (Debian's ``etcd-server`` 3.4, carried in the bundle) run by the
twin as K3s runs its embedded one, and a small client over etcd's v3 JSON gateway.

From k3s-io/k3s ``pkg/etcd/etcd.go`` (read at commits 001bb93 and 2614da0, and a stored copy of
the 2024 release line for the join retry — see :mod:`.etcd_join`):

* data in ``<data-dir>/server/db/etcd`` (0700); member name ``<node-name>-<8 hex>`` kept in
  ``db/etcd/name``; client ``https://127.0.0.1:2379`` and ``https://<node-ip>:2379``, peers
  ``https://<node-ip>:2380``, metrics ``http://127.0.0.1:2381``; TLS everywhere with client
  certificates (``server/tls/etcd``); heartbeat 500 ms, election timeout 5000 ms;
* ``cluster-init``: ``newCluster`` — a one-member cluster, ``initial-cluster-state=new``;
* joining (``join``, in :mod:`.etcd_join`): ``/db/info`` from the server named in ``server:``
  (token-authenticated) lists the members; ``MemberAddAsLearner`` with this node's peer URL unless
  already listed — retried while etcd answers "too many learners" or "unhealthy cluster"; then
  etcd starts with the listed members and ``initial-cluster-state=existing``;
* ``manageLearners``: learners are promoted (``MemberPromote``) once etcd accepts it (in sync
  with the leader). K3s checks every 15 s on the leader; the twin checks every second.
* a restart with an existing WAL reuses the stored options (``db/etcd/config``).
"""

from __future__ import annotations

import base64
import ctypes
import json
import os
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

REQUEST_TIMEOUT = 6.0


class EtcdError(Exception):
    """etcd answered with an error, or did not answer in time (``timeout`` set)."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


def b64(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


class Client:
    """etcd's v3 gRPC gateway (JSON over HTTPS), authenticated with a client certificate."""

    def __init__(
        self, endpoints: list[str], tls: str, files: tuple[str, str, str] | None = None
    ) -> None:
        """``files``: (CA, client certificate, key) paths; else K3s's under ``tls/etcd``."""
        self.endpoints = endpoints
        ca, cert, key = files or (
            f"{tls}/etcd/server-ca.crt",
            f"{tls}/etcd/client.crt",
            f"{tls}/etcd/client.key",
        )
        context = ssl.create_default_context(cafile=ca)
        context.load_cert_chain(cert, key)
        self.context = context

    def call(self, path: str, body: dict[str, Any], timeout: float = REQUEST_TIMEOUT) -> Any:
        last: EtcdError | None = None
        for endpoint in self.endpoints:
            request = urllib.request.Request(
                f"{endpoint}/v3/{path}", data=json.dumps(body).encode(), method="POST"
            )
            request.add_header("Content-Type", "application/json")
            try:
                with urllib.request.urlopen(request, timeout=timeout, context=self.context) as r:
                    return json.loads(r.read() or b"{}")
            except urllib.error.HTTPError as error:
                detail = error.read().decode(errors="replace")
                try:
                    message = json.loads(detail).get("error") or detail
                except ValueError:
                    message = detail
                raise EtcdError(str(message)) from None
            except (TimeoutError, OSError) as error:
                last = EtcdError(
                    f"etcd at {endpoint}: {error}", timeout=isinstance(error, TimeoutError)
                )
        raise last or EtcdError("no etcd endpoint")

    # -- kv ---------------------------------------------------------------------------------
    def get(self, key: str) -> tuple[bytes, int] | None:
        found = self.call("kv/range", {"key": b64(key)}).get("kvs") or []
        if not found:
            return None
        return unb64(found[0].get("value", "")), int(found[0]["mod_revision"])

    def prefix(self, prefix: str) -> tuple[list[tuple[str, bytes, int]], int]:
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        reply = self.call("kv/range", {"key": b64(prefix), "range_end": b64(end)})
        items = [
            (unb64(kv["key"]).decode(), unb64(kv.get("value", "")), int(kv["mod_revision"]))
            for kv in reply.get("kvs") or []
        ]
        return items, int(reply.get("header", {}).get("revision", 0))

    def put(self, key: str, value: bytes) -> int:
        reply = self.call("kv/put", {"key": b64(key), "value": b64(value)})
        return int(reply["header"]["revision"])

    def create(self, key: str, value: bytes) -> int | None:
        """Put ``key`` only if absent; the new revision, or None when it exists."""
        return self._txn(key, value, {"target": "CREATE", "create_revision": "0"})

    def update(self, key: str, value: bytes, revision: int) -> int | None:
        """Put ``key`` only if its mod revision is ``revision``; None on a conflict."""
        return self._txn(key, value, {"target": "MOD", "mod_revision": str(revision)})

    def _txn(self, key: str, value: bytes, compare: dict[str, str]) -> int | None:
        reply = self.call(
            "kv/txn",
            {
                "compare": [{"key": b64(key), "result": "EQUAL", **compare}],
                "success": [{"request_put": {"key": b64(key), "value": b64(value)}}],
            },
        )
        return int(reply["header"]["revision"]) if reply.get("succeeded") else None

    def delete(self, key: str) -> bool:
        return int(self.call("kv/deleterange", {"key": b64(key)}).get("deleted", 0)) > 0

    # -- cluster ----------------------------------------------------------------------------
    def members(self) -> list[dict[str, Any]]:
        return list(self.call("cluster/member/list", {}).get("members") or [])

    def add_learner(self, peer_url: str, timeout: float = REQUEST_TIMEOUT) -> None:
        self.call("cluster/member/add", {"peerURLs": [peer_url], "isLearner": True}, timeout)

    def promote(self, member_id: str) -> None:
        self.call("cluster/member/promote", {"ID": member_id})

    def status(self) -> dict[str, Any]:
        return dict(self.call("maintenance/status", {}))


class Process:
    """The etcd child. It dies with the twin (as the embedded one dies with K3s): SIGTERM
    handler plus the kernel's parent-death signal."""

    def __init__(self, binary: str, data_dir: str, node_name: str, address: str) -> None:
        self.binary = binary
        self.db = f"{data_dir}/server/db/etcd"
        self.tls = f"{data_dir}/server/tls/etcd"
        self.address = address
        self.name = self._name(node_name)
        self.child: subprocess.Popen[bytes] | None = None

    def _name(self, node_name: str) -> str:
        name_file = f"{self.db}/name"
        if os.path.exists(name_file):
            with open(name_file, encoding="utf-8") as handle:
                return handle.read().strip()
        os.makedirs(self.db, mode=0o700, exist_ok=True)
        name = f"{node_name}-{uuid.uuid4().hex[:8]}"
        with open(name_file, "w", encoding="utf-8") as handle:
            handle.write(name)
        return name

    @property
    def peer_url(self) -> str:
        return f"https://{self.address}:2380"

    @property
    def client_url(self) -> str:
        return f"https://{self.address}:2379"

    def initialized(self) -> bool:
        return os.path.isdir(f"{self.db}/member/wal")

    def start(self, initial_cluster: str | None = None, state: str = "new") -> None:
        options_file = f"{self.db}/config"
        if initial_cluster is None:
            with open(options_file, encoding="utf-8") as handle:
                stored = json.load(handle)
            initial_cluster, state = stored["initial-cluster"], stored["initial-cluster-state"]
        else:
            with open(options_file, "w", encoding="utf-8") as handle:
                json.dump(
                    {"initial-cluster": initial_cluster, "initial-cluster-state": state}, handle
                )
        os.chmod(self.db, 0o700)
        tls = self.tls
        args = [
            self.binary,
            "--name",
            self.name,
            "--data-dir",
            self.db,
            "--listen-client-urls",
            f"https://127.0.0.1:2379,{self.client_url}",
            "--advertise-client-urls",
            self.client_url,
            "--listen-peer-urls",
            self.peer_url,
            "--initial-advertise-peer-urls",
            self.peer_url,
            "--listen-metrics-urls",
            "http://127.0.0.1:2381",
            "--initial-cluster",
            initial_cluster,
            "--initial-cluster-state",
            state,
            "--heartbeat-interval",
            "500",
            "--election-timeout",
            "5000",
            "--cert-file",
            f"{tls}/server-client.crt",
            "--key-file",
            f"{tls}/server-client.key",
            "--trusted-ca-file",
            f"{tls}/server-ca.crt",
            "--client-cert-auth",
            "--peer-cert-file",
            f"{tls}/peer-server-client.crt",
            "--peer-key-file",
            f"{tls}/peer-server-client.key",
            "--peer-trusted-ca-file",
            f"{tls}/peer-ca.crt",
            "--peer-client-cert-auth",
            "--logger",
            "zap",
            "--log-outputs",
            f"{self.db}/../etcd.log",
        ]
        self.child = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # dies with the twin; started before the twin starts any thread
            preexec_fn=_die_with_parent,  # noqa: PLW1509
        )

    def stop(self) -> None:
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)
            try:
                self.child.wait(10)
            except subprocess.TimeoutExpired:
                self.child.kill()


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def wait_healthy(client: Client, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            client.status()
            return
        except EtcdError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
