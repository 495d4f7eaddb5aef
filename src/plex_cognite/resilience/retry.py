"""Retrying on tenacity: one `RetryPolicy` (also named `RetryHandler`) for sync and async callables.

A policy retries an attempt only when `classify(exc).retryable` (RETRYABLE and RATE_LIMITED), waits
`min(max_delay, max(retry_after, backoff))` between attempts, where the backoff starts at `initial_delay` and
doubles after each failure, jitter only adding to it (see `RetryAfterWait`), and stops at whichever
comes first: `max_attempts` attempts, or a wait that would end past `deadline_s` (it never sleeps past the
deadline; it gives up with the last error instead). The last error is re-raised as it is, so callers can
`classify()` it again.

Statistics: every call produces a `RetryStatistics` (passed to `on_statistics` and readable afterwards with
`last_retry_statistics()` in the same context); `policy.totals` accumulates them for metrics.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from types import MappingProxyType
from typing import Any, ParamSpec, Protocol, TypedDict, TypeVar, Unpack, overload

import tenacity

from plex_cognite.errors import ConfigurationError, classify
from plex_cognite.resilience._clock import AsyncSleep, Clock, Sleep, asyncio_sleep, monotonic
from plex_cognite.resilience._retry_run import Run, blocking_sleep
from plex_cognite.resilience._retry_stats import (
    RetrySleep,
    RetryStatistics,
    RetryTotals,
    last_retry_statistics,
    log_retry,
)
from plex_cognite.resilience._sync_or_async import decorate_sync_or_async
from plex_cognite.resilience.wait import RetryAfterWait, default_min_wait, resolve_alias

__all__ = [
    "RetryAfterWait",
    "RetryHandler",
    "RetryOverrides",
    "RetryPolicy",
    "RetrySleep",
    "RetryStatistics",
    "RetryTotals",
    "is_retryable",
    "last_retry_statistics",
    "log_retry",
    "with_retry",
]

P = ParamSpec("P")
R = TypeVar("R")


def is_retryable(exc: BaseException) -> bool:
    """The default `retry_on` predicate: `classify(exc).retryable` for `Exception`s, False for anything else.

    `BaseException`s that are not `Exception`s (cancellation, `KeyboardInterrupt`) are never retried.
    """
    return isinstance(exc, Exception) and classify(exc).retryable


class RetryOverrides(TypedDict, total=False):
    """Keyword overrides accepted by `with_retry` and `RetryPolicy.replace` (same meaning as in `RetryPolicy`)."""

    max_attempts: int
    initial_delay: float
    max_delay: float
    initial_wait_s: float
    max_wait_s: float
    min_wait_s: float
    deadline_s: float | None
    jitter: bool
    retry_on: Callable[[BaseException], bool]
    before_sleep: Callable[[RetrySleep], None] | None
    on_statistics: Callable[[RetryStatistics], None] | None
    name: str
    clock: Clock
    sleep: Sleep
    async_sleep: AsyncSleep
    rand: Callable[[], float]


class _Decorator(Protocol):
    @overload
    def __call__(self, fn: Callable[P, Coroutine[Any, Any, R]], /) -> Callable[P, Coroutine[Any, Any, R]]: ...
    @overload
    def __call__(self, fn: Callable[P, R], /) -> Callable[P, R]: ...


class RetryPolicy:
    """How to retry one kind of call: limits, waits, what is retryable, hooks. Shareable between threads and tasks.

    Use it as `policy.call(fn, *args)`, `await policy.acall(async_fn, *args)`, or as a decorator (`@policy`,
    sync or async function). `RetryHandler` is the same class under another name::

        @RetryHandler(max_attempts=5, initial_delay=0.5, max_delay=30.0)
        async def fetch_jobs(pcn: str) -> list[Job]: ...

    CDF calls are already retried by the cognite-sdk: wrap Plex calls and whole batches with a policy, not
    single SDK calls.

    `initial_delay` and `max_delay` are the canonical names; `initial_wait_s` and `max_wait_s` are accepted as
    aliases with the same meaning (passing both with different values is an error).

    Args:
        max_attempts: Attempts per call, the first one included (>= 1).
        initial_delay: The first wait, after the first failure (jitter may add to it, never shortens it); each
            later wait doubles, up to `max_delay`.
        max_delay: Largest single wait; also clamps the server's Retry-After.
        min_wait_s: Smallest wait (> 0), so no header can make the policy hot-loop; default 0.1 s, or
            `initial_delay` / `max_delay` when smaller (so `initial_delay=0.01` really waits 0.01 s first).
        deadline_s: Total time budget per call; a wait that would end after it is not taken (None: no deadline).
        jitter: Add up to half of each backoff at random, so clients do not retry in lockstep; False: exact
            backoff.
        retry_on: Which errors to retry; default `is_retryable` (classify-based).
        before_sleep: Called before each wait (default `log_retry`; None: silent). Errors in it are logged.
        on_statistics: Called with the `RetryStatistics` of every finished call (for metrics).
        name: Names the policy in logs (`"plex"`).
        clock: Monotonic seconds; tests pass a `ManualClock`.
        sleep: Blocking sleep for sync calls.
        async_sleep: Awaitable sleep for async calls.
        rand: Jitter source returning floats in [0, 1).
        initial_wait_s: Alias of `initial_delay`.
        max_wait_s: Alias of `max_delay`.

    Raises:
        ConfigurationError: A limit is out of range (the message names it).
    """

    def __init__(
        self,
        *,
        max_attempts: int = 6,
        initial_delay: float | None = None,
        max_delay: float | None = None,
        min_wait_s: float | None = None,
        deadline_s: float | None = 900.0,
        jitter: bool = True,
        retry_on: Callable[[BaseException], bool] = is_retryable,
        before_sleep: Callable[[RetrySleep], None] | None = log_retry,
        on_statistics: Callable[[RetryStatistics], None] | None = None,
        name: str = "retry",
        clock: Clock = monotonic,
        sleep: Sleep | None = None,
        async_sleep: AsyncSleep = asyncio_sleep,
        rand: Callable[[], float] = random.random,
        initial_wait_s: float | None = None,
        max_wait_s: float | None = None,
    ) -> None:
        initial = resolve_alias("initial_delay", initial_delay, "initial_wait_s", initial_wait_s, 0.5)
        largest = resolve_alias("max_delay", max_delay, "max_wait_s", max_wait_s, 60.0)
        self._min_wait_given = min_wait_s
        if max_attempts < 1:
            raise ConfigurationError(f"max_attempts must be >= 1, got {max_attempts}", field="max_attempts")
        if not largest > 0:
            raise ConfigurationError(f"max_delay must be > 0, got {largest}", field="max_delay")
        if min_wait_s is None:
            min_wait_s = default_min_wait(initial, largest)
        if not min_wait_s > 0:
            raise ConfigurationError(f"min_wait_s must be > 0, got {min_wait_s}", field="min_wait_s")
        if initial < 0:
            raise ConfigurationError(f"initial_delay must be >= 0, got {initial}", field="initial_delay")
        if largest < min_wait_s:
            raise ConfigurationError(f"max_delay ({largest}) must be >= min_wait_s ({min_wait_s})", field="max_delay")
        if deadline_s is not None and not deadline_s > 0:
            raise ConfigurationError(f"deadline_s must be > 0 or None, got {deadline_s}", field="deadline_s")
        self.max_attempts = max_attempts
        self.initial_delay = initial
        self.max_delay = largest
        self.min_wait_s = min_wait_s
        self.deadline_s = deadline_s
        self.jitter = jitter
        self.retry_on = retry_on
        self.before_sleep = before_sleep
        self.on_statistics = on_statistics
        self.name = name
        self.clock = clock
        self.sleep: Sleep = sleep if sleep is not None else blocking_sleep
        self.async_sleep = async_sleep
        self.rand = rand
        self.wait = RetryAfterWait(
            initial_delay=initial, max_delay=largest, min_wait_s=min_wait_s, jitter=jitter, rand=rand
        )
        self._lock = threading.Lock()
        self._totals = RetryTotals()
        self._by_category: Counter[str] = Counter()

    @property
    def initial_wait_s(self) -> float:
        """Alias of `initial_delay`."""
        return self.initial_delay

    @property
    def max_wait_s(self) -> float:
        """Alias of `max_delay`."""
        return self.max_delay

    @classmethod
    def from_settings(cls, settings: _RetrySettingsLike, **overrides: Unpack[RetryOverrides]) -> RetryPolicy:
        """Build a policy from `RetrySettings` (`plex.retry` in the config file), plus keyword overrides."""
        values: RetryOverrides = {
            "max_attempts": settings.max_attempts,
            "initial_delay": settings.initial_delay,
            "max_delay": settings.max_delay,
            "deadline_s": settings.deadline_s,
        }
        values.update(_canonical(overrides))
        return cls(**values)

    def replace(self, **overrides: Unpack[RetryOverrides]) -> RetryPolicy:
        """A new policy with some settings changed (totals start from zero)."""
        values: RetryOverrides = {
            "max_attempts": self.max_attempts,
            "initial_delay": self.initial_delay,
            "max_delay": self.max_delay,
            "deadline_s": self.deadline_s,
            "jitter": self.jitter,
            "retry_on": self.retry_on,
            "before_sleep": self.before_sleep,
            "on_statistics": self.on_statistics,
            "name": self.name,
            "clock": self.clock,
            "sleep": self.sleep,
            "async_sleep": self.async_sleep,
            "rand": self.rand,
        }
        if self._min_wait_given is not None:
            values["min_wait_s"] = self._min_wait_given
        values.update(_canonical(overrides))
        return RetryPolicy(**values)

    @property
    def totals(self) -> RetryTotals:
        """Cumulative statistics of every finished call through this policy (a consistent snapshot)."""
        with self._lock:
            return RetryTotals(
                calls=self._totals.calls,
                attempts=self._totals.attempts,
                retries=self._totals.retries,
                total_sleep_s=self._totals.total_sleep_s,
                succeeded=self._totals.succeeded,
                failed=self._totals.failed,
                failures_by_category=MappingProxyType(dict(self._by_category)),
            )

    def __repr__(self) -> str:
        return (
            f"RetryPolicy(name={self.name!r}, max_attempts={self.max_attempts}, initial_delay={self.initial_delay},"
            f" max_delay={self.max_delay}, deadline_s={self.deadline_s})"
        )

    def call(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call `fn(*args, **kwargs)` and retry it under this policy; re-raise the last error when giving up."""
        run = Run(self)
        retrying = tenacity.Retrying(sleep=run.record_sleep(self.sleep), **run.controls())
        with run.recording():
            return retrying(fn, *args, **kwargs)

    async def acall(self, fn: Callable[P, Awaitable[R]], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Await `fn(*args, **kwargs)` and retry it under this policy; re-raise the last error when giving up."""

        async def attempt() -> R:
            return await fn(*args, **kwargs)

        run = Run(self)
        retrying = tenacity.AsyncRetrying(sleep=run.record_async_sleep(self.async_sleep), **run.controls())
        with run.recording():
            return await retrying(attempt)

    @overload
    def __call__(self, fn: Callable[P, Coroutine[Any, Any, R]], /) -> Callable[P, Coroutine[Any, Any, R]]: ...
    @overload
    def __call__(self, fn: Callable[P, R], /) -> Callable[P, R]: ...
    def __call__(self, fn: Callable[P, Any], /) -> Callable[P, Any]:
        """Decorate a sync or async function so that every call goes through this policy."""
        return decorate_sync_or_async(fn, self.call, self.acall)

    def _record(self, stats: RetryStatistics, failures: Counter[str]) -> None:
        with self._lock:
            t = self._totals
            self._totals = RetryTotals(
                calls=t.calls + 1,
                attempts=t.attempts + stats.attempts,
                retries=t.retries + stats.retries,
                total_sleep_s=t.total_sleep_s + stats.total_sleep_s,
                succeeded=t.succeeded + (1 if stats.succeeded else 0),
                failed=t.failed + (0 if stats.succeeded else 1),
            )
            self._by_category.update(failures)


#: The seed's name for `RetryPolicy`: the same class (one implementation), for code written against it.
RetryHandler = RetryPolicy


def _canonical(overrides: RetryOverrides) -> RetryOverrides:
    """Overrides with the aliases `initial_wait_s` / `max_wait_s` renamed to `initial_delay` / `max_delay`."""
    result = overrides.copy()
    initial_alias = result.pop("initial_wait_s", None)
    if initial_alias is not None:
        initial = result.get("initial_delay")
        result["initial_delay"] = resolve_alias("initial_delay", initial, "initial_wait_s", initial_alias, 0.5)
    max_alias = result.pop("max_wait_s", None)
    if max_alias is not None:
        result["max_delay"] = resolve_alias("max_delay", result.get("max_delay"), "max_wait_s", max_alias, 60.0)
    return result


class _RetrySettingsLike(Protocol):
    @property
    def max_attempts(self) -> int: ...
    @property
    def initial_delay(self) -> float: ...
    @property
    def max_delay(self) -> float: ...
    @property
    def deadline_s(self) -> float | None: ...


@overload
def with_retry(  # type: ignore[overload-overlap]  # a RetryPolicy is callable, so it also fits overload 3
    policy: RetryPolicy | None = None, /, **overrides: Unpack[RetryOverrides]
) -> _Decorator: ...
@overload
def with_retry(fn: Callable[P, Coroutine[Any, Any, R]], /) -> Callable[P, Coroutine[Any, Any, R]]: ...
@overload
def with_retry(fn: Callable[P, R], /) -> Callable[P, R]: ...
def with_retry(
    policy_or_fn: RetryPolicy | Callable[..., Any] | None = None, /, **overrides: Unpack[RetryOverrides]
) -> Any:
    """Retry a sync or async function under a `RetryPolicy`.

    All three forms work and keep the decorated function's signature for type checkers::

        @with_retry                     # the default policy
        def fetch() -> bytes: ...

        @with_retry(policy)             # a shared policy (its totals count every decorated function)
        async def fetch_jobs(pcn: str) -> list[Job]: ...

        @with_retry(max_attempts=3, initial_delay=1.0)   # the default policy with overrides
        def write() -> None: ...                          # (or `with_retry(policy, ...)`)

    Args:
        policy_or_fn: A `RetryPolicy`, None (the default policy), or the function itself (bare decorator).
        **overrides: Settings that replace the policy's (see `RetryPolicy`).

    Returns:
        The decorated function, or a decorator.
    """
    if policy_or_fn is None or isinstance(policy_or_fn, RetryPolicy):
        base = policy_or_fn or RetryPolicy()
        return base.replace(**overrides) if overrides else base
    return RetryPolicy(**overrides)(policy_or_fn)
