"""A circuit breaker per upstream: a sans-I/O state machine (`BreakerCore`) and a thread/task-safe driver.

States: **closed** (calls go through; `failure_threshold` consecutive failures open it), **open** (calls are
refused with `CircuitOpenError` until `reset_timeout_s` has passed), **half-open** (up to `half_open_max_calls`
trial calls at a time; `success_threshold` successful trials close it, one failed trial opens it again).

What counts (decided once, here):

| outcome                                                         | closed            | half-open                 |
|-----------------------------------------------------------------|-------------------|---------------------------|
| success                                                         | resets the count  | a successful trial        |
| failure: `classify()` RETRYABLE (5xx, timeouts, connection errors) | counts         | re-opens                  |
| neutral: 429, other 4xx and anything FATAL, SKIPPABLE, excluded, cancelled | nothing | frees the trial slot only |

A 4xx is the caller's fault and a 429 is flow control, so neither says anything about the upstream's health:
they neither count nor reset the count. A `CircuitOpenError` from another breaker is neutral too.

Results are tied to the "generation" in which the call was admitted: a result that arrives after the breaker
changed state (a slow call admitted while closed, finishing after it opened) is ignored.
"""

from __future__ import annotations

import contextvars
import enum
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ParamSpec, Protocol, TypeAlias, TypeVar, overload

from plex_cognite.errors import CircuitOpenError, ErrorCategory, classify
from plex_cognite.observability.logs import get_logger
from plex_cognite.resilience._clock import Clock, monotonic
from plex_cognite.resilience._sync_or_async import decorate_sync_or_async
from plex_cognite.typing import BreakerListener

__all__ = [
    "Allow",
    "BreakerCore",
    "BreakerState",
    "CircuitBreaker",
    "CircuitOpenError",
    "Decision",
    "Reject",
    "counts_as_failure",
]

P = ParamSpec("P")
R = TypeVar("R")

_log = get_logger(__name__)


class BreakerState(enum.StrEnum):
    """The three states of a circuit breaker (values are what listeners and metrics see)."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class Allow:
    """The call may go. Pass this ticket back to `on_success` / `on_failure` / `on_neutral`.

    Attributes:
        generation: Which state period admitted the call (results from older periods are ignored).
        trial: Whether this is a half-open trial call.
    """

    generation: int
    trial: bool = False


@dataclass(frozen=True, slots=True)
class Reject:
    """The call must not go; it may be tried again in `retry_in` seconds."""

    retry_in: float


#: What `BreakerCore.before_call` answers.
Decision: TypeAlias = Allow | Reject


def counts_as_failure(exc: BaseException) -> bool:
    """The default failure rule: RETRYABLE errors (5xx, timeouts, connection errors) count, nothing else does."""
    if isinstance(exc, CircuitOpenError) or not isinstance(exc, Exception):
        return False
    return classify(exc).category is ErrorCategory.RETRYABLE


class BreakerCore:
    """The breaker's state machine: pure, clock-injected, no locks and no I/O (drivers add both).

    Transitions are queued as `(old, new)` pairs; drivers take them with `drain_transitions()` and tell
    listeners outside their lock.

    Args:
        failure_threshold: Consecutive counted failures that open a closed breaker.
        reset_timeout_s: Seconds an open breaker refuses calls before it lets trials through.
        half_open_max_calls: Trial calls allowed in flight at once while half-open.
        success_threshold: Successful trials that close a half-open breaker.
        clock: Monotonic seconds.
        is_failure: Which errors count (default `counts_as_failure`).
    """

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        reset_timeout_s: float = 30.0,
        half_open_max_calls: int = 1,
        success_threshold: int = 1,
        clock: Clock = monotonic,
        is_failure: Callable[[BaseException], bool] = counts_as_failure,
    ) -> None:
        if failure_threshold < 1 or half_open_max_calls < 1 or success_threshold < 1:
            raise ValueError("failure_threshold, half_open_max_calls and success_threshold must all be >= 1")
        if reset_timeout_s < 0:
            raise ValueError(f"reset_timeout_s must be >= 0, got {reset_timeout_s}")
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self.half_open_max_calls = half_open_max_calls
        self.success_threshold = success_threshold
        self.clock = clock
        self.is_failure = is_failure
        self._state = BreakerState.CLOSED
        self._generation = 0
        self._failures = 0
        self._successes = 0
        self._in_flight = 0
        self._opened_at = 0.0
        self._transitions: list[tuple[BreakerState, BreakerState]] = []

    @property
    def state(self) -> BreakerState:
        """The current state (an open breaker whose timeout has passed reads as half-open)."""
        self._tick()
        return self._state

    @property
    def consecutive_failures(self) -> int:
        """Counted failures since the last success (closed state)."""
        return self._failures

    def before_call(self) -> Decision:
        """Decide whether a call may go now."""
        self._tick()
        if self._state is BreakerState.CLOSED:
            return Allow(self._generation)
        if self._state is BreakerState.OPEN:
            return Reject(max(0.0, self._opened_at + self.reset_timeout_s - self.clock()))
        if self._in_flight >= self.half_open_max_calls:
            return Reject(0.0)
        self._in_flight += 1
        return Allow(self._generation, trial=True)

    def on_success(self, ticket: Allow | None = None) -> None:
        """Record a successful call admitted with `ticket` (None: the current period)."""
        if not self._current(ticket):
            return
        if self._state is BreakerState.CLOSED:
            self._failures = 0
        elif self._state is BreakerState.HALF_OPEN:
            self._in_flight = max(0, self._in_flight - 1)
            self._successes += 1
            if self._successes >= self.success_threshold:
                self._move(BreakerState.CLOSED)

    def on_failure(self, exc: BaseException, ticket: Allow | None = None, *, counted: bool | None = None) -> None:
        """Record a call admitted with `ticket` that raised `exc`; only counted errors change the state.

        `counted` overrides `is_failure(exc)` when the driver has already decided (outside its lock).
        """
        if not (self.is_failure(exc) if counted is None else counted):
            self.on_neutral(ticket)
            return
        if not self._current(ticket):
            return
        if self._state is BreakerState.CLOSED:
            self._failures += 1
            if self._failures >= self.failure_threshold:
                self._move(BreakerState.OPEN)
        elif self._state is BreakerState.HALF_OPEN:
            self._move(BreakerState.OPEN)

    def on_neutral(self, ticket: Allow | None = None) -> None:
        """Record an outcome that says nothing about the upstream's health (frees a half-open trial slot)."""
        if self._current(ticket) and self._state is BreakerState.HALF_OPEN:
            self._in_flight = max(0, self._in_flight - 1)

    def reset(self) -> None:
        """Close the breaker and forget all counts (an operator's override)."""
        self._move(BreakerState.CLOSED)

    def drain_transitions(self) -> list[tuple[BreakerState, BreakerState]]:
        """Return and forget the transitions since the last drain, oldest first."""
        transitions, self._transitions = self._transitions, []
        return transitions

    def _current(self, ticket: Allow | None) -> bool:
        self._tick()
        return ticket is None or ticket.generation == self._generation

    def _tick(self) -> None:
        if self._state is BreakerState.OPEN and self.clock() - self._opened_at >= self.reset_timeout_s:
            self._move(BreakerState.HALF_OPEN)

    def _move(self, new: BreakerState) -> None:
        old = self._state
        self._state = new
        self._generation += 1
        self._failures = 0
        self._successes = 0
        self._in_flight = 0
        if new is BreakerState.OPEN:
            self._opened_at = self.clock()
        if old is not new:
            self._transitions.append((old, new))


class _BreakerSettingsLike(Protocol):
    @property
    def failure_threshold(self) -> int: ...
    @property
    def reset_timeout_s(self) -> float: ...
    @property
    def half_open_max_calls(self) -> int: ...
    @property
    def success_threshold(self) -> int: ...


# The tickets of the breakers the current thread/task is inside (`with breaker:`), innermost last.
_TICKETS: contextvars.ContextVar[tuple[tuple[CircuitBreaker, Allow], ...]] = contextvars.ContextVar(
    "plex_cognite_breaker_tickets", default=()
)


class CircuitBreaker:
    """A circuit breaker for one upstream, shared by all threads and tasks that call it.

    Use it as `with breaker:` / `async with breaker:`, `breaker.call(fn, *args)`, `await breaker.acall(fn, *args)`,
    or as a decorator (`@breaker`, sync or async). A refused call raises `CircuitOpenError` without running.
    See the module docstring for what counts as a failure.

    Args:
        name: Names the breaker in errors, logs and metrics (`"plex"`, `"cdf"`).
        failure_threshold: Consecutive failures that open it.
        reset_timeout_s: Seconds it stays open before trial calls.
        half_open_max_calls: Trial calls in flight at once while half-open (others are refused).
        success_threshold: Successful trials that close it again.
        exclude: Errors for which this returns True never count (checked before the default rule).
        clock: Monotonic seconds; tests pass a `ManualClock`.
        listeners: `BreakerListener`s told about state changes and refusals (errors in them are logged, ignored).
    """

    def __init__(
        self,
        name: str,
        failure_threshold: int = 5,
        reset_timeout_s: float = 30.0,
        half_open_max_calls: int = 1,
        success_threshold: int = 1,
        exclude: Callable[[BaseException], bool] | None = None,
        clock: Clock | None = None,
        listeners: Iterable[BreakerListener] = (),
    ) -> None:
        self.name = name
        self.exclude = exclude
        self._core = BreakerCore(
            failure_threshold=failure_threshold,
            reset_timeout_s=reset_timeout_s,
            half_open_max_calls=half_open_max_calls,
            success_threshold=success_threshold,
            clock=clock or monotonic,
            is_failure=self._is_failure,
        )
        self._lock = threading.Lock()
        self._listeners: list[BreakerListener] = list(listeners)

    @classmethod
    def from_settings(
        cls,
        name: str,
        settings: _BreakerSettingsLike,
        *,
        exclude: Callable[[BaseException], bool] | None = None,
        clock: Clock | None = None,
        listeners: Iterable[BreakerListener] = (),
    ) -> CircuitBreaker:
        """Build a breaker from `BreakerSettings` (`plex.breaker` in the config file)."""
        return cls(
            name,
            failure_threshold=settings.failure_threshold,
            reset_timeout_s=settings.reset_timeout_s,
            half_open_max_calls=settings.half_open_max_calls,
            success_threshold=settings.success_threshold,
            exclude=exclude,
            clock=clock,
            listeners=listeners,
        )

    def __repr__(self) -> str:
        return f"CircuitBreaker(name={self.name!r}, state={self.state.value!r})"

    @property
    def state(self) -> BreakerState:
        """The current state."""
        with self._lock:
            state = self._core.state
            transitions = self._core.drain_transitions()
        self._notify(transitions)
        return state

    def add_listener(self, listener: BreakerListener) -> None:
        """Tell `listener` about this breaker's state changes and refusals from now on."""
        with self._lock:
            self._listeners = [*self._listeners, listener]

    def reset(self) -> None:
        """Close the breaker and forget its counts."""
        with self._lock:
            self._core.reset()
            transitions = self._core.drain_transitions()
        self._notify(transitions)

    def admit(self) -> Allow:
        """Ask to make one call: return its ticket, or raise `CircuitOpenError` (and tell listeners).

        Low-level: pair every ticket with exactly one `record_success` / `record_failure` / `record_neutral`.
        """
        with self._lock:
            decision = self._core.before_call()
            transitions = self._core.drain_transitions()
        self._notify(transitions)
        if isinstance(decision, Reject):
            for listener in self._listeners:
                self._safely(listener.on_rejected, self.name, decision.retry_in)
            raise CircuitOpenError(self.name, decision.retry_in)
        return decision

    def record_success(self, ticket: Allow) -> None:
        """Report that the call admitted with `ticket` succeeded."""
        self._apply(lambda: self._core.on_success(ticket))

    def record_failure(self, ticket: Allow, exc: BaseException) -> None:
        """Report that the call admitted with `ticket` raised `exc` (the rules decide whether it counts)."""
        counted = self._is_failure(exc)  # user predicates run outside the lock
        self._apply(lambda: self._core.on_failure(exc, ticket, counted=counted))

    def record_neutral(self, ticket: Allow) -> None:
        """Report that the call admitted with `ticket` ended without telling anything about the upstream."""
        self._apply(lambda: self._core.on_neutral(ticket))

    def call(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call `fn(*args, **kwargs)` through the breaker."""
        ticket = self.admit()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            self.record_failure(ticket, exc)
            raise
        self.record_success(ticket)
        return result

    async def acall(self, fn: Callable[P, Awaitable[R]], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Await `fn(*args, **kwargs)` through the breaker (the lock is never held across the await)."""
        ticket = self.admit()
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            self.record_failure(ticket, exc)
            raise
        self.record_success(ticket)
        return result

    @overload
    def __call__(self, fn: Callable[P, Coroutine[Any, Any, R]], /) -> Callable[P, Coroutine[Any, Any, R]]: ...
    @overload
    def __call__(self, fn: Callable[P, R], /) -> Callable[P, R]: ...
    def __call__(self, fn: Callable[P, Any], /) -> Callable[P, Any]:
        """Decorate a sync or async function so that every call goes through the breaker."""
        return decorate_sync_or_async(fn, self.call, self.acall)

    def __enter__(self) -> CircuitBreaker:
        ticket = self.admit()
        _TICKETS.set((*_TICKETS.get(), (self, ticket)))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        ticket = self._pop_ticket()
        if exc is None:
            self.record_success(ticket)
        else:
            self.record_failure(ticket, exc)

    async def __aenter__(self) -> CircuitBreaker:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def _pop_ticket(self) -> Allow:
        stack = _TICKETS.get()
        for index in range(len(stack) - 1, -1, -1):
            breaker, ticket = stack[index]
            if breaker is self:
                _TICKETS.set(stack[:index] + stack[index + 1 :])
                return ticket
        raise RuntimeError(f"circuit breaker {self.name!r} exited without a matching enter in this context")

    def _is_failure(self, exc: BaseException) -> bool:
        if self.exclude is not None and self.exclude(exc):
            return False
        return counts_as_failure(exc)

    def _apply(self, operation: Callable[[], None]) -> None:
        with self._lock:
            operation()
            transitions = self._core.drain_transitions()
        self._notify(transitions)

    def _notify(self, transitions: list[tuple[BreakerState, BreakerState]]) -> None:
        for old, new in transitions:
            log = _log.warning if new is BreakerState.OPEN else _log.info
            log("circuit breaker state changed", breaker=self.name, old=old.value, new=new.value)
            for listener in self._listeners:
                self._safely(listener.on_state_change, self.name, old.value, new.value)

    def _safely(self, method: Callable[..., object], *args: object) -> None:
        try:
            method(*args)
        except Exception:
            _log.exception("circuit breaker listener failed; ignoring it", breaker=self.name)
