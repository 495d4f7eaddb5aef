"""CircuitBreaker: the state machine against a model, what counts, the drivers, listeners and thread safety."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import assert_type

import httpx
import pytest
from cognite.client import exceptions as cex
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from plex_cognite.config import BreakerSettings
from plex_cognite.errors import ErrorCategory, PlexAPIError, PlexCogniteError, classify
from plex_cognite.observability.logs import capture_logs
from plex_cognite.resilience import (
    Allow,
    BreakerCore,
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
    ManualClock,
    Reject,
    counts_as_failure,
)
from plex_cognite.typing import BreakerListener

from ._helpers import status_error

FAILURE = status_error(503)
NEUTRAL = status_error(404)
THROTTLED = status_error(429, {"Retry-After": "1"})


@dataclass
class RecordingListener:
    changes: list[tuple[str, str, str]] = field(default_factory=list)
    rejections: list[tuple[str, float]] = field(default_factory=list)

    def on_state_change(self, name: str, old: str, new: str) -> None:
        self.changes.append((name, old, new))

    def on_rejected(self, name: str, retry_in: float) -> None:
        self.rejections.append((name, retry_in))


def make(clock: ManualClock, **kwargs: object) -> tuple[CircuitBreaker, RecordingListener]:
    listener = RecordingListener()
    breaker = CircuitBreaker("plex", clock=clock, listeners=[listener], **kwargs)  # type: ignore[arg-type]
    return breaker, listener


def state_of(breaker: CircuitBreaker) -> BreakerState:
    """The breaker's state, read through a call (so type checkers do not narrow `breaker.state` across calls)."""
    return breaker.state


def fail(breaker: CircuitBreaker, error: Exception = FAILURE) -> None:
    def request() -> None:
        raise error

    with pytest.raises(type(error)):
        breaker.call(request)


# --- what counts ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "counted"),
    [
        pytest.param(status_error(500), True, id="500"),
        pytest.param(status_error(503), True, id="503"),
        pytest.param(httpx.ConnectError("refused"), True, id="connect-error"),
        pytest.param(httpx.ReadTimeout("slow"), True, id="read-timeout"),
        pytest.param(cex.CogniteConnectionError("reset"), True, id="cdf-connection"),
        pytest.param(cex.CogniteAPIError("boom", code=502), True, id="cdf-502"),
        pytest.param(TimeoutError(), True, id="stdlib-timeout"),
        pytest.param(status_error(429), False, id="429"),
        pytest.param(PlexAPIError(403, "Usage quota exceeded"), False, id="quota-403"),
        pytest.param(status_error(400), False, id="400"),
        pytest.param(status_error(401), False, id="401"),
        pytest.param(status_error(404), False, id="404"),
        pytest.param(cex.CogniteAPIError("dup", code=409), False, id="cdf-409"),
        pytest.param(ValueError("bug"), False, id="programming-error"),
        pytest.param(CircuitOpenError("other", 1.0), False, id="another-breaker-open"),
        pytest.param(asyncio.CancelledError(), False, id="cancelled"),
    ],
)
def test_only_5xx_timeouts_and_connection_errors_count(error: BaseException, counted: bool) -> None:
    assert counts_as_failure(error) is counted


def test_consecutive_failures_open_the_breaker_and_refusals_say_when_to_retry() -> None:
    clock = ManualClock()
    breaker, listener = make(clock, failure_threshold=3, reset_timeout_s=30.0)
    for _ in range(3):
        fail(breaker)
    assert state_of(breaker) is BreakerState.OPEN
    clock.advance(10.0)
    calls = 0

    def request() -> None:
        nonlocal calls
        calls += 1

    with pytest.raises(CircuitOpenError) as raised:
        breaker.call(request)
    assert calls == 0
    assert (raised.value.name, raised.value.retry_in) == ("plex", 20.0)
    assert "'plex' is open" in str(raised.value)
    assert isinstance(raised.value, PlexCogniteError)
    assert listener.changes == [("plex", "closed", "open")]
    assert listener.rejections == [("plex", 20.0)]


def test_4xx_and_429_are_neutral_they_neither_count_nor_reset() -> None:
    clock = ManualClock()
    breaker, _ = make(clock, failure_threshold=3)
    fail(breaker)
    fail(breaker, NEUTRAL)
    fail(breaker)
    fail(breaker, THROTTLED)
    assert state_of(breaker) is BreakerState.CLOSED
    fail(breaker)  # third counted failure in a row (the 404 and 429 in between did not reset the count)
    assert state_of(breaker) is BreakerState.OPEN


def test_a_success_resets_the_count() -> None:
    clock = ManualClock()
    breaker, _ = make(clock, failure_threshold=2)
    fail(breaker)
    breaker.call(lambda: None)
    fail(breaker)
    assert state_of(breaker) is BreakerState.CLOSED


def test_exclude_predicate_keeps_errors_from_counting() -> None:
    clock = ManualClock()
    breaker, _ = make(clock, failure_threshold=1, exclude=lambda exc: isinstance(exc, TimeoutError))
    fail(breaker, TimeoutError("expected while the upstream is in maintenance"))
    assert state_of(breaker) is BreakerState.CLOSED
    fail(breaker)
    assert state_of(breaker) is BreakerState.OPEN


def test_half_open_recovery_with_trial_limit_and_success_threshold() -> None:
    clock = ManualClock()
    breaker, listener = make(
        clock, failure_threshold=1, reset_timeout_s=5.0, half_open_max_calls=2, success_threshold=2
    )
    fail(breaker)
    clock.advance(5.0)
    assert state_of(breaker) is BreakerState.HALF_OPEN
    first, second = breaker.admit(), breaker.admit()
    assert first.trial
    assert second.trial
    with pytest.raises(CircuitOpenError) as raised:
        breaker.admit()  # both trial slots taken
    assert raised.value.retry_in == 0.0
    breaker.record_success(first)
    assert state_of(breaker) is BreakerState.HALF_OPEN
    breaker.record_success(second)
    assert state_of(breaker) is BreakerState.CLOSED
    assert [c[1:] for c in listener.changes] == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


def test_a_failed_trial_reopens_for_a_full_reset_timeout() -> None:
    clock = ManualClock()
    breaker, _ = make(clock, failure_threshold=1, reset_timeout_s=5.0)
    fail(breaker)
    clock.advance(6.0)
    fail(breaker)
    assert state_of(breaker) is BreakerState.OPEN
    with pytest.raises(CircuitOpenError) as raised:
        breaker.admit()
    assert raised.value.retry_in == 5.0


def test_a_neutral_trial_frees_its_slot_without_closing() -> None:
    clock = ManualClock()
    breaker, _ = make(clock, failure_threshold=1, reset_timeout_s=1.0)
    fail(breaker)
    clock.advance(1.0)
    fail(breaker, NEUTRAL)
    assert state_of(breaker) is BreakerState.HALF_OPEN
    breaker.call(lambda: None)
    assert state_of(breaker) is BreakerState.CLOSED


def test_results_of_calls_admitted_before_a_state_change_are_ignored() -> None:
    clock = ManualClock()
    breaker, _ = make(clock, failure_threshold=2, reset_timeout_s=1.0)
    slow = breaker.admit()
    fail(breaker)
    fail(breaker)  # opens while `slow` is still in flight
    clock.advance(1.0)
    trial = breaker.admit()
    breaker.record_failure(slow, FAILURE)  # late failure from the closed period: ignored
    assert state_of(breaker) is BreakerState.HALF_OPEN
    breaker.record_success(trial)
    assert state_of(breaker) is BreakerState.CLOSED


# --- the state machine against a model ----------------------------------------------------------------------------


@dataclass
class Model:
    """The breaker's rules, written as plainly as possible, for sequential calls."""

    threshold: int
    timeout: float
    successes_needed: int
    state: str = "closed"
    failures: int = 0
    successes: int = 0
    opened_at: float = 0.0

    def observe(self, now: float) -> str:
        if self.state == "open" and now - self.opened_at >= self.timeout:
            self.state, self.successes = "half_open", 0
        return self.state

    def admit(self, now: float) -> bool:
        return self.observe(now) != "open"

    def result(self, outcome: str, now: float) -> None:
        if outcome == "neutral":
            return
        if self.state == "closed":
            if outcome == "success":
                self.failures = 0
            else:
                self.failures += 1
                if self.failures >= self.threshold:
                    self.state, self.opened_at, self.failures = "open", now, 0
        elif self.state == "half_open":
            if outcome == "failure":
                self.state, self.opened_at = "open", now
            else:
                self.successes += 1
                if self.successes >= self.successes_needed:
                    self.state, self.failures = "closed", 0


OUTCOMES = {"success": None, "failure": FAILURE, "neutral": NEUTRAL, "throttled": THROTTLED}


@settings(max_examples=150, deadline=None)
@given(
    threshold=st.integers(1, 4),
    timeout=st.sampled_from([0.0, 1.0, 5.0]),
    successes_needed=st.integers(1, 3),
    steps=st.lists(st.tuples(st.sampled_from([0.0, 0.5, 1.0, 6.0]), st.sampled_from(sorted(OUTCOMES))), max_size=60),
)
def test_sequential_calls_follow_the_model(
    threshold: int, timeout: float, successes_needed: int, steps: list[tuple[float, str]]
) -> None:
    clock = ManualClock()
    core = BreakerCore(
        failure_threshold=threshold, reset_timeout_s=timeout, success_threshold=successes_needed, clock=clock
    )
    model = Model(threshold, timeout, successes_needed)
    for advance, outcome in steps:
        clock.advance(advance)
        decision = core.before_call()
        assert isinstance(decision, Allow) is model.admit(clock())
        if isinstance(decision, Allow):
            error = OUTCOMES[outcome]
            if error is None:
                core.on_success(decision)
            else:
                core.on_failure(error, decision)
            model.result("neutral" if outcome == "throttled" else outcome, clock())
        assert core.state.value == model.observe(clock())


class ConcurrentCalls(RuleBasedStateMachine):
    """Interleaved calls: trials never exceed the limit, refusals only when open or trials are full."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.core = BreakerCore(
            failure_threshold=2, reset_timeout_s=3.0, half_open_max_calls=2, success_threshold=2, clock=self.clock
        )
        self.in_flight: list[Allow] = []

    @rule(seconds=st.sampled_from([0.5, 1.0, 3.0]))
    def wait(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule()
    def start(self) -> None:
        state = self.core.state
        trials = sum(1 for t in self.in_flight if t.trial and t.generation == self.core._generation)
        decision = self.core.before_call()
        if isinstance(decision, Reject):
            assert state is BreakerState.OPEN or (state is BreakerState.HALF_OPEN and trials >= 2)
            assert decision.retry_in >= 0
        else:
            assert state is not BreakerState.OPEN
            self.in_flight.append(decision)

    @precondition(lambda self: self.in_flight)
    @rule(index=st.integers(0, 10), outcome=st.sampled_from(sorted(OUTCOMES)))
    def finish(self, index: int, outcome: str) -> None:
        ticket = self.in_flight.pop(index % len(self.in_flight))
        error = OUTCOMES[outcome]
        if error is None:
            self.core.on_success(ticket)
        else:
            self.core.on_failure(error, ticket)

    @invariant()
    def trials_within_limit(self) -> None:
        assert 0 <= self.core._in_flight <= 2
        if self.core.state is not BreakerState.HALF_OPEN:
            assert self.core._in_flight == 0


ConcurrentCalls.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestConcurrentCalls = ConcurrentCalls.TestCase


# --- drivers ------------------------------------------------------------------------------------------------------


def test_sync_context_manager_and_decorator() -> None:
    clock = ManualClock()
    breaker, _ = make(clock, failure_threshold=2)
    with breaker:
        pass
    with pytest.raises(httpx.HTTPStatusError), breaker:
        raise FAILURE

    @breaker
    def get(pcn: str) -> int:
        return int(pcn)

    assert_type(get("340884"), int)
    assert get("340884") == 340884
    assert get.__name__ == "get"
    assert state_of(breaker) is BreakerState.CLOSED  # the success reset the count


async def test_async_context_manager_decorator_and_acall() -> None:
    clock = ManualClock()
    breaker, _ = make(clock, failure_threshold=2, reset_timeout_s=1.0)

    @breaker
    async def fetch(pcn: str) -> str:
        await asyncio.sleep(0)
        raise status_error(502)

    for _ in range(2):
        with pytest.raises(httpx.HTTPStatusError):
            await fetch("1")
    assert state_of(breaker) is BreakerState.OPEN
    with pytest.raises(CircuitOpenError):
        async with breaker:
            pass
    clock.advance(1.0)

    async def ok() -> str:
        return "ok"

    assert await breaker.acall(ok) == "ok"
    assert state_of(breaker) is BreakerState.CLOSED


async def test_concurrent_tasks_keep_their_own_tickets_in_async_with() -> None:
    clock = ManualClock()
    breaker, _ = make(clock, failure_threshold=1, reset_timeout_s=1.0, half_open_max_calls=1)

    async def trial(fails: bool, started: asyncio.Event, release: asyncio.Event) -> None:
        async with breaker:
            started.set()
            await release.wait()
            if fails:
                raise FAILURE

    fail(breaker)
    clock.advance(1.0)
    started, release = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(trial(False, started, release))
    await started.wait()
    with pytest.raises(CircuitOpenError):  # the one trial slot is taken by `task`
        async with breaker:
            pass
    release.set()
    await task
    assert state_of(breaker) is BreakerState.CLOSED


def test_many_threads_share_one_breaker() -> None:
    breaker = CircuitBreaker("cdf", failure_threshold=1_000_000)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for i in range(500):
                if i % 2:
                    breaker.call(lambda: None)
                else:
                    fail(breaker)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert state_of(breaker) is BreakerState.CLOSED


def test_listeners_that_raise_are_logged_and_ignored() -> None:
    class Broken:
        def on_state_change(self, name: str, old: str, new: str) -> None:
            raise RuntimeError("broken listener")

        def on_rejected(self, name: str, retry_in: float) -> None:
            raise RuntimeError("broken listener")

    assert isinstance(Broken(), BreakerListener)
    clock = ManualClock()
    recording = RecordingListener()
    breaker = CircuitBreaker("plex", failure_threshold=1, clock=clock, listeners=[Broken()])
    breaker.add_listener(recording)
    with capture_logs() as logs:
        fail(breaker)
        with pytest.raises(CircuitOpenError):
            breaker.admit()
    assert recording.changes == [("plex", "closed", "open")]
    assert len(recording.rejections) == 1
    assert sum(entry["event"] == "circuit breaker listener failed; ignoring it" for entry in logs) == 2
    assert any(entry["event"] == "circuit breaker state changed" and entry["new"] == "open" for entry in logs)


def test_from_settings_reset_and_repr() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker.from_settings("plex", BreakerSettings(failure_threshold=1), clock=clock)
    fail(breaker)
    assert repr(breaker) == "CircuitBreaker(name='plex', state='open')"
    breaker.reset()
    assert state_of(breaker) is BreakerState.CLOSED


def test_exit_without_enter_is_a_clear_error() -> None:
    breaker = CircuitBreaker("plex")
    with pytest.raises(RuntimeError, match="without a matching enter"):
        breaker.__exit__(None, None, None)


def test_circuit_open_error_pickles() -> None:
    import pickle

    error = pickle.loads(pickle.dumps(CircuitOpenError("plex", 3.0)))
    assert (error.name, error.retry_in) == ("plex", 3.0)


def test_classify_treats_circuit_open_as_retryable_after_retry_in() -> None:
    result = classify(CircuitOpenError("plex", 7.0))
    assert (result.category, result.retry_after) == (ErrorCategory.RETRYABLE, 7.0)
