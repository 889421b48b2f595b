"""A token bucket shared by every thread working on one provider.

``rate`` tokens per second refill a bucket of ``burst`` tokens; each API request takes one.
Defaults per cloud are documented in docs/providers/ (e.g. Hetzner: 3600 requests per hour).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import attrs


@attrs.frozen
class RateLimit:
    """``rate`` requests per second on average, at most ``burst`` at once."""

    rate: float
    burst: int

    @classmethod
    def per_hour(cls, requests: int, burst: int) -> RateLimit:
        return cls(requests / 3600.0, burst)

    def describe(self) -> str:
        if self.rate < 1:
            return f"{self.rate * 3600:g}/hour, burst {self.burst}"
        return f"{self.rate:g}/s, burst {self.burst}"


class TokenBucket:
    """Thread-safe; :meth:`acquire` blocks until a token is free and returns the time waited."""

    def __init__(
        self,
        limit: RateLimit,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit.rate <= 0 or limit.burst < 1:
            raise ValueError(f"a rate limit needs rate > 0 and burst >= 1, not {limit}")
        self.limit = limit
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(limit.burst)
        self._updated = clock()
        self._lock = threading.Lock()
        self.waited = 0.0  # total seconds callers spent waiting (reported in the run summary)

    def acquire(self) -> float:
        with self._lock:
            now = self._clock()
            self._tokens = min(
                self.limit.burst, self._tokens + (now - self._updated) * self.limit.rate
            )
            self._updated = now
            # Take the token now (possibly going negative): later callers queue behind us.
            self._tokens -= 1
            wait = -self._tokens / self.limit.rate if self._tokens < 0 else 0.0
            self.waited += wait
        if wait > 0:
            self._sleep(wait)
        return wait
