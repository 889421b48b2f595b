"""A stateful fake of Compute Engine v1 and Google's OAuth token endpoint (tests only).

A :class:`~sloth_kubernetes.testing.emulators.described.DescribedApp`: every request and reply of
the methods it serves is checked against Google's discovery document
(:func:`~.discovery.compute_description`); this module does what the API does on its own:

* **auth** — ``POST /token`` takes an RFC 7523 JWT bearer assertion (Google's "OAuth 2.0 for
  server to server applications"): RS256, signed by a key registered for ``iss``, ``aud`` the
  token URL, a compute scope, at most one hour. Anything else: ``400 invalid_grant``. Compute
  calls need a token it issued (``401 UNAUTHENTICATED`` / ``authError`` otherwise);
* **operations** — inserts and deletes answer a zone/region/global ``Operation`` that advances
  ``PENDING → RUNNING → DONE`` one step per ``GET`` of it; a failed one ends ``DONE`` with
  ``error.errors[]`` and ``httpErrorStatusCode`` (e.g. ``ZONE_RESOURCE_POOL_EXHAUSTED``);
* **instances** — appear at insert as ``PROVISIONING`` and move ``STAGING → RUNNING`` one step per
  read; names are unique per zone (``409 alreadyExists``); a missing one is ``404 notFound``;
  the machine type, image family, network and subnetwork must exist (``400 invalid`` /
  ``404 notFound``); addresses come from the subnetwork's range (``.2`` first, GCE keeps
  ``.0``/``.1``) and a NAT pool; the serial console prints the host key cloud-init installs;
* **networks, subnetworks, firewall rules** — a project starts with the auto-mode ``default``
  network; a network still used by subnetworks or firewall rules, or a subnetwork used by
  instances, refuses deletion (``400 resourceInUseByAnotherResource``);
* **lists** — ``maxResults``/``pageToken``/``nextPageToken`` (the server may return fewer than
  asked: ``page_size`` caps it, 500 like GCE), ``filter`` in the two forms Google documents for
  list methods (``labels.k = "v"`` / ``field != "v"`` comparisons joined by ``AND``, and
  ``field eq|ne RE2``, whole-field match); any other filter is ``400 invalid``;
  aggregated lists answer every zone, an empty one with its ``NO_RESULTS_ON_PAGE`` warning.

Faults a test asks for: ``fail_next(method, path_regex, status, after=False)`` (DescribedApp's:
an HTTP error for the next matching call, before or after acting on it, with Google's reason:
``rateLimitExceeded`` for 403/429, ``backendError`` for 5xx), :meth:`fail_operation`,
:meth:`forbid` (a missing IAM permission), :meth:`revoke_tokens`, :meth:`never_running`.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from sloth_kubernetes.testing.emulators._http import JsonReply, JsonRequest
from sloth_kubernetes.testing.emulators.described import DescribedApp
from sloth_kubernetes.testing.emulators.state import utc_now

from .catalog import AUTO_SUBNETS, IMAGE_FAMILIES, MACHINE_TYPES, REGIONS, ZONES

SCOPES = {
    "https://www.googleapis.com/auth/compute",
    "https://www.googleapis.com/auth/cloud-platform",
}
LINK = "https://www.googleapis.com/compute/v1/projects"  # selfLinks as the API writes them
_COMPARISON = re.compile(r'^\s*([\w.-]+)\s*(=|!=)\s*"?([^"]*)"?\s*$')
_REGEX_FILTER = re.compile(r"^\s*([\w.]+)\s+(eq|ne)\s+(.+?)\s*$")


class FakeComputeEngine(DescribedApp):
    """One project (``project``); the state lives on this object; :meth:`reset` empties it."""

    def __init__(self, project: str) -> None:
        super().__init__("gce")
        self.project = project
        self.base = f"/compute/v1/projects/{project}"
        self.accounts: dict[str, Any] = {}  # email -> RSA public key
        self.tokens: set[str] = set()  # issued tokens survive reset(), as they do at Google
        self.page_size = 500
        self.method_ids: list[str] = []  # what the routes serve: the description covers those
        self._ids = itertools.count(7_000_000_000_000_000_001)
        self._lock_ids = threading.Lock()
        self.reset()
        self._routes_()
        from .discovery import compute_description

        self.describe(compute_description(self.method_ids))

    # -- state ----------------------------------------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            self.instances: dict[tuple[str, str], dict[str, Any]] = {}
            self.networks: dict[str, dict[str, Any]] = {}
            self.subnetworks: dict[tuple[str, str], dict[str, Any]] = {}
            self.firewalls: dict[str, dict[str, Any]] = {}
            self.operations: dict[str, dict[str, Any]] = {}
            self.operation_faults: dict[str, tuple[str, str, int]] = {}
            self.forbidden: dict[str, str] = {}
            self.stuck: set[str] = set()
            self.nat = (f"34.76.10.{n}" for n in itertools.count(21))
            self.page_size = 500
            self._seed_default_network()

    def _seed_default_network(self) -> None:
        network = self._network_resource("default", "Default network for the project", True)
        self.networks["default"] = network
        for region, cidr in AUTO_SUBNETS.items():
            self.subnetworks[(region, "default")] = self._subnetwork_resource(
                "default", region, cidr, network["selfLink"]
            )

    def register_account(self, email: str, public_key_pem: str) -> None:
        """A service account whose key may sign token requests."""
        from cryptography.hazmat.primitives import serialization

        self.accounts[email] = serialization.load_pem_public_key(public_key_pem.encode())

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def fail_operation(self, method_id: str, code: str, message: str, http_status: int) -> None:
        """The next operation ``method_id`` starts ends DONE with this error."""
        self.operation_faults[method_id] = (code, message, http_status)

    def forbid(self, method_id: str, permission: str) -> None:
        """Calls of ``method_id`` answer 403: the caller lacks the IAM ``permission``."""
        self.forbidden[method_id] = permission

    def never_running(self, name: str) -> None:
        """Instance ``name`` stays STAGING (a machine that never boots)."""
        self.stuck.add(name)

    def next_id(self) -> str:
        with self._lock_ids:
            return str(next(self._ids))

    # -- plumbing -------------------------------------------------------------------------------

    def failure_reply(self, status: int) -> JsonReply:
        """A scripted transient failure as Google words it (Compute's rate quotas answer 403
        ``rateLimitExceeded``; docs: cloud.google.com/compute/api-quota)."""
        if status in (403, 429):
            return self.error(status, "rateLimitExceeded", "Rate Limit Exceeded")
        return self.error(status, "backendError", "Backend Error")

    def error(self, status: int, code: str, message: str) -> JsonReply:
        """Google's JSON error (cloud.google.com/apis/design/errors)."""
        statuses = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                    404: "NOT_FOUND", 409: "ALREADY_EXISTS", 429: "RESOURCE_EXHAUSTED",
                    503: "UNAVAILABLE"}  # fmt: skip
        body: dict[str, Any] = {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": code}],
        }
        if status in statuses:
            body["status"] = statuses[status]
        return JsonReply(status, {"error": body})

    def _dispatch(
        self, method: str, path: str, params: dict[str, str], raw: bytes, headers: dict[str, str]
    ) -> JsonReply:
        if path != "/token":
            return super()._dispatch(method, path, params, raw, headers)
        # OAuth, not Compute: no discovery method describes it; checked here (RFC 7523)
        with self.lock:
            self.received.append((method, path, None))
        if method != "POST":
            return self.error(405, "methodNotAllowed", "the token endpoint takes POST")
        return self._token(raw, headers)

    def gate(self, request: JsonRequest) -> JsonReply | None:
        """Before any method: the bearer token, the project, the caller's permissions."""
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.tokens:
            return JsonReply(401, {"error": {
                "code": 401,
                "message": "Request had invalid authentication credentials. Expected OAuth 2 "
                "access token, login cookie or other valid authentication credential.",
                "errors": [{"message": "Invalid Credentials", "domain": "global",
                            "reason": "authError", "location": "Authorization",
                            "locationType": "header"}],
                "status": "UNAUTHENTICATED"}})  # fmt: skip
        if not request.path.startswith(self.base + "/"):
            return self.error(404, "notFound", f"The resource '{request.path}' was not found")
        found = self._operation(request.method, request.path)
        method_id = found[1].source.rsplit("#", 1)[-1] if found else ""
        if method_id in self.forbidden:
            return self.error(
                403, "forbidden", f"Required '{self.forbidden[method_id]}' permission for "
                f"'projects/{self.project}'"
            )  # fmt: skip
        return None

    def _token(self, raw: bytes, headers: dict[str, str]) -> JsonReply:
        form = dict(parse_qsl(raw.decode(errors="replace")))
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return JsonReply(400, {"error": "unsupported_grant_type",
                                   "error_description": "Invalid grant_type: "
                                   + form.get("grant_type", "")})  # fmt: skip
        problem = self._assertion_problem(form.get("assertion", ""), headers.get("host", ""))
        if problem:
            return JsonReply(400, {"error": "invalid_grant", "error_description": problem})
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        with self.lock:
            self.tokens.add(token)
        return JsonReply(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def _assertion_problem(self, assertion: str, host: str) -> str | None:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        parts = assertion.split(".")
        if len(parts) != 3:
            return "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe"
        try:
            header, claims = (json.loads(_unb64(p)) for p in parts[:2])
            signature = _unb64(parts[2])
        except ValueError:
            return "Invalid JWT: cannot be decoded"
        if header.get("alg") != "RS256":
            return "Invalid JWT: unsupported algorithm"
        key = self.accounts.get(claims.get("iss", ""))
        if key is None:
            return "Invalid grant: account not found"
        try:
            key.verify(signature, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(),
                       hashes.SHA256())  # fmt: skip
        except InvalidSignature:
            return "Invalid JWT Signature."
        now = time.time()
        if claims.get("aud") != f"http://{host}/token":
            return f"Invalid JWT: Failed audience check. The right audience is http://{host}/token"
        iat, exp = claims.get("iat", 0), claims.get("exp", 0)
        if not (iat - 300 <= now <= exp + 300) or exp - iat > 3600:
            return "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe"
        if not set(str(claims.get("scope", "")).split()) & SCOPES:
            return "Invalid OAuth scope or ID token audience provided."
        return None

    def routed(self, method_id: str, template: str, verb: str) -> Callable[[Any], Any]:
        """A route under the project, serving the discovery method ``method_id``."""
        self.method_ids.append(method_id)
        return self.route(verb, self.base + template)

    # -- lists ----------------------------------------------------------------------------------

    def listing(
        self, request: JsonRequest, kind: str, items: list[dict[str, Any]], link: str
    ) -> JsonReply:
        try:
            items = [i for i in items if _matches(i, request.params.get("filter", ""))]
        except ValueError as problem:
            return self.error(400, "invalid", str(problem))
        page, token = self._page(items, request.params)
        body: dict[str, Any] = {"kind": kind, "id": link, "items": page, "selfLink": link}
        if token:
            body["nextPageToken"] = token
        if not page:
            del body["items"]
        return JsonReply(200, body)

    def _page(self, items: list[Any], params: dict[str, str]) -> tuple[list[Any], str]:
        asked = int(params.get("maxResults") or 500)
        size = max(1, min(asked, self.page_size, 500))
        start = int(_unb64(params["pageToken"]).decode()) if params.get("pageToken") else 0
        end = start + size
        return items[start:end], (_b64(str(end).encode()) if end < len(items) else "")

    # -- resources ------------------------------------------------------------------------------

    def operation(
        self, method_id: str, kind: str, target: str, target_id: str, scope: tuple[str, str]
    ) -> dict[str, Any]:
        where, name = scope  # ("zones", "europe-west1-b"), ("regions", …), ("global", "")
        op_name = f"operation-{int(time.time() * 1000)}-{secrets.token_hex(6)}"
        scope_link = f"{LINK}/{self.project}/{where}/{name}" if name else ""
        path = f"{self.base}/{where}/{name}/operations/{op_name}" if name else (
            f"{self.base}/global/operations/{op_name}")  # fmt: skip
        operation: dict[str, Any] = {
            "kind": "compute#operation",
            "id": self.next_id(),
            "name": op_name,
            "operationType": kind,
            "targetLink": target,
            "targetId": target_id,
            "status": "PENDING",
            "user": "sloth-ci@example.iam.gserviceaccount.com",
            "progress": 0,
            "insertTime": utc_now(),
            "selfLink": "https://www.googleapis.com" + path,
        }
        if where == "zones":
            operation["zone"] = scope_link
        elif where == "regions":
            operation["region"] = scope_link
        failure = self.operation_faults.pop(method_id, None)
        if failure:
            operation["_failure"] = failure
        self.operations[path] = operation
        return _public(operation)

    def started(
        self, method_id: str, resource: dict[str, Any], scope: tuple[str, str]
    ) -> JsonReply:
        """The reply to an insert or delete of ``resource``: its new operation."""
        kind = method_id.rsplit(".", 1)[1]
        target = resource["selfLink"]
        return JsonReply(200, self.operation(method_id, kind, target, resource["id"], scope))

    def advance_operation(self, path: str) -> dict[str, Any] | None:
        operation = self.operations.get(path)
        if operation is None:
            return None
        if operation["status"] == "PENDING":
            operation.update(status="RUNNING", startTime=utc_now(), progress=50)
        elif operation["status"] == "RUNNING":
            operation.update(status="DONE", endTime=utc_now(), progress=100)
            if "_failure" in operation:
                code, message, http_status = operation.pop("_failure")
                operation["error"] = {"errors": [{"code": code, "message": message}]}
                operation["httpErrorStatusCode"] = http_status
                operation["httpErrorMessage"] = "SERVICE UNAVAILABLE" if http_status == 503 else (
                    "FORBIDDEN")  # fmt: skip
                if operation["operationType"] == "insert":  # a failed insert leaves nothing
                    self._forget(operation["targetLink"])
        return _public(operation)

    def _forget(self, link: str) -> None:
        stores: list[dict[Any, dict[str, Any]]] = [
            self.instances,
            self.networks,
            self.subnetworks,
            self.firewalls,
        ]
        for store in stores:
            for key in [k for k, v in store.items() if v["selfLink"] == link]:
                del store[key]

    def _network_resource(self, name: str, description: str, auto: bool) -> dict[str, Any]:
        return {
            "kind": "compute#network",
            "id": self.next_id(),
            "creationTimestamp": utc_now(),
            "name": name,
            "description": description,
            "selfLink": f"{LINK}/{self.project}/global/networks/{name}",
            "autoCreateSubnetworks": auto,
            "subnetworks": [],
            "routingConfig": {"routingMode": "REGIONAL"},
            "networkFirewallPolicyEnforcementOrder": "AFTER_CLASSIC_FIREWALL",
        }

    def _subnetwork_resource(
        self, name: str, region: str, cidr: str, network_link: str
    ) -> dict[str, Any]:
        net = ipaddress.ip_network(cidr)
        link = f"{LINK}/{self.project}/regions/{region}/subnetworks/{name}"
        network = self.networks.get(network_link.rsplit("/", 1)[-1])
        if network is not None:
            network["subnetworks"].append(link)
        return {
            "kind": "compute#subnetwork",
            "id": self.next_id(),
            "creationTimestamp": utc_now(),
            "name": name,
            "network": network_link,
            "ipCidrRange": cidr,
            "gatewayAddress": str(net.network_address + 1),
            "region": f"{LINK}/{self.project}/regions/{region}",
            "selfLink": link,
            "privateIpGoogleAccess": False,
            "fingerprint": _fingerprint(link),
            "stackType": "IPV4_ONLY",
            "purpose": "PRIVATE",
            "_next": 2,  # .0 network, .1 gateway: the first instance gets .2
        }

    def _routes_(self) -> None:
        from . import routes

        routes.install(self)


def _matches(item: dict[str, Any], expression: str) -> bool:
    """Google's list filter: ``a = "b" AND c != "d"`` or ``name eq RE2`` (whole-field)."""
    if not expression.strip():
        return True
    regex = _REGEX_FILTER.match(expression)
    if regex and not re.search(r"\b(AND|OR)\b", expression):
        field, operator, pattern = regex.groups()
        value = str(_field(item, field) or "")
        return bool(re.fullmatch(pattern, value)) == (operator == "eq")
    for raw_term in re.split(r"\s+AND\s+", expression.strip()):
        match = _COMPARISON.match(raw_term.strip().removeprefix("(").removesuffix(")"))
        if not match:
            raise ValueError(
                f"Invalid value for field 'filter': '{expression}'. Invalid list filter expression."
            )
        field, operator, wanted = match.groups()
        if (str(_field(item, field) or "") == wanted) != (operator == "="):
            return False
    return True


def _field(item: dict[str, Any], dotted: str) -> Any:
    value: Any = item
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if not k.startswith("_")}


def _fingerprint(seed: str) -> str:
    return base64.b64encode(hashlib.sha256(seed.encode()).digest()[:8]).decode()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as error:
        raise ValueError(str(error)) from None


__all__ = ["IMAGE_FAMILIES", "MACHINE_TYPES", "REGIONS", "ZONES", "FakeComputeEngine"]
