"""RedisTokenBucketRateLimiter against a real redis-server: one budget shared by many workers, and Redis outages."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis

from plex_cognite.errors import ConfigurationError
from plex_cognite.observability.logs import capture_logs
from plex_cognite.resilience.redis_ratelimit import RedisTokenBucketRateLimiter
from plex_cognite.testing.redis import RedisServer, find_redis_server
from plex_cognite.typing import RateLimiter

RATE = 6000.0  # per minute: 100 calls/s, so a one-second window says a lot and the test stays fast
BURST = 10.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _worker(url: str, deadline: float, admitted: list[float], ready: threading.Barrier) -> None:
    """One "worker": its own thread, event loop, Redis connection and limiter instance."""

    async def main() -> None:
        limiter = RedisTokenBucketRateLimiter(url, rate_per_minute=RATE, burst=BURST)
        try:
            ready.wait()
            while True:
                await limiter.acquire("plex:key:shared")
                now = time.monotonic()
                if now > deadline:
                    return
                admitted.append(now)
        finally:
            await limiter.aclose()

    asyncio.run(main())


def test_is_a_rate_limiter(redis_url: str) -> None:
    assert isinstance(RedisTokenBucketRateLimiter(redis_url), RateLimiter)


def test_workers_sharing_one_bucket_hold_the_rate_in_aggregate(redis_url: str) -> None:
    workers = 4
    window_s = 1.0
    ready = threading.Barrier(workers + 1)
    admitted: list[list[float]] = [[] for _ in range(workers)]
    start = time.monotonic() + 0.3  # every worker connected and waiting by then
    deadline = start + window_s
    threads = [threading.Thread(target=_worker, args=(redis_url, deadline, admitted[i], ready)) for i in range(workers)]
    for thread in threads:
        thread.start()
    ready.wait()
    for thread in threads:
        thread.join(30)
    first = min(t for times in admitted for t in times)
    total = sum(len(times) for times in admitted)

    # A bucket per worker would admit `workers` times as much; the shared one admits one budget in aggregate.
    assert total <= BURST + RATE / 60 * (deadline - first) + 2
    assert total >= 0.5 * RATE / 60 * window_s
    assert all(len(times) >= 5 for times in admitted), "every worker gets a share"


async def test_buckets_are_per_key(redis_url: str) -> None:
    limiter = RedisTokenBucketRateLimiter(redis_url, rate_per_minute=60, burst=3)
    for _ in range(3):
        await limiter.acquire("a")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(limiter.acquire("a"), 0.2)  # the fourth call needs a second's refill
    await asyncio.wait_for(limiter.acquire("b"), 0.5)  # another key has its own full bucket
    await limiter.aclose()


async def test_a_cancelled_waiter_gives_its_tokens_back(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    limiter = RedisTokenBucketRateLimiter(client, rate_per_minute=60, burst=2, key_prefix="t")
    await limiter.acquire("k", cost=2)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(limiter.acquire("k"), 0.1)
    tokens = float(await client.hget("t:ratelimit:k", "tokens") or b"nan")
    assert -0.05 < tokens < 0.5  # -1 reserved, +1 given back, plus the refill of a fraction of a second
    assert 0 < await client.pttl("t:ratelimit:k") <= 4000  # the bucket key expires once it would be full again
    await client.aclose()


async def test_limiters_with_another_prefix_do_not_share(redis_url: str) -> None:
    one = RedisTokenBucketRateLimiter(redis_url, rate_per_minute=60, burst=1, key_prefix="deploy-a")
    two = RedisTokenBucketRateLimiter(redis_url, rate_per_minute=60, burst=1, key_prefix="deploy-b")
    await one.acquire()
    await asyncio.wait_for(two.acquire(), 0.5)
    await one.aclose()
    await two.aclose()


def _redis_used(limiter: RedisTokenBucketRateLimiter) -> bool:
    return limiter.redis_available


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A server this test may stop (the session server stays up for the others)."""
    if find_redis_server() is None:
        pytest.skip("redis-server is not installed")
    with RedisServer() as server:
        yield server


async def test_when_redis_is_down_calls_go_through_a_local_limiter_with_one_warning(own_redis: RedisServer) -> None:
    clock = FakeClock()
    limiter = RedisTokenBucketRateLimiter(
        own_redis.url, rate_per_minute=RATE, burst=BURST, outage_backoff_s=30, clock=clock
    )
    await limiter.acquire()
    own_redis.stop()

    with capture_logs() as logs:
        for _ in range(5):
            await asyncio.wait_for(limiter.acquire(), 5)
    stats = limiter.statistics()
    assert (stats.acquired, stats.fallbacks, stats.errors) == (6, 5, 1)  # one failed attempt, then the back-off
    assert not _redis_used(limiter)
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert len(warnings) == 1
    assert "unreachable" in warnings[0]["event"]

    own_redis.start()
    clock.now += 31  # the back-off is over: Redis is tried again, and used
    with capture_logs() as logs:
        await limiter.acquire()
    assert limiter.statistics().fallbacks == 5
    assert _redis_used(limiter)
    assert any("recovered" in e["event"] for e in logs)
    await limiter.aclose()


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="rate_per_minute"):
        RedisTokenBucketRateLimiter("redis://127.0.0.1:1/0", rate_per_minute=0)
    with pytest.raises(ConfigurationError, match="burst"):
        RedisTokenBucketRateLimiter("redis://127.0.0.1:1/0", burst=-1)


async def test_negative_cost_is_refused(redis_url: str) -> None:
    limiter = RedisTokenBucketRateLimiter(redis_url)
    with pytest.raises(ValueError, match="cost"):
        await limiter.acquire(cost=-1)
    await limiter.aclose()
