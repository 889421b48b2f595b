"""Retries and the token bucket: what is retried, how often, how long, what is never repeated."""

from __future__ import annotations

import pytest
import requests
from libcloud.common.exceptions import BaseHTTPError, RateLimitReachedError
from libcloud.common.types import InvalidCredsError, LibcloudError
from sloth_kubernetes.cloud.ratelimit import RateLimit, TokenBucket
from sloth_kubernetes.cloud.retry import (
    Guard,
    RetryableCreateError,
    RetryPolicy,
    classify,
    http_status_of,
)
from sloth_kubernetes.errors import ProviderError


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_bucket_allows_the_burst_then_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(RateLimit(2.0, 3), clock=clock, sleep=clock.sleep)
    for _ in range(3):
        assert bucket.acquire() == 0
    assert bucket.acquire() == pytest.approx(0.5)
    assert bucket.acquire() == pytest.approx(0.5)
    clock.now += 10  # refills up to the burst only
    assert [bucket.acquire() for _ in range(4)] == [0, 0, 0, pytest.approx(0.5)]


def test_hetzner_style_hourly_limit() -> None:
    limit = RateLimit.per_hour(3600, 300)
    assert limit.rate == 1.0
    assert limit.describe() == "1/s, burst 300"
    assert RateLimit.per_hour(1800, 10).describe() == "1800/hour, burst 10"


@pytest.mark.parametrize(
    ("error", "reason", "not_processed"),
    [
        (RateLimitReachedError(headers={"retry-after": "3"}), "429", True),
        (BaseHTTPError(503, "Service Unavailable"), "503", False),
        (BaseHTTPError(502, "Bad Gateway"), "502", False),
        (LibcloudError("API rate limit exceeded Status code: 429."), "429", True),
        (BaseHTTPError(400, "Throttling: Rate exceeded"), "aws:Throttling", True),
        (BaseHTTPError(503, "RequestLimitExceeded: slow down"), "aws:RequestLimitExceeded", True),
        (BaseHTTPError(500, "InternalError: oops"), "aws:InternalError", False),
        (ConnectionResetError("reset"), "connection", False),
        # libcloud talks through requests: its errors are not the builtin ConnectionError
        (requests.ConnectionError("('Connection aborted.', RemoteDisconnected())"),
         "connection", False),
        (requests.ReadTimeout("read timed out"), "connection", False),
    ],
)  # fmt: skip
def test_busy_answers_are_retryable(error: Exception, reason: str, not_processed: bool) -> None:
    verdict = classify(error)
    assert verdict.retryable
    assert verdict.reason == reason
    assert verdict.not_processed is not_processed


@pytest.mark.parametrize(
    "error",
    [
        InvalidCredsError("bad token"),
        BaseHTTPError(422, "You specified an invalid size."),
        BaseHTTPError(404, "not found"),
        KeyError("errors"),
        requests.exceptions.SSLError("certificate verify failed"),  # repeating cannot fix it
    ],
)
def test_mistakes_are_not_retried(error: Exception) -> None:
    assert not classify(error).retryable


def guard(attempts: int = 4, deadline: float = 60.0) -> tuple[Guard, FakeClock]:
    clock = FakeClock()
    bucket = TokenBucket(RateLimit(1000, 1000), clock=clock, sleep=clock.sleep)
    policy = RetryPolicy(attempts, deadline)
    return Guard("demo", bucket, policy, sleep=clock.sleep, clock=clock, seed=1), clock


def test_retries_until_success_and_counts_them() -> None:
    g, clock = guard()
    answers: list[Exception | str] = [BaseHTTPError(503, "busy"), RateLimitReachedError(), "ok"]

    def call() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert g.request("GET /things", call) == "ok"
    assert g.stats.total == 2
    assert dict(g.stats.by_reason) == {"503": 1, "429": 1}
    assert len(clock.slept) == 2


def test_retry_after_is_honoured_and_capped() -> None:
    g, clock = guard()
    answers = [RateLimitReachedError(headers={"retry-after": "7"}), "ok"]

    def call() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return str(answer)

    g.request("GET /x", call)
    assert clock.slept[-1] >= 7
    huge = RateLimitReachedError(headers={"retry-after": "3600"})
    assert g.backoff(1, classify(huge)) == g.policy.cap


def test_attempts_are_capped_never_infinite() -> None:
    g, _ = guard(attempts=3)
    calls = 0

    def call() -> None:
        nonlocal calls
        calls += 1
        raise BaseHTTPError(503, "down")

    with pytest.raises(ProviderError, match=r"demo: GET /x still failing after 3 attempts"):
        g.request("GET /x", call)
    assert calls == 3


def test_time_is_capped() -> None:
    g, _ = guard(attempts=50, deadline=5.0)

    def call() -> None:
        raise RateLimitReachedError(headers={"retry-after": "2"})

    with pytest.raises(ProviderError, match="still failing"):
        g.request("GET /x", call)
    assert g.stats.total == 2  # at 0 s and 2 s; a third wait would end past 5 s


def test_a_create_is_repeated_on_429_but_not_on_an_ambiguous_5xx() -> None:
    g, _ = guard()
    answers = [RateLimitReachedError(), "created"]

    def create() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return str(answer)

    assert g.request("POST /servers", create, safe_to_repeat=False) == "created"

    def failing() -> None:
        raise BaseHTTPError(503, "upstream timeout")

    with pytest.raises(RetryableCreateError):
        g.request("POST /servers", failing, safe_to_repeat=False)


def test_openstack_413_with_retry_after_is_throttling_not_a_mistake() -> None:
    throttled = BaseHTTPError(413, "Request Entity Too Large", headers={"retry-after": "2"})
    verdict = classify(throttled)
    assert (verdict.retryable, verdict.reason, verdict.retry_after) == (True, "413", 2.0)
    assert not classify(BaseHTTPError(413, "Request Entity Too Large")).retryable


def test_status_is_read_from_wherever_libcloud_put_it() -> None:
    google = BaseHTTPError(503, "backendError")
    google.code = "backendError"  # libcloud's Google errors: a reason string in `code`
    google.http_code = 503  # type: ignore[attr-defined]
    assert http_status_of(google) == 503
    assert classify(google).reason == "503"
    assert http_status_of(KeyError("x")) is None


@pytest.fixture
def session(config_factory, sloth_manager, dummy_provider, monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    import attrs
    from sloth_kubernetes.cloud import CloudDriver, CloudProvider, CloudSettings, ProviderSpec
    from sloth_kubernetes.config.loader import load_config
    from sloth_kubernetes.config.references import Reference
    from sloth_kubernetes.context import ClusterContext

    @attrs.frozen(kw_only=True)
    class Settings(CloudSettings):
        token: Reference = attrs.field(default=Reference("env", "EXAMPLE_TOKEN"))

    class Driver(CloudDriver):
        name = "example"

    monkeypatch.setenv("EXAMPLE_TOKEN", "t" * 20)
    spec = ProviderSpec("example", "test", Driver, Settings, RateLimit(100, 100))
    config = load_config([config_factory()], sloth_manager.hooks.catalog())
    with CloudProvider(spec).session(ClusterContext(config=config, data_dir=tmp_path)) as opened:
        yield opened


def test_a_refused_key_names_the_variable(session) -> None:  # type: ignore[no-untyped-def]
    for error in (InvalidCredsError("nope"), BaseHTTPError(401, "Unauthorized"),
                  BaseHTTPError(403, "The request is forbidden for this token")):  # fmt: skip
        translated = session.translate(error, "listing machines")
        assert "refused the credentials from ${env:EXAMPLE_TOKEN}" in str(translated)
        assert translated.hint == "set EXAMPLE_TOKEN to a valid key for example"


def test_a_quota_403_is_not_blamed_on_the_credentials(session) -> None:  # type: ignore[no-untyped-def]
    error = BaseHTTPError(403, "Quota exceeded for instances: Requested 1, but already used 10")
    translated = session.translate(error, "creating demo-agents-3")
    assert "credentials" not in str(translated)
    assert str(translated).startswith("example: creating demo-agents-3 was refused by a quota")
    assert "raise the quota" in (translated.hint or "")
    assert translated.http_status == 403


def test_an_action_with_its_own_budget_draws_from_it_not_the_shared_bucket() -> None:
    clock = FakeClock()
    shared = TokenBucket(RateLimit(1000, 1000), clock=clock, sleep=clock.sleep)
    run_instances = TokenBucket(RateLimit(2.0, 5), clock=clock, sleep=clock.sleep)
    guard = Guard("aws", shared, sleep=clock.sleep, clock=clock,
                  action_buckets={"RunInstances": run_instances})  # fmt: skip
    assert guard.bucket_for("RunInstances") is run_instances
    assert guard.bucket_for("DescribeInstances") is shared
    assert guard.bucket_for(None) is shared
    for _ in range(7):  # 5 at once, then 2 per second: the 6th and 7th wait 0.5 s each
        guard.request("create", lambda: None, limit_key="RunInstances")
    assert clock.now == pytest.approx(1.0)
    for _ in range(50):  # other requests are not held back by the create budget
        guard.request("list", lambda: None, limit_key="DescribeInstances")
    assert clock.now == pytest.approx(1.0)


def test_shared_guard_is_rebuilt_when_a_budget_changes() -> None:
    from sloth_kubernetes.cloud.session import shared_guard

    policy = RetryPolicy(3, 10)
    limits = {"RunInstances": RateLimit(2.0, 5)}
    first = shared_guard("t-budget", "http://x", RateLimit(20, 100), policy, limits)
    assert shared_guard("t-budget", "http://x", RateLimit(20, 100), policy, limits) is first
    lifted = shared_guard("t-budget", "http://x", RateLimit(20, 100), policy, {})
    assert lifted is not first
    assert lifted.bucket_for("RunInstances") is lifted.bucket
