"""The control-plane static pods the twin's kubelet runs besides etcd: kube-apiserver,
kube-controller-manager and kube-scheduler, each configured by the flags of its manifest.

* kube-apiserver (the twin's API, :class:`..apiserver.ApiServer`, over the etcd named by
  ``--etcd-servers`` with the ``--etcd-*file`` client certificate, serving ``--secure-port``
  with ``--tls-cert-file`` and trusting ``--client-ca-file``): authentication by client
  certificate, by **bootstrap token** (``--enable-bootstrap-token-auth``: a ``Bearer
  <id>.<secret>`` matching Secret ``kube-system/bootstrap-token-<id>`` of type
  ``bootstrap.kubernetes.io/token``, unexpired, ``usage-bootstrap-authentication: "true"``;
  user ``system:bootstrap:<id>``, groups ``system:bootstrappers`` + ``auth-extra-groups`` —
  ``plugin/pkg/auth/authenticator/token/bootstrap/bootstrap.go``), else anonymous
  (``system:anonymous``; kubeadm leaves ``--anonymous-auth`` on); authorization ``Node,RBAC``
  (:mod:`.rbac`; nodes may write their own Node and mirror pods bound to them). A CSR created
  gets ``spec.username``/``groups`` of its requester, as the API server sets them.
* kube-controller-manager: the CSR approver and signer (``pkg/controller/certificates``:
  a ``kubernetes.io/kube-apiserver-client-kubelet`` request whose requester may create
  ``certificatesigningrequests/nodeclient`` is approved, then signed with
  ``--cluster-signing-cert-file``/``key-file``), the bootstrap signer (``jws-kubeconfig-<id>``
  in ``kube-public/cluster-info`` for every signing token — ``pkg/controller/bootstrap``), and
  the node lifecycle controller (a silent node turns ``Unknown``).
* kube-scheduler: nothing to schedule (no pod runs); it only keeps its mirror pod.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import json
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from .. import etcd
from ..apiserver import ApiServer
from ..facts import Facts
from ..http import Request, Response, serve, status
from ..node import network_verdict, stale, unknown
from ..records import record
from ..resources import Resource
from ..store import ApiFailure, Store
from ..system_objects import _create, ensure_system_objects
from . import certs, network, rbac
from .client import ApiError, Client
from .manifests import flags_of

TOKEN_SECRET_TYPE = "bootstrap.kubernetes.io/token"  # noqa: S105 (a type name)
KUBELET_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"


def _ssl_context(cert: str, key: str, client_ca: str) -> Any:
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.load_verify_locations(client_ca)
    context.verify_mode = ssl.CERT_OPTIONAL
    return context


def _b64(data: dict[str, str], key: str) -> str:
    return base64.b64decode(data.get(key, "")).decode() if data.get(key) else ""


def bootstrap_user(store: Store, token: str) -> tuple[str, list[str]] | None:
    """The user a bootstrap token authenticates as, or None."""
    token_id, _, secret = token.partition(".")
    if len(token_id) != 6 or len(secret) != 16:
        return None
    secrets_resource = next(r for r in store.catalog() if r.plural == "secrets" and not r.group)
    try:
        stored = store.get(secrets_resource, "kube-system", f"bootstrap-token-{token_id}")
    except ApiFailure:
        return None
    data = stored.get("data") or {}
    if stored.get("type") != TOKEN_SECRET_TYPE:
        return None
    if not hmac.compare_digest(_b64(data, "token-secret"), secret):
        return None
    if _b64(data, "usage-bootstrap-authentication") != "true":
        return None
    expiration = _b64(data, "expiration")
    if (
        expiration
        and calendar.timegm(time.strptime(expiration, "%Y-%m-%dT%H:%M:%SZ")) < time.time()
    ):
        return None
    extra = [g for g in _b64(data, "auth-extra-groups").split(",") if g]
    return f"system:bootstrap:{token_id}", ["system:bootstrappers", *extra]


def _verb(method: str, name: str) -> str:
    return {"GET": "get" if name else "list", "POST": "create", "PUT": "update",
            "PATCH": "patch", "DELETE": "delete"}.get(method, "")  # fmt: skip


def run_apiserver(facts: Facts, manifest: dict[str, Any]) -> None:
    flags = flags_of(manifest)
    files = (flags["etcd-cafile"], flags["etcd-certfile"], flags["etcd-keyfile"])
    local = etcd.Client(flags["etcd-servers"].split(","), "", files)
    etcd.wait_healthy(local, 600)
    store = Store(local)
    service = flags.get("service-cluster-ip-range", "10.96.0.0/12").split(",")[0]
    import ipaddress

    service_ip = str(ipaddress.ip_network(service, strict=False).network_address + 1)

    def bootstrap() -> bool:
        try:
            ensure_system_objects(store, facts, crds=[], service_ip=service_ip)
            catalog = {(r.group, r.plural): r for r in store.catalog()}
            for role in rbac.BOOTSTRAP_ROLES:
                _create(store, catalog[("rbac.authorization.k8s.io", "clusterroles")], role)
            for binding in rbac.BOOTSTRAP_BINDINGS:
                _create(store, catalog[("rbac.authorization.k8s.io", "clusterrolebindings")],
                        binding)  # fmt: skip
        except (etcd.EtcdError, ApiFailure, OSError):
            return False
        return True

    while not bootstrap():
        time.sleep(0.5)

    def lookup(kind: str, namespace: str) -> list[dict[str, Any]]:
        resource = next(r for r in store.catalog()
                        if r.kind == kind and r.group == "rbac.authorization.k8s.io")  # fmt: skip
        return store.list(resource, namespace)[0]

    def authorize(request: Request, resource: Resource, namespace: str, name: str,
                  sub: str) -> bool:  # fmt: skip
        node = request.user.startswith("system:node:") and "system:nodes" in request.groups
        if node and resource.plural == "pods" and not resource.group:
            body = request.json() if request.body else {}
            own = request.user.removeprefix("system:node:")
            bound = (body.get("spec") or {}).get("nodeName") if isinstance(body, dict) else None
            # the Node authorizer: read pods, write mirror pods bound to this node
            if request.method in ("GET", "DELETE") or bound == own or (
                    request.method == "PATCH" and name.endswith(f"-{own}")):  # fmt: skip
                return True
        plural = f"{resource.plural}/{sub}" if sub else resource.plural
        return rbac.allowed(lookup, request.user, request.groups, _verb(request.method, name),
                            resource.group, plural, namespace, name)  # fmt: skip

    def ready() -> str:
        try:
            local.get("/registry/health")
        except etcd.EtcdError as error:
            return f"etcd failed: {error}"
        return ""

    version = {"major": "1", "minor": facts.kubernetes_version.split(".")[1],
               "gitVersion": facts.version, "gitCommit": "sloth-twin", "gitTreeState": "clean",
               "buildDate": "", "goVersion": "none (sloth twin)", "compiler": "sloth-twin",
               "platform": "linux/amd64"}  # fmt: skip
    api = ApiServer(store, version, flags.get("advertise-address", ""), ready, authorize)

    def handle(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        if not request.user and header.lower().startswith("bearer "):
            found = bootstrap_user(store, header[7:].strip())
            if found is None:
                return status(401, "Unauthorized", "Unauthorized")
            request.user, request.groups = found
        if not request.user:
            if flags.get("anonymous-auth", "true") == "false":
                return status(401, "Unauthorized", "Unauthorized")
            request.user, request.groups = "system:anonymous", ["system:unauthenticated"]
        if request.path == "/apis/authorization.k8s.io/v1/subjectaccessreviews":
            return _access_review(request)
        if request.method == "POST" and request.path.endswith("/certificatesigningrequests"):
            body = request.json()
            if isinstance(body, dict):
                body.setdefault("spec", {}).update(username=request.user, groups=request.groups)
                request.body = json.dumps(body).encode()
        return api.handle(request)

    def _access_review(request: Request) -> Response:
        """SubjectAccessReview (``authorization.k8s.io/v1``): may a user do this? Creating one
        needs ``create subjectaccessreviews`` itself (the controller-manager may)."""
        if request.method != "POST" or not rbac.allowed(
            lookup, request.user, request.groups, "create", "authorization.k8s.io",
            "subjectaccessreviews", "", "",
        ):  # fmt: skip
            return status(403, "Forbidden", "subjectaccessreviews is forbidden")
        review = request.json()
        spec = review.get("spec") or {}
        attributes = spec.get("resourceAttributes") or {}
        resource = str(attributes.get("resource", ""))
        if attributes.get("subresource"):
            resource += f"/{attributes['subresource']}"
        allowed = rbac.allowed(
            lookup, str(spec.get("user", "")), list(spec.get("groups") or []),
            str(attributes.get("verb", "")), str(attributes.get("group", "")), resource,
            str(attributes.get("namespace", "")), str(attributes.get("name", "")),
        )  # fmt: skip
        return Response.of(201, {**review, "status": {"allowed": allowed}})

    context = _ssl_context(flags["tls-cert-file"], flags["tls-private-key-file"],
                           flags["client-ca-file"])  # fmt: skip
    serve("0.0.0.0", int(flags.get("secure-port", "6443")), context, handle)
    while True:
        time.sleep(3600)


def run_controller_manager(manifest: dict[str, Any]) -> None:
    flags = flags_of(manifest)
    client = Client.from_kubeconfig(flags["kubeconfig"])
    signer = (flags["cluster-signing-cert-file"], flags["cluster-signing-key-file"])
    steps: list[Callable[[], None]] = [
        lambda: sign_requests(client, signer),
        lambda: sign_cluster_info(client),
        lambda: node_lifecycle(client),
    ]
    while True:
        for step in steps:
            try:
                step()
            except (ApiError, OSError, KeyError, ValueError):
                pass  # the API is away (a restart, no quorum): next tick, as the real loops do
            except Exception:
                record("ERROR controller-manager " + traceback.format_exc().replace("\n", " | "))
        time.sleep(1.0)


def sign_requests(client: Client, signer: tuple[str, str]) -> None:
    requests = client.get("/apis/certificates.k8s.io/v1/certificatesigningrequests")["items"]
    for csr in requests:
        spec, state = csr.get("spec") or {}, csr.get("status") or {}
        if state.get("certificate") or spec.get("signerName") != KUBELET_SIGNER:
            continue
        review = client.call("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", {
            "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"user": spec.get("username"), "groups": spec.get("groups") or [],
                     "resourceAttributes": {"group": "certificates.k8s.io", "verb": "create",
                                            "resource": "certificatesigningrequests",
                                            "subresource": "nodeclient"}}})  # fmt: skip
        if not (review.get("status") or {}).get("allowed"):
            continue
        pem = base64.b64decode(spec["request"])
        cert = certs.sign_request(signer[0], signer[1], pem, client=True)
        csr["status"] = {
            "conditions": [{"type": "Approved", "status": "True", "reason": "AutoApproved",
                            "message": "Auto approving kubelet client certificate after "
                                       "SubjectAccessReview."}],
            "certificate": base64.b64encode(cert).decode(),
        }  # fmt: skip
        name = csr["metadata"]["name"]
        client.call("PUT", f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}/status",
                    csr)  # fmt: skip


def _jws(content: str, token_id: str, secret: str) -> str:
    """A detached JWS (HS256, ``kid`` = token id) of ``content`` signed with the token secret
    (k8s.io/cluster-bootstrap ``token/jws/jws.go``)."""

    def b64url(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    header = b64url(json.dumps({"alg": "HS256", "kid": token_id}, separators=(",", ":")).encode())
    payload = b64url(content.encode())
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}..{b64url(signature)}"


def sign_cluster_info(client: Client) -> None:
    path = "/api/v1/namespaces/kube-public/configmaps/cluster-info"
    try:
        info = client.get(path)
    except ApiError:
        return
    secrets = client.get("/api/v1/namespaces/kube-system/secrets")["items"]
    wanted: dict[str, str] = {}
    content = (info.get("data") or {}).get("kubeconfig", "")
    for secret in secrets:
        data = secret.get("data") or {}
        if (
            secret.get("type") != TOKEN_SECRET_TYPE
            or _b64(data, "usage-bootstrap-signing") != "true"
        ):
            continue
        token_id = _b64(data, "token-id")
        wanted[f"jws-kubeconfig-{token_id}"] = _jws(content, token_id, _b64(data, "token-secret"))
    current = {k: v for k, v in (info.get("data") or {}).items() if k.startswith("jws-kubeconfig-")}
    if current != wanted:
        info["data"] = {"kubeconfig": content, **wanted}
        client.call("PUT", path, info)


def node_lifecycle(client: Client) -> None:
    pods_network = network.pod_network(client)
    for node in client.get("/api/v1/nodes")["items"]:
        name = node["metadata"]["name"]
        if stale(node):
            client.call("PUT", f"/api/v1/nodes/{name}/status", unknown(node))
            continue
        judged = network_verdict(node, pods_network)
        if judged is not None:
            client.call("PUT", f"/api/v1/nodes/{name}/status", judged)


def run_scheduler(manifest: dict[str, Any]) -> None:
    _ = threading  # nothing to schedule: no pod runs in the twin
    while True:
        time.sleep(3600)
