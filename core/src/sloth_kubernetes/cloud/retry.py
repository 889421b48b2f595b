"""Retries with jittered exponential backoff, capped in count and in time — never infinite.

libcloud retries nothing by default (and, when enabled, only 429). Here every API request of a
cloud driver goes through :meth:`Guard.request`: it takes a token from the provider's bucket and
retries what a cloud answers when it is busy — HTTP 429, 5xx, AWS throttling codes, and the
rate-limit errors Linode and Vultr wrap in their own exceptions. A request that is not safe to
repeat (a create) is retried here only when the cloud certainly did not act on it (429 and
throttling); on a 5xx it fails with :class:`RetryableCreateError` and the provider looks the
machine up by its tags before trying again, so a lost reply never creates a duplicate.
"""

from __future__ import annotations

import contextvars
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs

from ..errors import ProviderError
from .ratelimit import TokenBucket

T = TypeVar("T")

#: AWS error codes meaning "slow down" (sent with HTTP 400 or 503).
AWS_THROTTLING = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "SlowDown",
    }
)
#: AWS error codes of a failure on AWS's side: retried, but the request may have been acted on.
AWS_SERVER_ERRORS = frozenset({"InternalError", "ServiceUnavailable", "Unavailable"})
_AWS_CODE = re.compile(r"^([A-Z][A-Za-z.]+):")
_STATUS_IN_TEXT = re.compile(r"(?:Status code:|HTTP|status)\s*:?\s*(\d{3})", re.IGNORECASE)

#: The node a worker thread is creating, so retries can be attributed to it in the summary.
current_node: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "sloth_cloud_node", default=None
)


@attrs.frozen
class RetryPolicy:
    """At most ``attempts`` tries and ``deadline`` seconds per request; backoff ``base·2^n``
    capped at ``cap`` seconds, with full jitter; a ``Retry-After`` header is honoured (capped)."""

    attempts: int = 8
    deadline: float = 120.0
    base: float = 0.5
    cap: float = 20.0


@attrs.frozen
class Verdict:
    """How a failure is treated: retry it? did the cloud certainly not act on it?"""

    retryable: bool
    reason: str = ""
    not_processed: bool = False  # 429/throttling: safe to repeat even a create
    retry_after: float | None = None


def classify(error: BaseException) -> Verdict:
    """Whether ``error`` (from libcloud or our own clients) is worth retrying, and why."""
    if isinstance(error, ProviderError):
        status = error.http_status
        if status == 429:
            return Verdict(True, "429", True, _retry_after(error))
        if error.retryable:
            return Verdict(True, str(status or "retryable"))
        return Verdict(False)
    status = http_status_of(error)
    text = str(getattr(error, "message", "") or error)
    if status is None:
        match = _STATUS_IN_TEXT.search(text)
        status = int(match.group(1)) if match else None
    aws_code = _AWS_CODE.match(text.strip())  # libcloud's EC2 errors read "Code: message"
    if aws_code and aws_code.group(1) in AWS_THROTTLING:
        return Verdict(True, f"aws:{aws_code.group(1)}", True, _retry_after(error))
    if aws_code and aws_code.group(1) in AWS_SERVER_ERRORS:
        return Verdict(True, f"aws:{aws_code.group(1)}")
    if status == 429 or "rate limit" in text.lower() or "too many requests" in text.lower():
        return Verdict(True, "429", True, _retry_after(error))
    if status == 413 and _retry_after(error) is not None:
        # OpenStack Nova's rate limiting: "413 Request Entity Too Large" with Retry-After.
        return Verdict(True, "413", True, _retry_after(error))
    if status is not None and 500 <= status <= 599:
        return Verdict(True, str(status))
    if is_connection_failure(error):
        return Verdict(True, "connection")
    return Verdict(False)


def is_connection_failure(error: BaseException) -> bool:
    """A connection that was refused, reset, cut before the reply or timed out — not a
    certificate or proxy refusal, which repeating cannot fix.

    libcloud talks HTTP through requests, whose errors are not the builtin ``ConnectionError``
    (a dropped connection arrives as ``requests.ConnectionError('Connection aborted.',
    RemoteDisconnected(...))``)."""
    import http.client

    import requests

    if isinstance(error, requests.exceptions.RequestException):
        if isinstance(error, requests.exceptions.SSLError | requests.exceptions.ProxyError):
            return False
        return isinstance(
            error,
            requests.exceptions.ConnectionError
            | requests.exceptions.Timeout
            | requests.exceptions.ChunkedEncodingError,
        )
    return isinstance(error, ConnectionError | TimeoutError | http.client.IncompleteRead)


def http_status_of(error: BaseException) -> int | None:
    """The HTTP status an exception carries: libcloud puts it in ``code`` (an int, but a reason
    string in its Google errors), ``http_code`` or ``http_status``."""
    for attribute in ("code", "http_code", "http_status"):
        value = getattr(error, attribute, None)
        if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
            return value
    return None


def _retry_after(error: BaseException) -> float | None:
    value = getattr(error, "retry_after", None)
    headers = getattr(error, "headers", None) or {}
    if not value and isinstance(headers, dict):
        value = headers.get("retry-after") or headers.get("Retry-After")
    try:
        return float(value) if value else None
    except (TypeError, ValueError):
        return None


class RetryableCreateError(ProviderError):
    """A create failed with a reply that does not say whether the cloud acted on it."""


@attrs.define
class RetryStats:
    """Retries per reason and per node, for the run summary. Thread-safe."""

    by_reason: Counter[str] = attrs.field(factory=Counter)
    by_node: Counter[str] = attrs.field(factory=Counter)
    _lock: threading.Lock = attrs.field(factory=threading.Lock)

    def add(self, reason: str) -> None:
        node = current_node.get()
        with self._lock:
            self.by_reason[reason] += 1
            if node:
                self.by_node[node] += 1

    @property
    def total(self) -> int:
        return sum(self.by_reason.values())

    def describe(self) -> str:
        parts = ", ".join(f"{reason}: {n}" for reason, n in sorted(self.by_reason.items()))
        return f"{self.total} API retries" + (f" ({parts})" if parts else "")


class Guard:
    """Rate limit + retries around every API request of one provider (shared by its threads).

    ``bucket`` is the provider's shared budget. ``action_buckets`` are the separate budgets a
    cloud documents for single API actions (EC2's ``RunInstances``: 5 at once, 2 per second): a
    request whose limit key names one draws from it instead of the shared bucket.
    """

    def __init__(
        self,
        provider: str,
        bucket: TokenBucket,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        seed: int | None = None,
        action_buckets: Mapping[str, TokenBucket] | None = None,
    ) -> None:
        self._clock = clock
        self.provider = provider
        self.bucket = bucket
        self.action_buckets: dict[str, TokenBucket] = dict(action_buckets or {})
        self.policy = policy or RetryPolicy()
        self.stats = RetryStats()
        self._sleep = sleep
        self._random = random.Random(seed)  # noqa: S311 (jitter, not security)
        self._lock = threading.Lock()

    def backoff(self, attempt: int, verdict: Verdict) -> float:
        with self._lock:
            jitter = self._random.uniform(0, min(self.policy.cap, self.policy.base * 2**attempt))
        if verdict.retry_after is not None:
            return min(self.policy.cap, max(verdict.retry_after, jitter))
        return jitter

    def bucket_for(self, limit_key: str | None) -> TokenBucket:
        """The bucket a request with ``limit_key`` draws from (the shared one if it has none)."""
        if limit_key is not None:
            own = self.action_buckets.get(limit_key)
            if own is not None:
                return own
        return self.bucket

    def request(
        self,
        what: str,
        call: Callable[[], T],
        *,
        safe_to_repeat: bool = True,
        limit_key: str | None = None,
    ) -> T:
        """Run one API request under its bucket, retrying busy answers within the caps."""
        bucket = self.bucket_for(limit_key)
        started = self._clock()
        attempt = 0
        while True:
            bucket.acquire()
            try:
                return call()
            except Exception as error:
                verdict = classify(error)
                if not verdict.retryable:
                    raise
                attempt += 1
                delay = self.backoff(attempt, verdict)
                out_of_budget = (
                    attempt >= self.policy.attempts
                    or self._clock() - started + delay > self.policy.deadline
                )
                if not safe_to_repeat and not verdict.not_processed:
                    raise RetryableCreateError(
                        f"{self.provider}: {what} failed ({verdict.reason}): {error}",
                        provider=self.provider,
                        retryable=True,
                    ) from error
                if out_of_budget:
                    raise ProviderError(
                        f"{self.provider}: {what} still failing after {attempt} attempts "
                        f"in {self._clock() - started:.0f} s ({verdict.reason}): {error}",
                        provider=self.provider,
                        hint="the cloud is rate limiting or failing; wait and re-run `up` "
                        "(it resumes), or lower the provider's rateLimit",
                    ) from error
                self.stats.add(verdict.reason)
                self._sleep(delay)


def guard_connection(
    connection: Any,
    guard: Guard,
    unsafe: Callable[..., bool],
    *,
    limit_key: Callable[..., str | None] | None = None,
) -> None:
    """Route every ``connection.request(...)`` of a libcloud connection through ``guard``.

    ``unsafe(action, params, method, data)`` says whether repeating a request could act twice;
    ``limit_key(action, params, method, data)`` (optional) names the request's own rate-limit
    bucket, e.g. the EC2 action, when the cloud documents separate budgets per action.
    """
    original = connection.request

    def request(action: str, params: Any = None, data: Any = None, *args: Any, **kw: Any) -> Any:
        method = kw.get("method", "GET")
        repeatable = not unsafe(action, params or {}, method, data)
        key = limit_key(action, params or {}, method, data) if limit_key is not None else None
        return guard.request(
            f"{method} {action}",
            lambda: original(action, params, data, *args, **kw),
            safe_to_repeat=repeatable,
            limit_key=key,
        )

    connection.request = request


@attrs.frozen
class Endpoint:
    """An API base URL taken apart the way libcloud connections want it."""

    host: str
    port: int
    secure: bool
    path: str  # without a trailing slash; "" for the root

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        secure = parts.scheme == "https"
        return cls(parts.hostname or "", parts.port or (443 if secure else 80), secure,
                   parts.path.rstrip("/"))  # fmt: skip


def point_connection_at(connection: Any, url: str) -> str:
    """Re-point a libcloud connection at ``url`` (an ``endpoint`` override) and return the path
    prefix its requests need. Several libcloud drivers ignore host/port arguments, so the
    connection itself is changed."""
    endpoint = Endpoint.parse(url)
    connection.host, connection.port = endpoint.host, endpoint.port
    connection.secure = endpoint.secure
    connection.connect()
    return endpoint.path
