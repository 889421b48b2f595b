"""Azure Resource Manager requests over libcloud's ARM connection, every host re-pointable.

libcloud's ``AzureResourceManagementConnection`` signs requests with an OAuth2 client-credentials
token from the login host (``POST /<tenant>/oauth2/token``, the v1 endpoint, ``resource`` =
``https://management.core.windows.net/``) and speaks JSON to the management host. Two things in
it do not fit an ``endpoint`` override, so :func:`connection_class` adjusts exactly those:

* the token request always goes to port 443 over TLS (``conn_class(login_host, 443)``), and the
  driver fetches the token in its constructor, outside any retry guard. The subclass takes the
  login URL's scheme, port and path, and fetches the token lazily on the first request — which
  goes through the guard, so a throttled login is retried like any other call;
* the management host's port and scheme come from ``secure`` only;
* every driver (the cloud session keeps one per worker thread) would log in on its own: a 3-node
  provision made 19 token requests. Tokens are shared in memory, per process, by login URL,
  tenant, client and secret, and renewed 5 minutes before they expire (libcloud's own margin),
  so one run asks Entra ID once — it throttles token requests per application.

Long-running operations (creates, deletes) answer ``201``/``202`` with an ``Azure-AsyncOperation``
(or ``Location``) header; :meth:`Arm.wait` polls it **through the same connection**, path and
query only, so an override is honoured for operation links too.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

from sloth_kubernetes.plugin import ProviderError

LOGIN_URL = "https://login.microsoftonline.com"
MANAGEMENT_URL = "https://management.azure.com"
TOKEN_RESOURCE = "https://management.core.windows.net/"  # noqa: S105 (a URL, not a secret)

#: api-version per resource provider (each namespace versions its API separately): the ones the
#: pinned Azure SDKs for Python describe (azure-mgmt-compute 39.0.0, -network 33.1.0, -resource
#: 26.0.0, -resource-subscriptions 1.0.0), which the tests check every request against.
RESOURCES_API = "2025-04-01"
NETWORK_API = "2026-03-01"
COMPUTE_API = "2026-04-01"
DISK_API = "2026-03-02"
SUBSCRIPTIONS_API = "2022-12-01"

_DONE = frozenset({"succeeded", "failed", "canceled"})
_RENEW_BEFORE = 300  # seconds before expiry, as libcloud's AzureResourceManagementConnection

_tokens: dict[str, tuple[str, int]] = {}  # in memory only, never written anywhere
_tokens_lock = threading.Lock()


def forget_tokens() -> None:
    """Drop every shared token (the next request logs in again)."""
    with _tokens_lock:
        _tokens.clear()


def connection_class() -> type[Any]:
    """libcloud's ARM connection with the login and management URLs taken whole."""
    import libcloud.common.azure_arm
    import libcloud.common.base
    from libcloud.common.exceptions import BaseHTTPError
    from libcloud.common.types import InvalidCredsError

    azure: Any = libcloud.common.azure_arm  # untyped library: its calls are Any here
    base: Any = libcloud.common.base

    class ArmConnection(azure.AzureResourceManagementConnection):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            environment = kwargs["cloud_environment"]
            management = urlsplit(environment["resourceManagerEndpointUrl"])
            login = urlsplit(environment["activeDirectoryEndpointUrl"])
            self.secure = management.scheme == "https"
            self.port = management.port or (443 if self.secure else 80)
            self.login_secure = login.scheme == "https"
            self.login_port = login.port or (443 if self.login_secure else 80)
            self.login_path = login.path.rstrip("/")
            self.access_token = ""
            self.expires_on = 0  # no token yet: the first (guarded) request fetches one

        def connect(self, *args: Any, **kwargs: Any) -> Any:
            return base.ConnectionUserAndKey.connect(self, *args, **kwargs)  # no token here

        def get_token_from_credentials(self) -> None:
            key = hashlib.sha256(
                "\0".join(
                    (self.login_host, str(self.login_port), self.login_path, self.tenant_id,
                     self.user_id, self.key, self.login_resource)
                ).encode()
            ).hexdigest()  # fmt: skip
            with _tokens_lock:  # one login at a time, so concurrent drivers share its answer
                cached = _tokens.get(key)
                if cached is not None and time.time() + _RENEW_BEFORE < cached[1]:
                    self.access_token, self.expires_on = cached
                    return
                self._login()
                _tokens[key] = (self.access_token, self.expires_on)

        def _login(self) -> None:
            conn = self.conn_class(
                self.login_host, self.login_port, secure=self.login_secure, timeout=self.timeout
            )
            body = urlencode(
                {
                    "grant_type": "client_credentials",
                    "client_id": self.user_id,
                    "client_secret": self.key,
                    "resource": self.login_resource,
                }
            )
            headers = {"Content-type": "application/x-www-form-urlencoded"}
            conn.request("POST", f"{self.login_path}/{self.tenant_id}/oauth2/token", body, headers)
            try:
                reply = azure.AzureAuthJsonResponse(conn.getresponse(), conn)
            except BaseHTTPError as error:
                # Entra ID answers 400 (unknown tenant or application) or 401 (wrong secret):
                # both mean "these credentials do not work", never "try again".
                if error.code in (400, 401):
                    raise InvalidCredsError(str(error.message).splitlines()[0]) from None
                raise
            finally:
                conn.close()  # one connection per token request: never left open
            self.access_token = reply.object["access_token"]
            self.expires_on = int(reply.object["expires_on"])

    return ArmConnection


class Arm:
    """JSON requests to ARM paths (``/subscriptions/...``) over one guarded connection."""

    def __init__(
        self, connection: Any, prefix: str, *, poll_interval: float, timeout: float
    ) -> None:
        self.connection = connection
        self.prefix = prefix
        self.poll_interval = poll_interval
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        *,
        api: str | None = None,
        body: Any = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        """One request; ``api`` adds ``api-version`` (links from ARM already carry it)."""
        query = dict(params or {})
        if api is not None:
            query["api-version"] = api
        return self.connection.request(
            self.prefix + path, params=query or None, data=body, method=method
        )

    def get(self, path: str, api: str) -> dict[str, Any]:
        return dict(self.request("GET", path, api=api).object or {})

    def list(
        self, path: str, api: str, params: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """Every item of an ARM list, following ``nextLink``; a missing group lists nothing."""
        from libcloud.common.exceptions import BaseHTTPError

        items: list[dict[str, Any]] = []
        try:
            reply = self.request("GET", path, api=api, params=params).object or {}
            items += reply.get("value") or []
            while reply.get("nextLink"):
                reply = self.request("GET", self.relative(reply["nextLink"])).object or {}
                items += reply.get("value") or []
        except BaseHTTPError as error:
            if error.code == 404:  # ResourceGroupNotFound: nothing of this cluster exists
                return []
            raise
        return items

    def put(self, path: str, api: str, body: dict[str, Any], *, wait: bool = True) -> Any:
        """Create or update (idempotent by name); waits for the operation unless told not to."""
        reply = self.request("PUT", path, api=api, body=body)
        if wait:
            self.wait(reply, f"creating {path.rsplit('/', 1)[-1]}")
        return reply.object

    def delete(self, path: str, api: str) -> None:
        """Delete and wait until it is gone; already gone (404/204) is fine."""
        from libcloud.common.exceptions import BaseHTTPError

        try:
            reply = self.request("DELETE", path, api=api)
        except BaseHTTPError as error:
            # libcloud's responses count only 200/201/202 as success: ARM's 204 (nothing to
            # delete) arrives as an "error", as libcloud's own destroy_node expects too.
            if error.code in (204, 404):
                return
            raise
        self.wait(reply, f"deleting {path.rsplit('/', 1)[-1]}")

    def wait(self, reply: Any, what: str) -> None:
        """Poll a long-running operation's ``Azure-AsyncOperation`` (or ``Location``) link."""
        from libcloud.common.exceptions import BaseHTTPError

        headers = reply.headers or {}
        status_link: str | None = headers.get("azure-asyncoperation")
        location: str | None = headers.get("location")
        if not status_link and not (location and reply.status == 202):
            return  # finished synchronously (200/201/204 without an operation)
        deadline = time.monotonic() + self.timeout
        link = self.relative(str(status_link or location))
        while True:
            try:
                answer = self.request("GET", link)
            except BaseHTTPError as error:
                if error.code == 204:  # a Location link may end with "204 No Content"
                    return
                raise
            if status_link:
                operation = answer.object or {}
                status = str(operation.get("status", "")).lower()
                if status in _DONE:
                    if status != "succeeded":
                        failure = operation.get("error") or {}
                        raise ProviderError(
                            f"azure: {what}: operation {status}: "
                            f"[{failure.get('code', '?')}] {failure.get('message', '')}".strip(),
                            provider="azure",
                            hint="see the activity log of the resource group in the portal",
                        )
                    return
            elif answer.status != 202:
                return
            if time.monotonic() >= deadline:
                raise ProviderError(
                    f"azure: {what}: still in progress after {self.timeout:g} s",
                    provider="azure",
                    hint="re-run the command; it continues from what exists",
                )
            time.sleep(self.poll_interval)

    def relative(self, link: str) -> str:
        """An absolute ARM link → path and query on our own connection (endpoint honoured)."""
        parts = urlsplit(link)
        path = parts.path
        if self.prefix and path.startswith(self.prefix + "/"):
            path = path[len(self.prefix) :]
        return path + (f"?{parts.query}" if parts.query else "")
