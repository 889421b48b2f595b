"""The joining side: how a K3s/RKE2 node talks to the server named in ``server:``.

k3s-io/k3s ``pkg/clientaccess/token.go`` (v1.31.4+k3s1): ``/cacerts`` is read first; with a
full token (``K10<sha256 of the CA bundle>::user:password``) its hash must match, with a bare
password the CA is trusted on first use; every later request verifies against it and
authenticates with HTTP basic auth (``server``/``node`` + password).
"""

from __future__ import annotations

import base64
import hashlib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from .config import token_password


class JoinRefused(Exception):
    pass


def _get(
    url: str, context: ssl.SSLContext, auth: tuple[str, str] | None, headers: dict[str, str]
) -> bytes:
    request = urllib.request.Request(url)
    if auth:
        request.add_header(
            "Authorization", "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        )
    for key, value in headers.items():
        request.add_header(key, value)
    with urllib.request.urlopen(request, timeout=10, context=context) as reply:
        return bytes(reply.read())


class Joiner:
    def __init__(
        self, server_url: str, token: str, user: str, node_name: str, ca_file: str
    ) -> None:
        self.url = server_url.rstrip("/")
        self.token = token
        self.user = user
        self.node_name = node_name
        self.ca_file = ca_file

    def fetch_ca(self, seconds: float = 30.0) -> str:
        """The server's CA (retried while the server is not up yet)."""
        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE
        ca = self._retry(lambda: _get(f"{self.url}/cacerts", insecure, None, {}), seconds).decode()
        if self.token.startswith("K10") and "::" in self.token:
            expected = self.token[3:].split("::", 1)[0]
            if hashlib.sha256(ca.encode()).hexdigest() != expected:
                raise JoinRefused(
                    f"token CA hash does not match the Cluster CA certificate hash at {self.url}"
                )
        with open(self.ca_file, "w", encoding="utf-8") as handle:
            handle.write(ca)
        return ca

    def get(self, path: str, seconds: float = 30.0) -> bytes:
        context = ssl.create_default_context(cafile=self.ca_file)
        context.check_hostname = False  # K3s checks the CA; the server is reached by any address
        auth = (self.user, token_password(self.token))
        return self._retry(
            lambda: _get(self.url + path, context, auth, {"K3s-Node-Name": self.node_name}), seconds
        )

    @staticmethod
    def _retry(call: Callable[[], bytes], seconds: float) -> bytes:
        deadline = time.monotonic() + seconds
        while True:
            try:
                return call()
            except urllib.error.HTTPError as error:
                if error.code in (401, 403, 404):
                    raise JoinRefused(f"{error.code} {error.reason}") from None
                problem: Exception = error
            except OSError as error:
                problem = error
            if time.monotonic() > deadline:
                raise JoinRefused(f"no answer: {problem}")
            time.sleep(0.3)
