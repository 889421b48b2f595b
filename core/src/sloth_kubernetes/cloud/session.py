"""One provider's working set for one hook call: settings, credentials, guard, drivers.

Drivers are created one per thread (libcloud drivers are not thread-safe) and closed at the end.
The guard — token bucket and retry statistics — is shared by every call for the same provider and
endpoint in this process, so ``plan``'s listing and ``up``'s creates draw on one budget.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..config.references import Reference
from ..errors import ConfigError, ProviderError, SlothError
from ..log import get_logger
from ..model.cluster import PluginBlock
from .ratelimit import RateLimit, TokenBucket
from .retry import Guard, RetryPolicy, http_status_of

if TYPE_CHECKING:
    from ..context import ClusterContext
    from .contract import CloudDriver
    from .provider import ProviderSpec

log = get_logger("cloud")

#: How clouds say a thing does not exist: EC2's ``InvalidGroup.NotFound`` (HTTP 400), Linode's
#: "Not found", Hetzner's ``not_found``, DigitalOcean's "could not be found", a plain 404.
_NOT_FOUND = re.compile(r"\.NotFound\b|\bnot[ _]found\b|could not be found|\b404\b", re.I)
_QUOTA_OR_POLICY = re.compile(r"quota|limit exceeded|exceeded .*limit|policy", re.IGNORECASE)
_guards: dict[tuple[str, str], Guard] = {}
_guards_lock = threading.Lock()


def shared_guard(
    name: str,
    endpoint: str,
    limit: RateLimit,
    policy: RetryPolicy,
    action_limits: Mapping[str, RateLimit] | None = None,
) -> Guard:
    """The process-wide guard of one provider endpoint (buckets replaced if a limit changed).

    ``action_limits`` are the cloud's separate budgets for single API actions (see
    :class:`~sloth_kubernetes.cloud.retry.Guard`).
    """
    wanted = dict(action_limits or {})
    with _guards_lock:
        guard = _guards.get((name, endpoint))
        if (
            guard is None
            or guard.bucket.limit != limit
            or {key: bucket.limit for key, bucket in guard.action_buckets.items()} != wanted
        ):
            buckets = {key: TokenBucket(value) for key, value in wanted.items()}
            guard = Guard(name, TokenBucket(limit), policy, action_buckets=buckets)
            _guards[(name, endpoint)] = guard
        guard.policy = policy
        return guard


def credential_variables(settings: Any) -> dict[str, Reference]:
    """The settings fields holding references (credentials), by field name."""
    import attrs

    return {
        field.name: getattr(settings, field.name)
        for field in attrs.fields(type(settings))
        if isinstance(getattr(settings, field.name), Reference)
    }


class Session:
    """Everything one hook call of a cloud provider needs; use as a context manager."""

    def __init__(self, spec: ProviderSpec, context: ClusterContext) -> None:
        self.spec = spec
        self.context = context
        block = context.config.spec.providers.get(spec.name)
        settings = block.settings if isinstance(block, PluginBlock) else None
        self.settings: Any = settings if settings is not None else spec.settings()
        self.region: str = self.settings.region or spec.driver.default_region
        self.references = credential_variables(self.settings)
        self.credentials = self._resolve_credentials()
        limit = RateLimit(
            self.settings.rate_limit or spec.rate_limit.rate,
            self.settings.burst or spec.rate_limit.burst,
        )
        # A budget of the operator's own (rateLimit/burst) is one bucket for every request; the
        # cloud's documented per-action budgets apply only when they kept the defaults.
        own_budget = bool(self.settings.rate_limit) or self.settings.burst is not None
        action_limits = {} if own_budget else dict(spec.action_limits)
        policy = RetryPolicy(
            attempts=self.settings.retry_attempts, deadline=self.settings.retry_deadline
        )
        endpoint = spec.driver.api_endpoint(self.settings)
        self.guard = shared_guard(spec.name, endpoint, limit, policy, action_limits)
        self._retries_at_start = self.guard.stats.total
        self._local = threading.local()
        self._drivers: list[CloudDriver] = []
        self._lock = threading.Lock()

    def _resolve_credentials(self) -> dict[str, Any]:
        resolved = {}
        for field, reference in self.references.items():
            try:
                resolved[field] = reference.resolve()
            except ConfigError as error:
                # FILE:LINE:COL of the reference when written; its key when it is a default.
                (issue,) = error.issues
                where = f"{issue.file}:{issue.line}:{issue.column}: " if issue.line else ""
                key = issue.path or f"spec.providers.{self.spec.name}.{self._key(field)} (default)"
                raise ProviderError(
                    f"{self.spec.name}: no credentials: {where}{key}: {issue.message}",
                    provider=self.spec.name,
                    hint=issue.hint,
                ) from None
        return resolved

    def _key(self, field: str) -> str:
        import attrs

        from ..config.convert import yaml_key

        return yaml_key(attrs.fields_dict(type(self.settings))[field])

    @property
    def concurrency(self) -> int:
        wanted = self.settings.concurrency or self.spec.concurrency
        return max(1, min(wanted, self.context.concurrency))

    def driver(self) -> CloudDriver:
        """This thread's driver."""
        driver: CloudDriver | None = getattr(self._local, "driver", None)
        if driver is None:
            with self.errors("connecting"):
                driver = self.spec.driver(self.settings, self.credentials, self.region, self.guard)
            self._local.driver = driver
            with self._lock:
                self._drivers.append(driver)
        return driver

    def drivers(self) -> list[CloudDriver]:
        """The drivers created so far (each belongs to the thread that created it)."""
        with self._lock:
            return list(self._drivers)

    @contextlib.contextmanager
    def errors(self, doing: str) -> Iterator[None]:
        """Turn what a driver raises into one-line :class:`ProviderError` messages."""
        try:
            yield
        except (SlothError, NotImplementedError):
            raise
        except Exception as error:
            raise self.translate(error, doing) from error

    @contextlib.contextmanager
    def deleting(self, doing: str) -> Iterator[None]:
        """Like :meth:`errors`, for deleting one thing: an answer that it does not exist is
        success. A delete whose reply was lost (connection cut after the cloud acted) is
        repeated by the retry layer and then answered "not found"; the thing is gone, as wanted.
        """
        try:
            with self.errors(doing):
                yield
        except ProviderError as error:
            cause = error.__cause__
            if error.http_status != 404 and not (
                cause is not None and _NOT_FOUND.search(str(cause))
            ):
                raise
            log.info("%s: %s: already gone (%s)", self.spec.name, doing, error)

    def translate(self, error: Exception, doing: str) -> ProviderError:
        name = self.spec.name
        status = http_status_of(error)
        text = str(getattr(error, "value", "") or getattr(error, "message", "") or error)
        # A 403 is also how clouds say "quota exceeded" or "forbidden by policy": those are not
        # bad credentials, and telling the user to change a working key would mislead them.
        limited = status == 403 and _QUOTA_OR_POLICY.search(text) is not None
        refused = (
            type(error).__name__ == "InvalidCredsError"
            or status == 401
            or (status == 403 and not limited)
        )
        if refused or "AuthFailure" in text or "Unauthorized" in text:
            variables = ", ".join(str(r) for r in self.references.values()) or "the credentials"
            targets = ", ".join(r.target for r in self.references.values())
            return ProviderError(
                f"{name}: the API refused the credentials from {variables} while {doing}",
                provider=name,
                http_status=status if isinstance(status, int) else 401,
                hint=f"set {targets or 'the credentials'} to a valid key for {name}",
            )
        if limited:
            return ProviderError(
                f"{name}: {doing} was refused by a quota or policy: {text.strip()}",
                provider=name,
                http_status=status,
                hint=f"raise the quota or ask for fewer/smaller machines on {name}; the "
                "credentials themselves were accepted",
            )
        return ProviderError(
            f"{name}: {doing} failed: {text.strip() or type(error).__name__}",
            provider=name,
            http_status=status,
            hint="see the message above; `--debug` shows the API exchange",
        )

    @property
    def retries(self) -> int:
        return self.guard.stats.total - self._retries_at_start

    def close(self) -> None:
        with self._lock:
            drivers, self._drivers = self._drivers, []
        for driver in drivers:
            with contextlib.suppress(Exception):
                driver.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
