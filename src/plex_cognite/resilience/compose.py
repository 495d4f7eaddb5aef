"""How the pieces fit: retry outside; inside each attempt, rate limiter, then breaker, then the request.

    retry loop (RetryPolicy)
      └── every attempt:  limiter.acquire(key)  ->  breaker admits (or CircuitOpenError)  ->  request

So every attempt, the first and each retry, spends exactly one limiter token and is seen exactly once by the
breaker; a `CircuitOpenError` is RETRYABLE with `retry_after = retry_in`, so the retry loop waits for the breaker
instead of hammering it, and still gives up at its attempt limit or deadline. The breaker decides last, right before
the request: a call that queued a long time for a token meets the breaker's current state, and no half-open trial
slot is held while waiting for a token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from plex_cognite.resilience.breaker import CircuitBreaker
from plex_cognite.resilience.retry import RetryPolicy
from plex_cognite.typing import RateLimiter

__all__ = ["resilient_call"]

T = TypeVar("T")


async def resilient_call(
    fn: Callable[[], Awaitable[T]],
    *,
    limiter: RateLimiter | None = None,
    breaker: CircuitBreaker | None = None,
    policy: RetryPolicy | None = None,
    key: str = "default",
    cost: float = 1.0,
) -> T:
    """Await `fn()` under a retry policy, with a rate limiter and a circuit breaker around every attempt.

    Example:
        >>> async def fetch_jobs() -> list[dict[str, object]]: ...
        >>> # jobs = await resilient_call(fetch_jobs, limiter=limiter, breaker=breaker, policy=policy, key=pcn)

    Args:
        fn: Makes one request (called once per attempt; use `functools.partial` or a lambda for arguments).
        limiter: Spends `cost` tokens under `key` before each attempt (None: no rate limit).
        breaker: Guards each attempt (None: no breaker).
        policy: Retries failed attempts (None: a single attempt).
        key: The limiter budget to draw from (a PCN or API key).
        cost: Limiter tokens per attempt.

    Returns:
        What `fn()` returned.

    Raises:
        Exception: The last attempt's error when the policy gives up (or the first one without a policy),
            including `CircuitOpenError` when the breaker refused the last attempt.
    """

    async def attempt() -> T:
        if limiter is not None:
            await limiter.acquire(key, cost)
        if breaker is None:
            return await fn()
        return await breaker.acall(fn)

    if policy is None:
        return await attempt()
    return await policy.acall(attempt)
