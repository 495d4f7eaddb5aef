"""One call's run through a `RetryPolicy`: the tenacity callbacks, bound to the policy's clock and hooks."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

import tenacity

from plex_cognite.errors import Classification, ErrorCategory, classify
from plex_cognite.observability.logs import get_logger
from plex_cognite.resilience._clock import AsyncSleep, Sleep
from plex_cognite.resilience._retry_stats import LAST_STATS, RetrySleep, RetryStatistics

if TYPE_CHECKING:
    from plex_cognite.resilience.retry import RetryPolicy

__all__ = ["Run", "blocking_sleep"]

_log = get_logger("plex_cognite.resilience.retry")


def blocking_sleep(seconds: float) -> None:
    """`time.sleep`, looked up at call time (so tests can patch it)."""
    time.sleep(seconds)


class Run:
    """The state of one call through a policy: tenacity callbacks bound to the policy's clock."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.start = policy.clock()
        self.attempts = 0
        self.total_sleep_s = 0.0
        self.last_classification: Classification | None = None
        self.failures: Counter[str] = Counter()
        self.gave_up: str | None = None

    def elapsed(self) -> float:
        return self.policy.clock() - self.start

    def controls(self) -> dict[str, Any]:
        """The tenacity arguments shared by the sync and async drivers (all but `sleep`)."""
        return {
            "stop": self.stop,
            "wait": self.wait,
            "retry": tenacity.retry_if_exception(self.should_retry),
            "before": self.before_attempt,
            "before_sleep": self.before_sleep,
            "reraise": True,
        }

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        """Around the whole call: `finish` with its outcome (the error is re-raised as it is)."""
        try:
            yield
        except BaseException as exc:
            self.finish(exc)
            raise
        self.finish(None)

    def before_attempt(self, _state: tenacity.RetryCallState) -> None:
        self.attempts += 1

    def should_retry(self, exc: BaseException) -> bool:
        classification = classify(exc) if isinstance(exc, Exception) else None
        if classification is not None:
            self.last_classification = classification
            self.failures[classification.category.value] += 1
        if not self.policy.retry_on(exc):
            self.gave_up = "not_retryable"
            return False
        return True

    def wait(self, state: tenacity.RetryCallState) -> float:
        classification = self.last_classification or Classification(ErrorCategory.RETRYABLE)
        return self.policy.wait.wait_for(state.attempt_number, classification)

    def stop(self, state: tenacity.RetryCallState) -> bool:
        if state.attempt_number >= self.policy.max_attempts:
            self.gave_up = "attempts"
            return True
        deadline = self.policy.deadline_s
        if deadline is not None and self.elapsed() + state.upcoming_sleep > deadline:
            self.gave_up = "deadline"
            return True
        return False

    def before_sleep(self, state: tenacity.RetryCallState) -> None:
        hook = self.policy.before_sleep
        outcome = state.outcome
        if hook is None or outcome is None or not outcome.failed:
            return
        error = outcome.exception()
        assert error is not None  # a failed outcome always holds its exception
        classification = self.last_classification or Classification(ErrorCategory.RETRYABLE)
        event = RetrySleep(
            policy=self.policy.name,
            attempt=state.attempt_number,
            sleep_s=state.upcoming_sleep,
            elapsed_s=self.elapsed(),
            error=error,
            category=classification.category,
            retry_after=classification.retry_after,
        )
        try:
            hook(event)
        except Exception:
            _log.exception("retry before_sleep hook failed; ignoring it", policy=self.policy.name)

    def record_sleep(self, sleep: Sleep) -> Callable[[float], None]:
        def recorded(seconds: float) -> None:
            self.total_sleep_s += float(seconds)
            sleep(float(seconds))

        return recorded

    def record_async_sleep(self, sleep: AsyncSleep) -> Callable[[float], Awaitable[None]]:
        async def recorded(seconds: float) -> None:
            self.total_sleep_s += float(seconds)
            await sleep(float(seconds))

        return recorded

    def finish(self, error: BaseException | None) -> None:
        stats = RetryStatistics(
            attempts=self.attempts,
            total_sleep_s=self.total_sleep_s,
            elapsed_s=self.elapsed(),
            last_category=self.last_classification.category if self.last_classification else None,
            succeeded=error is None,
            gave_up=None if error is None else (self.gave_up or "not_retryable"),
        )
        if error is not None and stats.attempts > 1:
            error.add_note(
                f"plex-cognite: policy {self.policy.name!r} gave up after {stats.attempts} attempts"
                f" in {stats.elapsed_s:.1f} s ({stats.gave_up})"
            )
        LAST_STATS.set(stats)
        self.policy._record(stats, self.failures)
        if self.policy.on_statistics is not None:
            try:
                self.policy.on_statistics(stats)
            except Exception:
                _log.exception("retry on_statistics hook failed; ignoring it", policy=self.policy.name)
