"""The resilience package's public names (a name leaves `__all__` only with a CHANGELOG entry)."""

from __future__ import annotations

import plex_cognite.resilience as resilience


def test_exported_names() -> None:
    assert resilience.__all__ == sorted(resilience.__all__)
    assert set(resilience.__all__) == {
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
    }
    for name in resilience.__all__:
        assert getattr(resilience, name) is not None
