"""Google's OAuth and Compute connections, on libcloud's classes (imported only when used).

libcloud's ``GoogleOAuth2Credential`` caches access tokens in ``~/.google_libcloud_auth.<id>``
and posts service-account assertions to ``accounts.google.com`` whatever the key's ``token_uri``
says. Here the token is kept in memory (shared by this process's drivers, refreshed before it
expires) and requested from the key's ``token_uri`` with ``aud`` set to it, as Google's own
client libraries do; signing, JSON handling and the error types stay libcloud's.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from libcloud.common.base import ConnectionUserAndKey
from libcloud.common.google import GoogleBaseAuthConnection, GoogleBaseError
from libcloud.common.types import InvalidCredsError
from libcloud.compute.drivers.gce import GCEConnection
from sloth_kubernetes.plugin import Endpoint, ProviderError

SCOPE = "https://www.googleapis.com/auth/compute"
#: 403 reasons Google uses for "slow down" (docs: Compute Engine rate quotas).
RATE_LIMIT_REASONS = frozenset(
    {"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"}
)
_REFRESH_MARGIN = 300.0  # seconds before expiry a token is renewed

_tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
_tokens_lock = threading.Lock()
_fetching: dict[tuple[str, str, str], threading.Lock] = {}


class TokenConnection(GoogleBaseAuthConnection):
    """Exchanges a signed JWT for an access token (RFC 7523) at the key's token URI."""

    def __init__(self, email: str, private_key: str, token_uri: str, target: Endpoint) -> None:
        super().__init__(  # type: ignore[no-untyped-call]
            email, private_key, [SCOPE], host=target.host, port=target.port, secure=target.secure
        )
        self.token_uri = token_uri
        self.token_path = target.path + (urllib.parse.urlsplit(token_uri).path or "/token")

    def new_token(self) -> dict[str, Any]:
        now = int(time.time())
        claims = {"iss": self.user_id, "scope": self.scopes, "aud": self.token_uri,
                  "iat": now, "exp": now + 3600}  # fmt: skip
        message = _b64(json.dumps({"alg": "RS256", "typ": "JWT"})) + "." + _b64(json.dumps(claims))
        key = serialization.load_pem_private_key(self.key.encode(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        signature = key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
        body = urllib.parse.urlencode(
            {
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": message + "." + _b64(signature),
            }
        )
        reply = self.request(self.token_path, method="POST", data=body)  # type: ignore[no-untyped-call]
        return dict(reply.object)


def _b64(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Credential:
    """The ``oauth2_credential`` a GCE connection asks for its bearer token."""

    def __init__(self, connection: TokenConnection, key_id: str) -> None:
        self.connection = connection
        where = f"{connection.token_uri}@{connection.host}:{connection.port}"
        self.cache_key = (where, str(connection.user_id), key_id)

    @property
    def access_token(self) -> str:
        cache_key = self.cache_key
        with _tokens_lock:
            fetching = _fetching.setdefault(cache_key, threading.Lock())
        with fetching:  # drivers starting together ask for one token, not one each
            return self._cached() or self._fetch()

    def _cached(self) -> str | None:
        with _tokens_lock:
            cached = _tokens.get(self.cache_key)
        if cached is not None and cached[1] - _REFRESH_MARGIN > time.time():
            return cached[0]
        return None

    def _fetch(self) -> str:
        reply = self.connection.new_token()
        token = reply.get("access_token")
        if not token:
            raise InvalidCredsError("the token endpoint answered without an access_token")
        from sloth_kubernetes.plugin import register_secret

        register_secret(token)
        expires = time.time() + float(reply.get("expires_in") or 3600)
        with _tokens_lock:
            _tokens[self.cache_key] = (str(token), expires)
        return str(token)


class ComputeConnection(GCEConnection):
    """libcloud's GCE connection without its token file; requests go to ``target``."""

    def __init__(self, credential: Credential, project: str, target: Endpoint) -> None:
        # Not GoogleBaseConnection.__init__: it builds GoogleOAuth2Credential (token file in
        # $HOME, token host fixed); the bearer header still comes from pre_connect_hook.
        ConnectionUserAndKey.__init__(  # type: ignore[no-untyped-call]
            self,
            credential.connection.user_id,
            None,
            secure=target.secure,
            host=target.host,
            port=target.port,
        )
        self.oauth2_credential = credential  # type: ignore[assignment]  # same interface
        self.request_path = f"{target.path}/compute/v1/projects/{project}"
        self.gce_params = None


def convert_errors(connection: Any, translate: Callable[[Exception, str], Exception]) -> None:
    """Wrap ``connection.request`` so libcloud's Google errors become ones the retry guard
    classifies (``translate(error, "METHOD path")``); wrap this before ``guard_connection``."""
    original = connection.request

    def request(action: str, params: Any = None, data: Any = None, *args: Any, **kw: Any) -> Any:
        try:
            return original(action, params, data, *args, **kw)
        except GoogleBaseError as error:
            raise translate(error, f"{kw.get('method', 'GET')} {action}") from error

    connection.request = request


def compute_error(error: Any, doing: str, credential: str) -> Exception:
    """A Compute API error as the guard and the session should see it."""
    status = getattr(error, "http_code", None)
    reason = error.code if isinstance(getattr(error, "code", None), str) else ""
    text = _message(error)
    if status == 429 or (status == 403 and reason in RATE_LIMIT_REASONS):
        return ProviderError(
            f"gcp: {doing}: rate limited ({reason or status}): {text}",
            provider="gcp", http_status=429, retryable=True,
        )  # fmt: skip
    if isinstance(status, int) and status >= 500:
        return ProviderError(
            f"gcp: {doing}: {status} {text}", provider="gcp", http_status=status, retryable=True
        )
    if status == 401:
        return InvalidCredsError(text)
    if status == 403:
        return ProviderError(
            f"gcp: the service account from {credential} may not {doing}: {text}",
            provider="gcp",
            http_status=403,
            hint="grant it roles/compute.instanceAdmin.v1 and roles/compute.networkAdmin (or "
            "roles/compute.admin) on the project, or point the setting at another key",
        )
    return error  # type: ignore[no-any-return]


def token_error(error: Any, doing: str, credential: str) -> Exception:
    """A token endpoint error: a refused key goes the session's credential path."""
    status = getattr(error, "http_code", None)
    if status in (400, 401, 403):  # invalid_grant, invalid_client, ... (RFC 6749 §5.2)
        return InvalidCredsError(f"token endpoint: {_message(error)}")
    return compute_error(error, doing, credential)


def _message(error: Any) -> str:
    value = getattr(error, "value", None)
    if isinstance(value, dict):
        value = value.get("message") or json.dumps(value)
    return " ".join(str(value or error).split())[:300]


def key_digest(private_key: str) -> str:
    return hashlib.sha256(private_key.encode()).hexdigest()[:16]
