"""A stateful fake of Azure Resource Manager and Entra ID's token endpoint (tests only).

A :class:`~sloth_kubernetes.testing.emulators.described.DescribedApp`: every ARM request and
reply is checked against the SDK-derived description (:mod:`.sdk`), api-version included. What
ARM does on its own (docs: "Azure Resource Manager asynchronous operations", "ARM RPC"):

* **auth** — ``POST /<tenant>/oauth2/token`` (Entra ID v1, client credentials): an unknown
  tenant is ``400 invalid_request`` (AADSTS90002), a wrong secret ``401 invalid_client``
  (AADSTS7000215), the wrong ``resource`` ``400 invalid_resource``; ARM calls need a token it
  issued (``401 InvalidAuthenticationToken``) for the one subscription (``404
  SubscriptionNotFound``);
* **async operations** — network PUTs answer ``201`` with ``provisioningState: Updating`` and an
  ``Azure-AsyncOperation`` link whose status goes ``InProgress`` → ``Succeeded`` one poll later
  (then the resource shows ``Succeeded``); deletes answer ``202`` with the same link (and a
  ``Location``), the resource goes when it succeeds; a resource group delete answers ``202``
  with a ``Location`` polled until ``200``, and takes everything in the group with it; a
  DELETE of something absent is ``204``;
* **virtual machines** — a PUT answers ``201 Creating``; each read moves it on (``Creating`` →
  ``Succeeded``); the size must be one of the location's, the NIC must exist; deleting a VM
  deletes the NIC and OS disk marked ``deleteOption: Delete``, and the NIC's public IP if the
  IP says so;
* **references and conflicts** — a PUT into a missing group is ``404 ResourceGroupNotFound``;
  a NIC's subnet, public IP and NSG must exist (``400 InvalidResourceReference``); a NIC used by
  a VM, an IP, NSG or subnet used by a NIC refuse deletion (``400 …InUse…``);
* **lists** — ``value`` + ``nextLink`` (``$skiptoken``), ``page_size`` items a page; the
  ``$filter`` forms the driver uses (``tagName eq 'k' and tagValue eq 'v'``), anything else
  ``400 InvalidFilterInQueryString``.

Faults a test asks for: ``fail_next(method, path_regex, status, after=False)``
(DescribedApp's; ARM's ``TooManyRequests`` + ``Retry-After`` for 429, ``ServiceUnavailable`` for
503), :meth:`never_running`.
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

from sloth_kubernetes.testing.emulators._http import JsonReply, JsonRequest
from sloth_kubernetes.testing.emulators.described import DescribedApp
from sloth_kubernetes.testing.emulators.state import utc_now

from .sdk import descriptions

MANAGEMENT = "https://management.azure.com"
TOKEN_RESOURCE = "https://management.core.windows.net/"
_FILTER = re.compile(r"^tagName eq '([^']*)' and tagValue eq '([^']*)'$")


class FakeResourceManager(DescribedApp):
    """One tenant, one service principal, one subscription; state on this object."""

    undescribed_paths = (
        r"^/subscriptions/[^/]+/providers/[^/]+/locations/[^/]+/operations/",  # async status
        r"^/subscriptions/[^/]+/operationresults/",  # Location polling
    )

    def __init__(self, tenant: str, client_id: str, secret: str, subscription: str) -> None:
        super().__init__("azure")
        self.tenant, self.client_id, self.secret = tenant, client_id, secret
        self.subscription = subscription
        self.subscription_link = f"{MANAGEMENT}/subscriptions/{subscription}"
        self.tokens: set[str] = set()
        self.page_size = 100
        self.reset()
        from . import routes

        routes.install(self)
        # ARM paths are case-insensitive (the SDK writes resourcegroups, libcloud resourceGroups)
        self._routes = [(m, re.compile(p.pattern, re.IGNORECASE), h) for m, p, h in self._routes]
        for description in descriptions():
            self.describe(description)

    def reset(self) -> None:
        with self.lock:
            self.groups: dict[str, dict[str, Any]] = {}
            self.resources: dict[str, dict[str, Any]] = {}  # lower-case id -> resource
            self.operations: dict[str, dict[str, Any]] = {}
            self.stuck: set[str] = set()
            self.public_ips = (f"20.0.0.{n}" for n in itertools.count(10))
            self.page_size = 100

    def never_running(self, name: str) -> None:
        """VM ``name`` stays ``Creating`` (a machine whose agent never reports in)."""
        self.stuck.add(name)

    # -- errors ---------------------------------------------------------------------------------

    def error(self, status: int, code: str, message: str) -> JsonReply:
        """ARM's error body (``CloudError``: ``{"error": {"code", "message"}}``)."""
        return JsonReply(status, {"error": {"code": code, "message": message}})

    def failure_reply(self, status: int) -> JsonReply:
        if status == 429:
            return JsonReply(429, {"error": {"code": "TooManyRequests", "message": "The request "
                             "is being throttled as the limit has been reached for operation "
                             "type - Read_ObservationWindow_00:05:00."}},
                             {"Retry-After": self.retry_after})  # fmt: skip
        code = {502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout"}
        return self.error(status, code.get(status, "InternalServerError"),
                          "The server is currently unable to handle the request.")  # fmt: skip

    # -- plumbing -------------------------------------------------------------------------------

    def _dispatch(
        self, method: str, path: str, params: dict[str, str], raw: bytes, headers: dict[str, str]
    ) -> JsonReply:
        token_path = re.fullmatch(r"/([^/]+)/oauth2/token", path)
        if token_path:  # Entra ID, not ARM: no SDK operation describes it; checked here
            with self.lock:
                self.received.append((method, path, None))
            return self._token(token_path.group(1), raw)
        if any(re.match(p, path) for p in self.undescribed_paths):
            denied = self.gate(JsonRequest(method, path, params, None, headers))
            if denied is not None:
                return denied
        return super()._dispatch(method, path, params, raw, headers)

    def _token(self, tenant: str, raw: bytes) -> JsonReply:
        form = dict(parse_qsl(raw.decode(errors="replace")))
        trace = {"timestamp": utc_now(zulu=False) + "Z", "trace_id": str(uuid.uuid4()),
                 "correlation_id": str(uuid.uuid4())}  # fmt: skip
        if tenant != self.tenant:
            return JsonReply(
                400,
                {
                    "error": "invalid_request",
                    "error_description": (f"AADSTS90002: Tenant '{tenant}' not found."),
                    "error_codes": [90002],
                    **trace,
                },
            )
        if form.get("grant_type") != "client_credentials":
            return JsonReply(400, {"error": "unsupported_grant_type", "error_description":
                                   "AADSTS70003: The app requested an unsupported grant type.",
                                   "error_codes": [70003], **trace})  # fmt: skip
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.secret:
            return JsonReply(
                401,
                {
                    "error": "invalid_client",
                    "error_description": (
                        "AADSTS7000215: Invalid client secret provided. Ensure the secret being "
                        "sent in the request is the client secret value, not the client secret "
                        "ID, for a secret "
                        f"added to app '{form.get('client_id')}'."
                    ),
                    "error_codes": [7000215],
                    **trace,
                },
            )
        if form.get("resource") != TOKEN_RESOURCE:
            return JsonReply(400, {"error": "invalid_resource", "error_description": (
                f"AADSTS500011: The resource principal named {form.get('resource')} was not "
                "found in the tenant."), "error_codes": [500011], **trace})  # fmt: skip
        token = "eyJ0eXAiOiJKV1Qi.fake." + secrets.token_urlsafe(24)
        with self.lock:
            self.tokens.add(token)
        now = int(time.time())
        return JsonReply(200, {"token_type": "Bearer", "expires_in": "3599",
                               "ext_expires_in": "3599", "expires_on": str(now + 3599),
                               "not_before": str(now), "resource": TOKEN_RESOURCE,
                               "access_token": token})  # fmt: skip

    def gate(self, request: JsonRequest) -> JsonReply | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.tokens:
            return self.error(401, "InvalidAuthenticationToken",
                              "The access token is invalid.")  # fmt: skip
        found = re.match(r"^/subscriptions/([^/]+)", request.path)
        if not found or found.group(1).lower() != self.subscription.lower():
            return self.error(404, "SubscriptionNotFound",
                              f"The subscription '{found and found.group(1)}' could not be "
                              "found.")  # fmt: skip
        return None

    # -- async operations -----------------------------------------------------------------------

    def start_operation(self, namespace: str, location: str, on_done: Any) -> dict[str, str]:
        """An ``Azure-AsyncOperation`` (+ ``Location``) whose status succeeds one poll later
        and then runs ``on_done``; the headers to send."""
        operation_id = str(uuid.uuid4())
        base = f"/subscriptions/{self.subscription}/providers/{namespace}/locations/{location}"
        status = f"{MANAGEMENT}{base}/operations/{operation_id}?api-version=2024-01-01"
        self.operations[operation_id] = {"name": operation_id, "status": "InProgress",
                                         "startTime": utc_now(), "_polls": 1,
                                         "_done": on_done}  # fmt: skip
        return {"Azure-AsyncOperation": status, "Location": status.replace("/operations/",
                "/operationResults/")}  # fmt: skip

    def poll_operation(self, operation_id: str) -> dict[str, Any] | None:
        operation = self.operations.get(operation_id)
        if operation is None:
            return None
        if operation["status"] == "InProgress":
            if operation["_polls"] > 0:
                operation["_polls"] -= 1
            else:
                operation["_done"]()
                operation.update(status="Succeeded", endTime=utc_now())
        return {k: v for k, v in operation.items() if not k.startswith("_")}

    def page(self, request: JsonRequest, items: list[dict[str, Any]]) -> JsonReply:
        start = int(request.params.get("$skiptoken") or 0)
        end = start + self.page_size
        body: dict[str, Any] = {"value": items[start:end]}
        if end < len(items):
            query = f"api-version={request.params.get('api-version', '')}&$skiptoken={end}"
            if request.params.get("$filter"):
                from urllib.parse import quote

                query += f"&$filter={quote(request.params['$filter'])}"
            body["nextLink"] = f"{MANAGEMENT}{request.path}?{query}"
        return JsonReply(200, body)

    def tag_filter(self, request: JsonRequest) -> tuple[str, str] | JsonReply | None:
        expression = request.params.get("$filter")
        if not expression:
            return None
        found = _FILTER.match(expression.strip())
        if not found:
            return self.error(
                400,
                "InvalidFilterInQueryString",
                f"Invalid $filter '{expression}' specified in the query string.",
            )
        return found.group(1), found.group(2)
