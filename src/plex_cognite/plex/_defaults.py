"""The default limiter, breaker and retry policy an `AsyncPlexClient` builds from `PlexSettings`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from plex_cognite.resilience.breaker import CircuitBreaker
from plex_cognite.resilience.ratelimit import TokenBucketRateLimiter
from plex_cognite.resilience.retry import RetryPolicy, RetrySleep, log_retry
from plex_cognite.typing import RateLimiter

if TYPE_CHECKING:
    from plex_cognite.config import PlexSettings
    from plex_cognite.observability.metrics import ExtractorMetrics

__all__ = ["default_breaker", "default_limiter", "default_retry"]


def default_limiter(settings: PlexSettings) -> RateLimiter:
    return TokenBucketRateLimiter(rate_per_minute=settings.rate_limit_per_minute, burst=settings.rate_limit_burst)


def default_breaker(settings: PlexSettings, name: str, metrics: ExtractorMetrics | None) -> CircuitBreaker:
    return CircuitBreaker.from_settings(name, settings.breaker, listeners=[metrics] if metrics is not None else ())


def default_retry(settings: PlexSettings, name: str, metrics: ExtractorMetrics | None) -> RetryPolicy:
    if metrics is None:
        return RetryPolicy.from_settings(settings.retry, name=name)

    def before_sleep(event: RetrySleep) -> None:
        log_retry(event)
        metrics.record_retry(name)

    return RetryPolicy.from_settings(settings.retry, name=name, before_sleep=before_sleep)
