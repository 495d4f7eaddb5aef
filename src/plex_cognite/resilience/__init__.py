"""Resilience toolkit: retry policies, circuit breakers, rate limiting and error aggregation.

See `docs/resilience.md` for how the parts compose (`resilient_call`).
"""

from __future__ import annotations

from plex_cognite.resilience._clock import ManualClock
from plex_cognite.resilience.aggregate import ErrorAggregator, ErrorKindSummary, ErrorSample, ErrorSummary
from plex_cognite.resilience.breaker import (
    Allow,
    BreakerCore,
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
    Decision,
    Reject,
    counts_as_failure,
)
from plex_cognite.resilience.compose import resilient_call
from plex_cognite.resilience.ratelimit import LimiterStatistics, TokenBucketRateLimiter
from plex_cognite.resilience.redis_ratelimit import RedisLimiterStatistics, RedisTokenBucketRateLimiter
from plex_cognite.resilience.retry import (
    RetryAfterWait,
    RetryHandler,
    RetryOverrides,
    RetryPolicy,
    RetrySleep,
    RetryStatistics,
    RetryTotals,
    is_retryable,
    last_retry_statistics,
    log_retry,
    with_retry,
)

__all__ = [
    "Allow",
    "BreakerCore",
    "BreakerState",
    "CircuitBreaker",
    "CircuitOpenError",
    "Decision",
    "ErrorAggregator",
    "ErrorKindSummary",
    "ErrorSample",
    "ErrorSummary",
    "LimiterStatistics",
    "ManualClock",
    "RedisLimiterStatistics",
    "RedisTokenBucketRateLimiter",
    "Reject",
    "RetryAfterWait",
    "RetryHandler",
    "RetryOverrides",
    "RetryPolicy",
    "RetrySleep",
    "RetryStatistics",
    "RetryTotals",
    "TokenBucketRateLimiter",
    "counts_as_failure",
    "is_retryable",
    "last_retry_statistics",
    "log_retry",
    "resilient_call",
    "with_retry",
]
