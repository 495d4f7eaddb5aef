"""TokenBucketRateLimiter on virtual time: 200/min held over minutes, bursts, keys, fairness, cancellation."""

from __future__ import annotations

import asyncio
import bisect
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plex_cognite.errors import ConfigurationError
from plex_cognite.resilience import ManualClock, TokenBucketRateLimiter
from plex_cognite.typing import RateLimiter


def limiter_on(clock: ManualClock, **kwargs: float | None) -> TokenBucketRateLimiter:
    return TokenBucketRateLimiter(clock=clock, sleep=clock.async_sleep, **kwargs)  # type: ignore[arg-type]


def max_in_any_window(times: list[float], window: float) -> int:
    ordered = sorted(times)
    return max(bisect.bisect_left(ordered, t + window) - i for i, t in enumerate(ordered))


def test_implements_the_rate_limiter_protocol() -> None:
    assert isinstance(TokenBucketRateLimiter(), RateLimiter)


async def test_holds_200_per_minute_over_five_simulated_minutes() -> None:
    clock = ManualClock()
    limiter = limiter_on(clock, rate_per_minute=200)
    admitted: list[float] = []

    async def worker(calls: int) -> None:
        for _ in range(calls):
            await limiter.acquire("340884")
            admitted.append(clock())

    await asyncio.gather(*(worker(125) for _ in range(8)))  # 1,000 calls from 8 concurrent tasks
    assert len(admitted) == 1000
    burst = limiter.burst  # 200/60, one second's worth
    # No 60-second window ever holds more than 200 calls plus the initial burst ...
    assert max_in_any_window(admitted, 60.0) <= 200 + burst
    # ... and the limiter does not hold back either: 1,000 calls take (1,000 - burst) / 200 minutes.
    assert clock() == pytest.approx((1000 - burst) / 200 * 60, rel=1e-6)
    stats = limiter.statistics("340884")
    assert stats.acquired == 1000
    assert stats.waited >= 1000 - 4


async def test_burst_goes_at_once_then_calls_are_spaced() -> None:
    clock = ManualClock()
    limiter = limiter_on(clock, rate_per_minute=60, burst=5)
    admitted: list[float] = []
    for _ in range(8):
        await limiter.acquire()
        admitted.append(clock())
    assert admitted == [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0]
    clock.advance(100.0)  # a quiet period refills the bucket, but never above `burst`
    start = clock()
    for _ in range(6):
        await limiter.acquire()
    assert clock() - start == pytest.approx(1.0)


async def test_keys_have_separate_budgets() -> None:
    clock = ManualClock()
    limiter = limiter_on(clock, rate_per_minute=60, burst=2)
    for key in ("pcn-a", "pcn-b", "pcn-c"):
        await limiter.acquire(key)
        await limiter.acquire(key)
    assert clock() == 0.0  # each key spent only its own burst
    await limiter.acquire("pcn-a")
    assert clock() == pytest.approx(1.0)
    assert limiter.statistics("pcn-b").acquired == 2
    assert limiter.statistics("never-used").acquired == 0


async def test_waiters_are_served_in_arrival_order() -> None:
    clock = ManualClock()
    limiter = limiter_on(clock, rate_per_minute=60, burst=1)
    order: list[int] = []

    async def call(index: int) -> None:
        await limiter.acquire()
        order.append(index)

    await asyncio.gather(*(call(i) for i in range(10)))
    assert order == list(range(10))


async def test_a_cancelled_waiter_gives_its_tokens_back() -> None:
    clock = ManualClock()
    limiter = limiter_on(clock, rate_per_minute=60, burst=1)
    await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire(cost=5))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert limiter.statistics().tokens == pytest.approx(0.0, abs=1e-9)  # back to where it was, not -5
    await limiter.acquire()
    assert clock() == pytest.approx(1.0)


async def test_cost_weighs_calls() -> None:
    clock = ManualClock()
    limiter = limiter_on(clock, rate_per_minute=120, burst=4)
    await limiter.acquire(cost=4)
    await limiter.acquire(cost=3)
    assert clock() == pytest.approx(1.5)
    await limiter.acquire(cost=0)
    assert clock() == pytest.approx(1.5)


def test_try_acquire_never_waits() -> None:
    clock = ManualClock()
    limiter = limiter_on(clock, rate_per_minute=60, burst=2)
    assert [limiter.try_acquire() for _ in range(3)] == [True, True, False]
    clock.advance(1.0)
    assert limiter.try_acquire()


def test_threads_with_their_own_event_loops_share_one_budget() -> None:
    limiter = TokenBucketRateLimiter(rate_per_minute=60, burst=10)  # real clock: 10 immediate tokens
    results: list[bool] = []
    lock = threading.Lock()

    def work() -> None:
        async def take() -> None:
            ok = limiter.try_acquire("shared")
            with lock:
                results.append(ok)

        for _ in range(5):
            asyncio.run(take())

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 10  # 20 attempts, 10 tokens (refill in these milliseconds is negligible)


@settings(max_examples=25, deadline=None)
@given(
    rate=st.sampled_from([30, 60, 200, 600]),
    burst=st.none() | st.integers(1, 20),
    gaps=st.lists(st.floats(0.0, 5.0), min_size=1, max_size=120),
)
async def test_never_more_than_burst_plus_rate_in_any_window(rate: int, burst: int | None, gaps: list[float]) -> None:
    clock = ManualClock()
    limiter = limiter_on(clock, rate_per_minute=rate, burst=burst)
    admitted: list[float] = []
    for gap in gaps:
        clock.advance(gap)
        await limiter.acquire()
        admitted.append(clock())
    for window in (1.0, 10.0, 60.0):
        assert max_in_any_window(admitted, window) <= limiter.burst + rate * window / 60 + 1e-6


@pytest.mark.parametrize(
    ("kwargs", "field"), [({"rate_per_minute": 0}, "rate_limit_per_minute"), ({"burst": 0}, "rate_limit_burst")]
)
def test_invalid_settings_fail_fast(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        TokenBucketRateLimiter(**kwargs)  # type: ignore[arg-type]
    assert raised.value.field == field


async def test_negative_cost_is_refused() -> None:
    with pytest.raises(ValueError, match="cost"):
        await TokenBucketRateLimiter().acquire(cost=-1)
