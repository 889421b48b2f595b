"""A small Kubernetes API client for kubeadm and the kubelet: a kubeconfig's client
certificate, or a bearer token (a bootstrap token), or nothing (anonymous, for discovery)."""

from __future__ import annotations

import base64
import json
import os
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from typing import Any

from ..config import parse_yaml


class ApiError(Exception):
    def __init__(self, code: int, body: Any) -> None:
        message = body.get("message") if isinstance(body, dict) else str(body)
        super().__init__(f"{code}: {message}")
        self.code = code
        self.body = body


class Client:
    def __init__(self, server: str, *, ca_pem: str | None, cert_pem: str | None = None,
                 key_pem: str | None = None, token: str | None = None) -> None:  # fmt: skip
        self.server = server.rstrip("/")
        self.token = token
        if ca_pem is None:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        else:
            context = ssl.create_default_context(cadata=ca_pem)
            context.check_hostname = False  # kubeadm checks the CA; servers are reached by IP
        if cert_pem and key_pem:
            with tempfile.TemporaryDirectory() as work:
                os.chmod(work, 0o700)
                for name, text in (("crt", cert_pem), ("key", key_pem)):
                    with open(f"{work}/{name}", "w", encoding="utf-8") as handle:
                        handle.write(text)
                context.load_cert_chain(f"{work}/crt", f"{work}/key")
        self.context = context

    @classmethod
    def from_kubeconfig(cls, path: str, server: str | None = None) -> Client:
        with open(path, encoding="utf-8") as handle:
            config = parse_yaml(handle.read())
        cluster = config["clusters"][0]["cluster"]
        user = config["users"][0]["user"]

        def field(data_key: str, file_key: str) -> str | None:
            if user.get(data_key) or cluster.get(data_key):
                return base64.b64decode(user.get(data_key) or cluster[data_key]).decode()
            path_value = user.get(file_key) or cluster.get(file_key)
            if path_value:
                with open(path_value, encoding="utf-8") as handle:
                    return handle.read()
            return None

        return cls(
            server or cluster["server"],
            ca_pem=field("certificate-authority-data", "certificate-authority"),
            cert_pem=field("client-certificate-data", "client-certificate"),
            key_pem=field("client-key-data", "client-key"),
            token=user.get("token"),
        )

    def call(self, method: str, path: str, body: Any = None,
             content_type: str = "application/json") -> Any:  # fmt: skip
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.server + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", content_type)
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=10, context=self.context) as reply:
                raw = reply.read() or b"null"
        except urllib.error.HTTPError as error:
            text = error.read()
            try:
                raise ApiError(error.code, json.loads(text)) from None
            except ValueError:
                raise ApiError(error.code, text.decode(errors="replace")) from None
        try:
            return json.loads(raw)
        except ValueError:  # /readyz, /livez: plain text
            return raw.decode(errors="replace")

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def create_or_update(self, collection: str, obj: dict[str, Any]) -> Any:
        """POST, or on 409 GET + PUT with its resourceVersion (kubeadm's ``CreateOrUpdate…``)."""
        try:
            return self.call("POST", collection, obj)
        except ApiError as error:
            if error.code != 409:
                raise
        name = obj["metadata"]["name"]
        current = self.get(f"{collection}/{name}")
        obj = {
            **obj,
            "metadata": {
                **obj["metadata"],
                "resourceVersion": current["metadata"]["resourceVersion"],
            },
        }
        return self.call("PUT", f"{collection}/{name}", obj)

    def patch(self, path: str, patch: dict[str, Any]) -> Any:
        return self.call("PATCH", path, patch, "application/merge-patch+json")


def wait(check: Any, seconds: float, what: str, interval: float = 0.5) -> Any:
    """Poll ``check`` until it returns a truthy value; TimeoutError naming ``what``."""
    deadline = time.monotonic() + seconds
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            found = check()
            if found:
                return found
        except (ApiError, OSError, ValueError, KeyError) as error:
            last = error
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what}" + (f": {last}" if last else ""))
