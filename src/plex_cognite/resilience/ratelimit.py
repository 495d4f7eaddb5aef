"""An async token bucket per key (one per Plex API key or PCN), shared by every task and thread of a process.

Each `acquire` *reserves* its tokens at once under a lock, letting the balance go negative, and then sleeps
for exactly as long as the deficit takes to refill. Reservations are taken in call order, so waiters are served
first come, first served; each waiter sleeps on its own (no queue to wake), and the accounting does not depend
on any event loop, so threads running their own loops share one budget. A cancelled waiter gives its tokens back.

Guarantee: under `key`, calls admitted in any interval of `T` seconds number at most `burst + rate_per_minute * T / 60`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from plex_cognite.errors import ConfigurationError
from plex_cognite.resilience._clock import AsyncSleep, Clock, asyncio_sleep, monotonic

__all__ = ["LimiterStatistics", "TokenBucketRateLimiter"]

#: Idle full buckets are forgotten once more than this many keys exist (a full bucket equals a new one).
_PRUNE_ABOVE = 1024


def _check_cost(cost: float) -> None:
    """Refuse a negative token cost (every limiter's `acquire` rule).

    Raises:
        ValueError: `cost` is negative.
    """
    if cost < 0:
        raise ValueError(f"cost must be >= 0, got {cost}")


@dataclass(frozen=True, slots=True)
class LimiterStatistics:
    """Counters of one key's bucket (a snapshot).

    Attributes:
        acquired: Calls admitted.
        waited: Calls that had to wait.
        total_wait_s: Seconds spent waiting, summed over calls.
        tokens: Tokens available now (negative while callers are queued).
    """

    acquired: int
    waited: int
    total_wait_s: float
    tokens: float


class _Bucket:
    __slots__ = ("acquired", "tokens", "total_wait_s", "updated", "waited")

    def __init__(self, tokens: float, now: float) -> None:
        self.tokens = tokens
        self.updated = now
        self.acquired = 0
        self.waited = 0
        self.total_wait_s = 0.0


class TokenBucketRateLimiter:
    """Admits at most `rate_per_minute` calls per minute per key, after an initial burst of `burst` calls.

    Implements `plex_cognite.typing.RateLimiter`. One instance serves a whole process: give every client the
    same limiter and use the API key (or PCN) as `key` where the upstream counts per key.

    Example:
        >>> limiter = TokenBucketRateLimiter(rate_per_minute=200)
        >>> # await limiter.acquire("340884")  before each Plex request for PCN 340884

    Args:
        rate_per_minute: Sustained calls per minute per key (> 0).
        burst: Bucket size: calls that may go back to back after a quiet period. Default: one second's worth
            of calls, at least 1 (`max(1, rate_per_minute / 60)`); pass 1 for the strictest even spacing.
        clock: Monotonic seconds; tests pass a `ManualClock`.
        sleep: Awaitable sleep; tests pass `ManualClock.async_sleep`.

    Raises:
        ConfigurationError: `rate_per_minute` or `burst` is not positive.
    """

    def __init__(
        self,
        rate_per_minute: float = 200,
        burst: float | None = None,
        clock: Clock | None = None,
        sleep: AsyncSleep | None = None,
    ) -> None:
        if not rate_per_minute > 0:
            raise ConfigurationError(
                f"rate_per_minute must be > 0, got {rate_per_minute}", field="rate_limit_per_minute"
            )
        if burst is not None and not burst > 0:
            raise ConfigurationError(f"burst must be > 0, got {burst}", field="rate_limit_burst")
        self.rate_per_minute = float(rate_per_minute)
        self.burst = float(burst) if burst is not None else max(1.0, self.rate_per_minute / 60.0)
        self._rate_per_s = self.rate_per_minute / 60.0
        self._clock = clock or monotonic
        self._sleep = sleep or asyncio_sleep
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def __repr__(self) -> str:
        return f"TokenBucketRateLimiter(rate_per_minute={self.rate_per_minute:g}, burst={self.burst:g})"

    async def acquire(self, key: str = "default", cost: float = 1.0) -> None:
        """Wait until `cost` calls may be made under `key`, then return (the tokens are spent).

        Args:
            key: The budget to draw from (for example one PCN's API key).
            cost: Tokens this call uses (>= 0; above `burst` is allowed and simply waits longer).

        Raises:
            ValueError: `cost` is negative.
        """
        wait = self._reserve(key, cost)
        if wait <= 0:
            return
        try:
            await self._sleep(wait)
        except BaseException:
            # Cancelled (or the sleep failed): the call will not be made, so its tokens go back.
            with self._lock:
                bucket = self._bucket(key, self._clock())
                bucket.tokens = min(self.burst, bucket.tokens + cost)
                bucket.acquired -= 1
                bucket.waited -= 1
                bucket.total_wait_s -= wait
            raise

    def try_acquire(self, key: str = "default", cost: float = 1.0) -> bool:
        """Take `cost` tokens under `key` if they are available now, without waiting; say whether it did."""
        _check_cost(cost)
        with self._lock:
            bucket = self._bucket(key, self._clock())
            if bucket.tokens < cost:
                return False
            bucket.tokens -= cost
            bucket.acquired += 1
            return True

    def statistics(self, key: str = "default") -> LimiterStatistics:
        """Counters of the bucket for `key` (zeros for a key never used)."""
        with self._lock:
            if key not in self._buckets:
                return LimiterStatistics(0, 0, 0.0, self.burst)
            bucket = self._bucket(key, self._clock())
            return LimiterStatistics(bucket.acquired, bucket.waited, bucket.total_wait_s, bucket.tokens)

    def _reserve(self, key: str, cost: float) -> float:
        _check_cost(cost)
        with self._lock:
            bucket = self._bucket(key, self._clock())
            bucket.tokens -= cost
            bucket.acquired += 1
            if bucket.tokens >= 0:
                return 0.0
            wait = -bucket.tokens / self._rate_per_s
            bucket.waited += 1
            bucket.total_wait_s += wait
            return wait

    def _bucket(self, key: str, now: float) -> _Bucket:
        """The refilled bucket for `key` (caller holds the lock)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= _PRUNE_ABOVE:
                self._prune(now)
            bucket = self._buckets[key] = _Bucket(self.burst, now)
            return bucket
        elapsed = now - bucket.updated
        if elapsed > 0:
            bucket.tokens = min(self.burst, bucket.tokens + elapsed * self._rate_per_s)
            bucket.updated = now
        return bucket

    def _prune(self, now: float) -> None:
        for key in list(self._buckets):
            bucket = self._buckets[key]
            if bucket.tokens + (now - bucket.updated) * self._rate_per_s >= self.burst:
                del self._buckets[key]
