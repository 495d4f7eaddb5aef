"""resilient_call: retry outside; limiter, then breaker, then the request inside every attempt."""

from __future__ import annotations

import httpx
import pytest

from plex_cognite.resilience import (
    CircuitBreaker,
    CircuitOpenError,
    ManualClock,
    TokenBucketRateLimiter,
    last_retry_statistics,
    resilient_call,
)

from ._helpers import URL, fast_policy, scripted_handler
from .test_breaker import RecordingListener


async def test_every_attempt_spends_one_token_and_passes_the_breaker_once() -> None:
    clock = ManualClock()
    limiter = TokenBucketRateLimiter(rate_per_minute=60, burst=1, clock=clock, sleep=clock.async_sleep)
    listener = RecordingListener()
    breaker = CircuitBreaker("plex", failure_threshold=3, reset_timeout_s=5.0, clock=clock, listeners=[listener])
    policy = fast_policy(clock, max_attempts=10)
    handler, seen = scripted_handler([503, 503, 503, 200])
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:

        async def fetch() -> object:
            response = await client.get(URL)
            response.raise_for_status()
            return response.json()

        result = await resilient_call(fetch, limiter=limiter, breaker=breaker, policy=policy, key="340884")

    assert result == {"ok": True}
    stats = last_retry_statistics()
    assert stats is not None
    # 3 failures open the breaker; the 4th attempt is refused without a request and waits out the breaker;
    # the 5th is the half-open trial, which succeeds.
    assert stats.attempts == 5
    assert len(seen) == 4
    assert limiter.statistics("340884").acquired == stats.attempts
    assert len(seen) + len(listener.rejections) == stats.attempts
    assert [change[1:] for change in listener.changes] == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]
    assert breaker.state.value == "closed"


async def test_gives_up_with_circuit_open_error_when_the_breaker_stays_open() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker("plex", failure_threshold=1, reset_timeout_s=600.0, clock=clock)
    policy = fast_policy(clock, max_attempts=3, max_delay=10.0)
    handler, seen = scripted_handler([503])
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:

        async def fetch() -> None:
            (await client.get(URL)).raise_for_status()

        with pytest.raises(CircuitOpenError):
            await resilient_call(fetch, breaker=breaker, policy=policy)
    assert len(seen) == 1
    # The 0.5 s initial delay after the 503, then the breaker's retry_in (599.5 s) clamped to max_delay.
    assert clock() == pytest.approx(10.5)


async def test_without_a_policy_there_is_one_attempt() -> None:
    handler, seen = scripted_handler([503])
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:

        async def fetch() -> None:
            (await client.get(URL)).raise_for_status()

        with pytest.raises(httpx.HTTPStatusError):
            await resilient_call(fetch)
    assert len(seen) == 1
