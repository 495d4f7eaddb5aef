"""Statistics and hook events of retry policies (re-exported by `plex_cognite.resilience.retry`)."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from types import MappingProxyType

from plex_cognite.errors import ErrorCategory
from plex_cognite.observability.logs import get_logger

__all__ = ["RetrySleep", "RetryStatistics", "RetryTotals", "last_retry_statistics", "log_retry"]

_log = get_logger("plex_cognite.resilience.retry")


@dataclass(frozen=True, slots=True)
class RetrySleep:
    """What a policy is about to do after a failed attempt; the argument of the `before_sleep` hook.

    Attributes:
        policy: The policy's name (for logs and metrics).
        attempt: Number of the attempt that just failed (1-based).
        sleep_s: Seconds the policy will now sleep.
        elapsed_s: Seconds since the call started.
        error: The exception the attempt raised.
        category: Its classification.
        retry_after: The server's Retry-After, in seconds, when it sent one.
    """

    policy: str
    attempt: int
    sleep_s: float
    elapsed_s: float
    error: BaseException
    category: ErrorCategory
    retry_after: float | None


@dataclass(frozen=True, slots=True)
class RetryStatistics:
    """What happened during one call through a `RetryPolicy`.

    Attributes:
        attempts: Attempts made, the first one included.
        total_sleep_s: Seconds slept between attempts.
        elapsed_s: Seconds from the start of the call to its end (by the policy's clock).
        last_category: Category of the most recent failed attempt; None when no attempt failed.
        succeeded: Whether the call finally returned a value.
        gave_up: Why it stopped without a value: "attempts", "deadline", "not_retryable"; None on success.
    """

    attempts: int
    total_sleep_s: float
    elapsed_s: float
    last_category: ErrorCategory | None
    succeeded: bool
    gave_up: str | None = None

    @property
    def retries(self) -> int:
        """Attempts after the first one."""
        return max(0, self.attempts - 1)


@dataclass(frozen=True, slots=True)
class RetryTotals:
    """Cumulative statistics of a policy across all its calls (a snapshot; see `RetryPolicy.totals`).

    Attributes:
        calls: Calls started and finished.
        attempts: Attempts made in all calls.
        retries: Attempts after the first of each call.
        total_sleep_s: Seconds slept between attempts in all calls.
        succeeded: Calls that returned a value.
        failed: Calls that raised.
        failures_by_category: Failed attempts by category value (`"retryable"`, `"rate_limited"`, ...).
    """

    calls: int = 0
    attempts: int = 0
    retries: int = 0
    total_sleep_s: float = 0.0
    succeeded: int = 0
    failed: int = 0
    failures_by_category: MappingProxyType[str, int] = field(default_factory=lambda: MappingProxyType({}))


def last_retry_statistics() -> RetryStatistics | None:
    """The statistics of the most recent call through any `RetryPolicy` in the current context (thread/task)."""
    return LAST_STATS.get()


def log_retry(event: RetrySleep) -> None:
    """The default `before_sleep` hook: one structlog warning per retry (no secrets: type and message only)."""
    _log.warning(
        "retrying after a failed attempt",
        policy=event.policy,
        attempt=event.attempt,
        sleep_s=round(event.sleep_s, 3),
        elapsed_s=round(event.elapsed_s, 3),
        category=event.category.value,
        retry_after=event.retry_after,
        error_type=type(event.error).__name__,
        error=str(event.error)[:300],
    )


# Set by every call through a policy; read with `last_retry_statistics()`.
LAST_STATS: contextvars.ContextVar[RetryStatistics | None] = contextvars.ContextVar(
    "plex_cognite_last_retry_statistics", default=None
)
