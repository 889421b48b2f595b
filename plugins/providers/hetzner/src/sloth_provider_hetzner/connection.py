"""A libcloud connection for the Hetzner Cloud API (libcloud ships no Hetzner driver).

Bearer-token auth, JSON bodies, Hetzner's error body (``{"error": {"code", "message"}}``) turned
into libcloud's exceptions so the retry layer and the error translation treat it like any other
cloud: 401 → ``InvalidCredsError``, 429 → ``RateLimitReachedError`` (from libcloud's base), other
failures → ``BaseHTTPError`` with the status code.
"""

from __future__ import annotations

from typing import Any

from libcloud.common.base import ConnectionKey, JsonResponse
from libcloud.common.types import InvalidCredsError


class HetznerResponse(JsonResponse):
    def success(self) -> bool:
        return 200 <= int(self.status) < 300

    def parse_error(self) -> str:
        try:
            body = self.parse_body() or {}
        except Exception:  # a proxy's non-JSON error page
            body = {}
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        message = f"{error.get('code', self.status)}: {error.get('message', self.body)}"
        if int(self.status) == 401:
            raise InvalidCredsError(message)
        return message


class HetznerConnection(ConnectionKey):
    host = "api.hetzner.cloud"
    responseCls = HetznerResponse

    def add_default_headers(self, headers: dict[str, str]) -> dict[str, str]:
        headers["Authorization"] = f"Bearer {self.key}"
        headers["Content-Type"] = "application/json"
        return headers


class _DriverName:
    """libcloud's connection reads ``driver.name`` for its User-Agent."""

    name = "sloth-hetzner"
    type = "hetzner"

    def __init__(self) -> None:
        self.connection: Any = None
