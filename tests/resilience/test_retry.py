"""RetryPolicy and with_retry: what is retried, how long it waits, when it gives up, what it reports."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import threading
import time
from typing import assert_type

import httpx
import pytest
from cognite.client import exceptions as cex
from hypothesis import given, settings
from hypothesis import strategies as st

from plex_cognite.config import RetrySettings
from plex_cognite.errors import ConfigurationError, ErrorCategory, PlexAPIError
from plex_cognite.observability.logs import capture_logs
from plex_cognite.resilience import (
    CircuitOpenError,
    ManualClock,
    RetryPolicy,
    RetrySleep,
    RetryStatistics,
    last_retry_statistics,
    log_retry,
    with_retry,
)

from ._helpers import URL, fast_policy, scripted_handler, status_error


def test_sync_call_retries_503_then_returns_the_answer() -> None:
    clock = ManualClock()
    handler, seen = scripted_handler([503, 502, 200])
    policy = fast_policy(clock, initial_wait_s=1.0, jitter=False)
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:

        def fetch() -> object:
            response = client.get(URL)
            response.raise_for_status()
            return response.json()

        assert policy.call(fetch) == {"ok": True}
    assert len(seen) == 3
    stats = last_retry_statistics()
    assert stats == RetryStatistics(
        attempts=3, total_sleep_s=3.0, elapsed_s=3.0, last_category=ErrorCategory.RETRYABLE, succeeded=True
    )
    assert clock() == 3.0  # waited 1 s then 2 s, on the manual clock only


async def test_async_call_retries_connect_errors_then_returns_the_answer() -> None:
    clock = ManualClock()
    handler, seen = scripted_handler([httpx.ConnectError, httpx.ReadTimeout, 200])
    policy = fast_policy(clock)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:

        async def fetch() -> object:
            response = await client.get(URL)
            response.raise_for_status()
            return response.json()

        assert await policy.acall(fetch) == {"ok": True}
    assert len(seen) == 3
    stats = last_retry_statistics()
    assert stats is not None
    assert (stats.attempts, stats.retries, stats.succeeded) == (3, 2, True)


def test_429_waits_the_servers_retry_after_seconds() -> None:
    clock = ManualClock()
    handler, _ = scripted_handler([(429, {"Retry-After": "7"}), 200])
    policy = fast_policy(clock)
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        policy.call(lambda: client.get(URL).raise_for_status())
    stats = last_retry_statistics()
    assert stats is not None
    assert stats.total_sleep_s == 7.0
    assert stats.last_category is ErrorCategory.RATE_LIMITED


def test_429_with_an_http_date_retry_after_waits_until_then() -> None:
    clock = ManualClock()
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    policy = fast_policy(clock)
    errors = iter([status_error(429, {"Retry-After": when})])

    def fetch() -> str:
        for error in errors:
            raise error
        return "ok"

    assert policy.call(fetch) == "ok"
    assert 27.0 <= clock() <= 31.0


def test_retry_after_above_max_wait_is_clamped() -> None:
    clock = ManualClock()
    policy = fast_policy(clock, max_wait_s=20.0)
    errors = iter([status_error(429, {"Retry-After": "3600"})])

    def fetch() -> None:
        for error in errors:
            raise error

    policy.call(fetch)
    assert clock() == 20.0


@pytest.mark.parametrize("header", ["0", "-5", "soon", "", "nan", "inf"])
def test_zero_negative_or_garbage_retry_after_never_hot_loops(header: str) -> None:
    clock = ManualClock()
    policy = fast_policy(clock, max_attempts=6, min_wait_s=0.1)
    error = status_error(429, {"Retry-After": header})
    sleeps: list[float] = []
    policy.before_sleep = lambda event: sleeps.append(event.sleep_s)

    def fetch() -> None:
        raise error

    with pytest.raises(httpx.HTTPStatusError):
        policy.call(fetch)
    assert len(sleeps) == 5
    assert all(s >= 0.1 for s in sleeps)


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(status_error(400), id="400"),
        pytest.param(status_error(401), id="401"),
        pytest.param(status_error(404), id="404"),
        pytest.param(PlexAPIError(403, "Forbidden"), id="plex-403"),
        pytest.param(cex.CogniteAPIError("bad request", code=400), id="cdf-400"),
        pytest.param(ValueError("a bug"), id="programming-error"),
    ],
)
def test_fatal_errors_are_raised_at_once(error: Exception) -> None:
    clock = ManualClock()
    policy = fast_policy(clock)
    calls = 0

    def fetch() -> None:
        nonlocal calls
        calls += 1
        raise error

    with pytest.raises(type(error)) as raised:
        policy.call(fetch)
    assert raised.value is error
    assert calls == 1
    assert clock() == 0.0
    stats = last_retry_statistics()
    assert stats is not None
    assert (stats.attempts, stats.gave_up, stats.last_category) == (1, "not_retryable", ErrorCategory.FATAL)


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(cex.CogniteAPIError("unavailable", code=503), id="cdf-503"),
        pytest.param(cex.CogniteAPIError("too many", code=429), id="cdf-429"),
        pytest.param(cex.CogniteConnectionError("reset"), id="cdf-connection"),
        pytest.param(cex.CogniteReadTimeout("slow"), id="cdf-read-timeout"),
        pytest.param(PlexAPIError(403, "Usage quota exceeded"), id="plex-quota-403"),
        pytest.param(TimeoutError("stdlib"), id="stdlib-timeout"),
        pytest.param(CircuitOpenError("plex", 4.0), id="circuit-open"),
    ],
)
def test_transient_errors_are_retried_up_to_max_attempts(error: Exception) -> None:
    clock = ManualClock()
    policy = fast_policy(clock, max_attempts=4)
    calls = 0

    def fetch() -> None:
        nonlocal calls
        calls += 1
        raise error

    with pytest.raises(type(error)) as raised:
        policy.call(fetch)
    assert calls == 4
    assert any("gave up after 4 attempts" in note for note in getattr(raised.value, "__notes__", []))
    stats = last_retry_statistics()
    assert stats is not None
    assert stats.gave_up == "attempts"


def test_circuit_open_error_waits_for_the_breaker() -> None:
    clock = ManualClock()
    policy = fast_policy(clock)
    errors = iter([CircuitOpenError("plex", 12.5)])

    def fetch() -> None:
        for error in errors:
            raise error

    policy.call(fetch)
    assert clock() == 12.5


def test_deadline_gives_up_instead_of_sleeping_past_it() -> None:
    clock = ManualClock()
    policy = fast_policy(clock, max_attempts=100, initial_wait_s=1.0, jitter=False, deadline_s=10.0)

    def fetch() -> None:
        raise status_error(503)

    with pytest.raises(httpx.HTTPStatusError):
        policy.call(fetch)
    # Waits 1, 2, 4 (7 s); the next wait (8 s) would end at 15 s, past the 10 s deadline.
    assert clock() == 7.0
    stats = last_retry_statistics()
    assert stats is not None
    assert (stats.attempts, stats.gave_up) == (4, "deadline")


@settings(max_examples=60, deadline=None)
@given(
    deadline=st.floats(0.5, 300.0),
    attempt_s=st.floats(0.0, 20.0),
    initial=st.floats(0.0, 10.0),
    u=st.floats(0.0, 0.999),
)
def test_no_attempt_ever_starts_after_the_deadline(deadline: float, attempt_s: float, initial: float, u: float) -> None:
    clock = ManualClock()
    policy = fast_policy(clock, max_attempts=50, initial_wait_s=initial, deadline_s=deadline, rand=lambda: u)
    starts: list[float] = []

    def fetch() -> None:
        starts.append(clock())
        clock.advance(attempt_s)
        raise status_error(500)

    with pytest.raises(httpx.HTTPStatusError):
        policy.call(fetch)
    assert all(start <= deadline for start in starts)
    assert len(starts) <= 50


async def test_cancellation_is_never_retried() -> None:
    clock = ManualClock()
    policy = fast_policy(clock)
    calls = 0

    async def fetch() -> None:
        nonlocal calls
        calls += 1
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await policy.acall(fetch)
    assert calls == 1


def test_bare_decorator_on_a_sync_function_keeps_its_type_and_name() -> None:
    calls = 0

    @with_retry
    def add(a: int, b: int = 1) -> int:
        """Adds."""
        nonlocal calls
        calls += 1
        return a + b

    assert_type(add(1, b=2), int)
    assert add(1, b=2) == 3
    assert add.__name__ == "add"
    assert add.__doc__ == "Adds."


async def test_decorator_with_a_policy_on_an_async_function() -> None:
    clock = ManualClock()
    policy = fast_policy(clock)
    errors = iter([status_error(503), status_error(504)])

    @with_retry(policy)
    async def fetch(pcn: str) -> list[str]:
        for error in errors:
            raise error
        return [pcn]

    assert_type(await fetch("340884"), list[str])
    assert await fetch("340884") == ["340884"]
    assert policy.totals.attempts == 4  # 3 for the first call, 1 for the second
    assert policy.totals.calls == 2


def test_decorator_with_overrides_and_the_policy_as_decorator() -> None:
    clock = ManualClock()
    base = fast_policy(clock, max_attempts=6)
    calls = 0

    @with_retry(base, max_attempts=2)
    def flaky() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError("refused")

    with pytest.raises(ConnectionError):
        flaky()
    assert calls == 2

    @base
    def fine() -> str:
        return "yes"

    assert_type(fine(), str)
    assert fine() == "yes"


def test_with_retry_overrides_alone_build_a_default_policy() -> None:
    decorator = with_retry(max_attempts=3, name="plex")
    assert isinstance(decorator, RetryPolicy)
    assert (decorator.max_attempts, decorator.name, decorator.deadline_s) == (3, "plex", 900.0)


def test_before_sleep_hook_sees_every_retry_and_its_failures_are_ignored() -> None:
    clock = ManualClock()
    events: list[RetrySleep] = []

    def hook(event: RetrySleep) -> None:
        events.append(event)
        raise RuntimeError("a broken hook must not break the call")

    policy = fast_policy(clock, before_sleep=hook, name="plex", jitter=False)
    errors = iter([status_error(503), status_error(429, {"Retry-After": "3"})])

    def fetch() -> str:
        for error in errors:
            raise error
        return "ok"

    with capture_logs() as logs:
        assert policy.call(fetch) == "ok"
    assert [(e.policy, e.attempt, e.sleep_s, e.category) for e in events] == [
        ("plex", 1, 0.5, ErrorCategory.RETRYABLE),
        ("plex", 2, 3.0, ErrorCategory.RATE_LIMITED),
    ]
    assert events[1].retry_after == 3.0
    assert sum("before_sleep hook failed" in entry["event"] for entry in logs) == 2


def test_default_hook_logs_each_retry_without_secrets() -> None:
    clock = ManualClock()
    policy = fast_policy(clock, before_sleep=log_retry, name="plex")
    errors = iter([status_error(503)])

    def fetch() -> None:
        for error in errors:
            raise error

    with capture_logs() as logs:
        policy.call(fetch)
    (entry,) = logs
    assert entry["log_level"] == "warning"
    assert entry["policy"] == "plex"
    assert entry["attempt"] == 1
    assert entry["error_type"] == "HTTPStatusError"
    assert entry["category"] == "retryable"


def test_statistics_callback_and_cumulative_totals_across_threads() -> None:
    clock = ManualClock()
    seen: list[RetryStatistics] = []
    lock = threading.Lock()

    def collect(stats: RetryStatistics) -> None:
        with lock:
            seen.append(stats)

    policy = fast_policy(clock, on_statistics=collect, max_attempts=4)

    def work(fail: bool) -> None:
        errors = iter([status_error(503), status_error(429)])

        def fetch() -> None:
            for error in errors:
                raise error
            if fail:
                raise status_error(404)

        with contextlib.suppress(httpx.HTTPStatusError):
            policy.call(fetch)

    threads = [threading.Thread(target=work, args=(i % 2 == 0,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    totals = policy.totals
    assert len(seen) == totals.calls == 8
    assert (totals.attempts, totals.retries) == (24, 16)
    assert (totals.succeeded, totals.failed) == (4, 4)
    assert dict(totals.failures_by_category) == {"retryable": 8, "rate_limited": 8, "fatal": 4}
    assert totals.total_sleep_s == pytest.approx(sum(s.total_sleep_s for s in seen))


def test_from_settings_and_replace() -> None:
    policy = RetryPolicy.from_settings(RetrySettings(max_attempts=3, initial_delay=0.2, max_delay=5, deadline_s=30))
    assert (policy.max_attempts, policy.initial_delay, policy.max_delay, policy.deadline_s) == (3, 0.2, 5.0, 30.0)
    other = policy.replace(max_attempts=9, name="cdf-batches")
    assert (other.max_attempts, other.max_delay, other.name) == (9, 5.0, "cdf-batches")
    assert "max_attempts=9" in repr(other)


def test_settings_and_overrides_accept_the_older_names_as_aliases() -> None:
    settings = RetrySettings.model_validate({"initial_wait_s": 0.2, "max_wait_s": 5})
    assert (settings.initial_delay, settings.max_delay) == (0.2, 5.0)
    policy = RetryPolicy.from_settings(settings, max_wait_s=7.0)
    assert (policy.initial_delay, policy.max_delay) == (0.2, 7.0)
    assert (policy.initial_wait_s, policy.max_wait_s) == (0.2, 7.0)
    assert policy.replace(initial_wait_s=1.5).initial_delay == 1.5
    with pytest.raises(ConfigurationError) as raised:
        policy.replace(initial_delay=1.0, initial_wait_s=2.0)
    assert raised.value.field == "initial_delay"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"min_wait_s": 0.0}, "min_wait_s"),
        ({"initial_delay": -1.0}, "initial_delay"),
        ({"initial_wait_s": -1.0}, "initial_delay"),  # the older alias; the error names the canonical field
        ({"max_delay": 0.01, "min_wait_s": 0.1}, "max_delay"),
        ({"max_wait_s": 0.01, "min_wait_s": 0.1}, "max_delay"),
        ({"initial_delay": 1.0, "initial_wait_s": 2.0}, "initial_delay"),
        ({"deadline_s": 0.0}, "deadline_s"),
    ],
)
def test_invalid_limits_fail_fast_naming_the_field(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
    assert raised.value.field == field


async def test_decorating_an_async_callable_object_retries_it() -> None:
    clock = ManualClock()
    policy = fast_policy(clock)

    class Fetcher:
        def __init__(self) -> None:
            self.errors = iter([status_error(503)])

        async def __call__(self) -> str:
            for error in self.errors:
                raise error
            return "ok"

    fetch = policy(Fetcher())
    assert await fetch() == "ok"
    assert policy.totals.attempts == 2


def test_a_small_initial_delay_is_the_first_wait_not_the_default_floor() -> None:
    clock = ManualClock()
    policy = fast_policy(clock, initial_delay=0.01, jitter=False)
    assert policy.min_wait_s == 0.01
    calls = iter([httpx.ConnectError("refused"), httpx.ConnectError("refused"), None])

    def flaky() -> str:
        error = next(calls)
        if error is not None:
            raise error
        return "ok"

    assert policy.call(flaky) == "ok"
    assert clock() == pytest.approx(0.01 + 0.02)
    assert policy.replace(initial_delay=0.004).min_wait_s == 0.004  # the floor follows, unless set explicitly
    assert fast_policy(clock, min_wait_s=0.05).replace(initial_delay=0.004).min_wait_s == 0.05
