"""A token bucket in Redis, so several worker processes (or hosts) share one Plex rate limit.

Plex allows about 200 calls per minute per API key. A `TokenBucketRateLimiter` enforces that within one process;
when a backfill runs on N worker processes, N such limiters would allow N x 200. `RedisTokenBucketRateLimiter` keeps
the bucket in Redis instead, and every acquisition is one atomic Lua script:

1. read the time from Redis (`TIME`), so workers whose clocks disagree still share one consistent bucket;
2. refill the bucket for the time elapsed since it was last touched (at most `burst` tokens);
3. *reserve* the tokens (the balance may go negative, as in the local limiter) and answer how long the caller must
   wait for the deficit to refill; the caller sleeps that long on its own, with no polling and no lock held.

Reservations are first come, first served across all workers. A cancelled waiter gives its tokens back.

When Redis cannot be reached the limiter does not fail the extraction: it logs a warning (once per outage), counts
the call in `statistics().fallbacks`, and admits the call through a local `TokenBucketRateLimiter` (at
`fallback_rate_per_minute`, by default the full rate: set it to `rate / workers` to stay under the shared budget
during an outage). Redis is tried again after `outage_backoff_s`, and used again as soon as it answers.

Guarantee (while Redis is up): under one key, calls admitted in any interval of `T` seconds, summed over all
workers, number at most `burst + rate_per_minute * T / 60`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from plex_cognite.errors import ConfigurationError
from plex_cognite.observability.logs import get_logger
from plex_cognite.resilience._redis import OutageBackoff, open_client, redis_exceptions
from plex_cognite.resilience.ratelimit import TokenBucketRateLimiter, _check_cost

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisLimiterStatistics", "RedisTokenBucketRateLimiter"]

_log = get_logger(__name__)

# KEYS[1]: the bucket hash. ARGV: rate per second, burst, cost. Returns the seconds to wait, as a string (Lua numbers
# would be truncated to integers on the way back). Numbers are stored with 17 significant digits: Lua's tostring
# keeps only 14, which would round a Unix time to 100 microseconds and a token balance to fewer digits than it has.
_RESERVE = """
if redis.replicate_commands then redis.replicate_commands() end
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local stored = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(stored[1])
local ts = tonumber(stored[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate)
  ts = now
end
tokens = tokens - cost
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%.17g', ts))
local full_in_ms = math.ceil((burst - tokens) / rate * 1000) + 1000
redis.call('PEXPIRE', KEYS[1], full_in_ms)
if tokens >= 0 then
  return '0'
end
return string.format('%.17g', -tokens / rate)
"""

# Gives `cost` tokens back (a cancelled waiter), never above `burst`; a bucket that expired meanwhile is full anyway.
_REFUND = """
local burst = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens'))
if tokens == nil then
  return 0
end
tokens = math.min(burst, tokens + cost)
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens))
return 1
"""


@dataclass(frozen=True, slots=True)
class RedisLimiterStatistics:
    """Counters of one `RedisTokenBucketRateLimiter` instance (this worker only; a snapshot).

    Attributes:
        acquired: Calls admitted (through Redis or the fallback).
        waited: Calls that had to wait.
        total_wait_s: Seconds spent waiting, summed over calls.
        fallbacks: Calls admitted by the local fallback because Redis was unreachable.
        errors: Redis failures seen (each starts an outage back-off).
    """

    acquired: int
    waited: int
    total_wait_s: float
    fallbacks: int
    errors: int


class RedisTokenBucketRateLimiter:
    """Admits at most `rate_per_minute` calls per minute per key, summed over every worker sharing the Redis bucket.

    Implements `plex_cognite.typing.RateLimiter`. Give every worker an instance with the same URL, rate, burst and
    `key_prefix`; `AsyncPlexClient` already uses a stable, non-secret key per API key, so workers on different hosts
    draw from the same bucket. Use an instance from one event loop (redis.asyncio connections belong to the loop
    that opened them); make one per worker.

    Example:
        >>> limiter = RedisTokenBucketRateLimiter("redis://redis:6379/0", rate_per_minute=200)  # doctest: +SKIP
        >>> async with AsyncPlexClient(settings.plex, rate_limiter=limiter) as plex:  # doctest: +SKIP
        ...     ...

    Args:
        url_or_client: A `redis://` / `rediss://` / `unix://` URL (the limiter then owns the client; `aclose()`
            closes it), or a ready `redis.asyncio.Redis` (left open).
        rate_per_minute: Sustained calls per minute per key, over all workers (> 0).
        burst: Bucket size: calls that may go back to back after a quiet period. Default: one second's worth of
            calls, at least 1 (as `TokenBucketRateLimiter`).
        key_prefix: First part of the Redis key (`{key_prefix}:ratelimit:{key}`); deployments sharing a Redis
            keep apart by prefix.
        fallback_rate_per_minute: Rate of the local limiter used while Redis is unreachable (default:
            `rate_per_minute`; use `rate_per_minute / workers` to stay under the shared budget during an outage).
        outage_backoff_s: After a Redis failure, use the fallback for this long before trying Redis again.
        socket_timeout_s: Read/write timeout per Redis command (URL form only).
        connect_timeout_s: Connect timeout (URL form only).
        clock: Monotonic seconds for the outage back-off (tests inject one). Bucket time always comes from Redis.

    Raises:
        ConfigurationError: redis is not installed, or a rate, burst or interval is not positive.
    """

    def __init__(
        self,
        url_or_client: str | Redis,
        rate_per_minute: float = 200,
        burst: float | None = None,
        *,
        key_prefix: str = "plex-cognite",
        fallback_rate_per_minute: float | None = None,
        outage_backoff_s: float = 1.0,
        socket_timeout_s: float = 2.0,
        connect_timeout_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        exceptions = redis_exceptions("the Redis rate limiter")
        # The fallback validates rate and burst with the same messages as the local limiter.
        fallback_rate = rate_per_minute if fallback_rate_per_minute is None else fallback_rate_per_minute
        self._fallback = TokenBucketRateLimiter(fallback_rate, burst)
        local = TokenBucketRateLimiter(rate_per_minute, burst)
        if outage_backoff_s < 0:
            raise ConfigurationError(f"outage_backoff_s must be >= 0, got {outage_backoff_s}")
        self.rate_per_minute = local.rate_per_minute
        self.burst = local.burst
        self.key_prefix = key_prefix
        self.outage_backoff_s = outage_backoff_s
        self._rate_per_s = self.rate_per_minute / 60.0
        self._errors_type: type[Exception] = exceptions.RedisError
        self._client, self._owns_client = open_client(
            url_or_client, socket_timeout_s=socket_timeout_s, connect_timeout_s=connect_timeout_s
        )
        self._reserve_script = self._client.register_script(_RESERVE)
        self._refund_script = self._client.register_script(_REFUND)
        self._lock = threading.Lock()
        self._backoff = OutageBackoff(outage_backoff_s, clock)
        self._acquired = 0
        self._waited = 0
        self._total_wait_s = 0.0
        self._fallbacks = 0
        self._errors = 0

    def __repr__(self) -> str:
        return (
            f"RedisTokenBucketRateLimiter(rate_per_minute={self.rate_per_minute:g}, burst={self.burst:g}, "
            f"key_prefix={self.key_prefix!r})"
        )

    def redis_key(self, key: str) -> str:
        """The Redis key holding the bucket of `key`."""
        return f"{self.key_prefix}:ratelimit:{key}"

    async def acquire(self, key: str = "default", cost: float = 1.0) -> None:
        """Wait until `cost` calls may be made under `key` (over all workers), then return (the tokens are spent).

        Never raises because Redis is down: the local fallback admits the call instead (logged and counted).

        Args:
            key: The budget to draw from (for example one Plex API key).
            cost: Tokens this call uses (>= 0).

        Raises:
            ValueError: `cost` is negative.
        """
        _check_cost(cost)
        wait = await self._reserve(key, cost)
        if wait is None:
            with self._lock:
                self._fallbacks += 1
            await self._fallback.acquire(key, cost)
            self._count(0.0)
            return
        self._count(wait)
        if wait <= 0:
            return
        try:
            await asyncio.sleep(wait)
        except BaseException:
            # Cancelled: the call will not be made, so its tokens go back to the shared bucket (best effort).
            with contextlib.suppress(Exception):
                await self._refund_script(keys=[self.redis_key(key)], args=[_num(self.burst), _num(cost)])
            raise

    def statistics(self) -> RedisLimiterStatistics:
        """This instance's counters (calls admitted, waits, fallbacks, Redis errors)."""
        with self._lock:
            return RedisLimiterStatistics(
                self._acquired, self._waited, self._total_wait_s, self._fallbacks, self._errors
            )

    @property
    def redis_available(self) -> bool:
        """False while in an outage back-off (calls go to the local fallback)."""
        return not self._backoff.skipping

    async def aclose(self) -> None:
        """Close the Redis client if this limiter created it."""
        if self._owns_client:
            await self._client.aclose()

    async def _reserve(self, key: str, cost: float) -> float | None:
        """Reserve in Redis; the seconds to wait, or None when Redis cannot be used now."""
        if not self.redis_available:
            return None
        try:
            answer: Any = await self._reserve_script(
                keys=[self.redis_key(key)], args=[_num(self._rate_per_s), _num(self.burst), _num(cost)]
            )
        except self._errors_type as error:
            self._outage(error)
            return None
        if self._backoff.succeeded():
            _log.info("Redis rate limiter recovered; the shared bucket is used again", key_prefix=self.key_prefix)
        return float(answer.decode() if isinstance(answer, bytes) else answer)

    def _outage(self, error: Exception) -> None:
        with self._lock:
            self._errors += 1
            first = self._backoff.failed()
        if first:
            _log.warning(
                "Redis rate limiter unreachable; admitting calls through a local limiter until it is back",
                error=f"{type(error).__name__}: {error}",
                fallback_rate_per_minute=self._fallback.rate_per_minute,
                retry_in_s=self.outage_backoff_s,
            )

    def _count(self, wait: float) -> None:
        with self._lock:
            self._acquired += 1
            if wait > 0:
                self._waited += 1
                self._total_wait_s += wait


def _num(value: float) -> str:
    """A float for a Lua script argument, without losing digits."""
    return repr(float(value))
