# mypy: disallow-untyped-calls=False
# (libcloud is untyped; this module is the only one calling into it directly)
"""libcloud glue: Keystone v3 password auth, one token per process, catalog endpoints.

libcloud's ``OpenStack_2_NodeDriver`` gives three JSON connections (compute, network, image), its
Keystone v3 identity connection and its error handling. Four things are adjusted here:

* the project's domain is sent by *name* (``projectDomainName``, as clouds.yaml and openrc do);
  libcloud sends a domain *id*;
* endpoints are picked from the service catalog by type, region and ``interface`` only: libcloud
  also filters on service names (``nova``, ``neutron``…) that catalogs need not carry, and always
  takes the public interface;
* the token and catalog are cached per process (keyed on URL, user, project, domains and a digest
  of the password): every worker thread has its own driver, and without the cache each of them
  would ask Keystone three times (once per service) for a token;
* a 413 carrying ``Retry-After`` (Nova's documented rate-limit answer) is raised as libcloud's
  429 error, so the shared retry layer honours it like any other rate limit.

Nothing here is imported until a driver is created (libcloud is heavy).
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from libcloud.common.exceptions import BaseHTTPError, RateLimitReachedError
from libcloud.common.openstack_identity import (
    OpenStackAuthenticationContext,
    OpenStackIdentity_3_0_Connection,
    OpenStackIdentityConnection,
    OpenStackIdentityEndpointType,
    OpenStackServiceCatalog,
)
from libcloud.compute.drivers.openstack import (
    OpenStack_2_Connection,
    OpenStack_2_ImageConnection,
    OpenStack_2_NetworkConnection,
    OpenStack_2_NodeDriver,
)
from sloth_kubernetes.plugin import ProviderError

#: Server tags in the create request need compute API microversion 2.52 (Queens, 2018).
COMPUTE_MICROVERSION = "2.52"
INTERFACES = {
    "public": OpenStackIdentityEndpointType.EXTERNAL,
    "internal": OpenStackIdentityEndpointType.INTERNAL,
    "admin": OpenStackIdentityEndpointType.ADMIN,
}


def keystone_root(url: str) -> str:
    """``https://keystone:5000/v3`` → ``https://keystone:5000``: openrc's ``OS_AUTH_URL`` usually
    ends in ``/v3`` while libcloud appends ``/v3/auth/tokens`` itself."""
    parts = urlsplit(url.rstrip("/"))
    path = parts.path
    for suffix in ("/v3", "/v3.0"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


class TokenCache:
    """Process-wide Keystone tokens *with* their catalogs (libcloud's v3 cache keeps only the
    token and asks Keystone for the catalog again). Thread-safe."""

    def __init__(self) -> None:
        self._contexts: dict[Any, OpenStackAuthenticationContext] = {}
        self._lock = threading.Lock()

    def get(self, key: Any) -> OpenStackAuthenticationContext | None:
        with self._lock:
            return self._contexts.get(key)

    def put(self, key: Any, context: OpenStackAuthenticationContext) -> None:
        with self._lock:
            self._contexts[key] = context

    def clear(self, key: Any) -> None:
        with self._lock:
            self._contexts.pop(key, None)


TOKENS = TokenCache()


class _Identity(OpenStackIdentity_3_0_Connection):
    """Keystone v3 password auth, project scoped, both domains by name."""

    project_domain_name = "Default"

    def _get_auth_data(self) -> dict[str, Any]:
        data: dict[str, Any] = super()._get_auth_data()
        data["auth"]["scope"]["project"]["domain"] = {"name": self.project_domain_name}
        return data

    @property
    def _cache_key(self) -> tuple[str, ...]:
        secret = hashlib.sha256(str(self.key).encode()).hexdigest()
        return (
            str(self.auth_url),
            str(self.user_id),
            str(self.domain_name),
            str(self.tenant_name),
            self.project_domain_name,
            secret,
        )

    def _parse_token_response(
        self, response: Any, cache_it: bool = False, raise_ambiguous_version_error: bool = True
    ) -> None:
        super()._parse_token_response(response, False, raise_ambiguous_version_error)
        if cache_it and self.auth_cache is not None:
            self.auth_cache.put(
                self._cache_key,
                OpenStackAuthenticationContext(
                    self.auth_token,
                    expiration=self.auth_token_expires,
                    user=self.auth_user_info,
                    roles=self.auth_user_roles,
                    urls=self.urls,
                ),
            )

    def _load_auth_context_from_cache(self) -> Any:
        # The cached context carries the catalog: no GET /v3/auth/tokens to fetch it again.
        return OpenStackIdentityConnection._load_auth_context_from_cache(self)


class _Endpoints:
    """Mixed into the three service connections: our identity class and endpoint choice."""

    service_type: str
    service_catalog: Any
    sloth_interface = "public"
    sloth_project_domain = "Default"

    def get_auth_class(self) -> Any:
        conn: Any = self
        if not conn._osa:
            identity = _Identity(
                auth_url=conn._get_auth_url(),
                user_id=conn.user_id,
                key=conn.key,
                tenant_name=conn._ex_tenant_name,
                domain_name=conn._ex_domain_name,
                token_scope=conn._ex_token_scope,
                timeout=conn.timeout,
                proxy_url=conn.proxy_url,
                parent_conn=conn,
                auth_cache=conn._ex_auth_cache,
            )
            identity.project_domain_name = self.sloth_project_domain
            conn._osa = identity
        return conn._osa

    def get_endpoint(self) -> str:
        conn: Any = self
        region = conn._ex_force_service_region
        catalog: OpenStackServiceCatalog = self.service_catalog
        try:
            endpoint = catalog.get_endpoint(
                service_type=self.service_type,
                region=region,
                endpoint_type=INTERFACES[self.sloth_interface],
            )
        except Exception:  # libcloud raises LibcloudError or ValueError (several matches)
            regions = ", ".join(catalog.get_regions(self.service_type)) or "none"
            raise ProviderError(
                f"openstack: the service catalog has no single {self.sloth_interface} "
                f"{self.service_type} endpoint in region {region} (regions with one: {regions})",
                provider="openstack",
                hint="set spec.providers.openstack.region (and interface) to what your cloud "
                "offers: `openstack catalog list` shows it",
            ) from None
        return str(endpoint.url)


class _Compute(_Endpoints, OpenStack_2_Connection):  # type: ignore[misc]
    service_name = None  # type: ignore[assignment]  # match by type only


class _Image(_Endpoints, OpenStack_2_ImageConnection):  # type: ignore[misc]
    service_name = None  # type: ignore[assignment]  # match by type only


class _Network(_Endpoints, OpenStack_2_NetworkConnection):  # type: ignore[misc]
    service_name = None  # type: ignore[assignment]  # match by type only


class _NodeDriver(OpenStack_2_NodeDriver):
    connectionCls = _Compute
    image_connectionCls = _Image
    network_connectionCls = _Network


def _rate_limit_413(connection: Any) -> None:
    """Nova answers rate limits with 413 + Retry-After: re-raise it as libcloud's 429."""
    original = connection.request

    def request(*args: Any, **kwargs: Any) -> Any:
        try:
            return original(*args, **kwargs)
        except BaseHTTPError as error:
            headers = error.headers or {}
            if error.code == 413 and "retry-after" in headers:
                raise RateLimitReachedError(headers=headers) from error
            raise

    connection.request = request


def open_connections(
    *,
    auth_url: str,
    username: str,
    password: str,
    project: str,
    user_domain: str,
    project_domain: str,
    region: str,
    interface: str,
) -> dict[str, Any]:
    """The compute, network and image connections of one libcloud driver."""
    driver = _NodeDriver(
        username,
        password,
        ex_force_auth_url=keystone_root(auth_url),
        ex_force_auth_version="3.x_password",
        ex_tenant_name=project,
        ex_domain_name=user_domain,
        ex_force_service_region=region,
        ex_force_microversion=COMPUTE_MICROVERSION,
        ex_auth_cache=TOKENS,
    )
    connections: dict[str, Any] = {
        "compute": driver.connection,
        "network": driver.network_connection,
        "image": driver.image_connection,
    }
    for connection in connections.values():
        connection.sloth_interface = interface
        connection.sloth_project_domain = project_domain
        _rate_limit_413(connection)
    return connections


def authenticate(connection: Any) -> None:
    """Get a token and the catalog for ``connection`` now (one request, or none when another
    driver of this process already holds a valid token)."""
    connection._populate_hosts_and_request_paths()


def needs_token(connection: Any) -> bool:
    return connection.service_catalog is None or not connection.get_auth_class().is_token_valid()


def compute_regions(connection: Any) -> list[str]:
    """Regions with a compute endpoint, from the catalog (needs a token)."""
    return list(connection.service_catalog.get_regions("compute"))
