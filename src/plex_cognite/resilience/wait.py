"""The retry wait strategy: exponential backoff with full jitter above a floor, raised to Retry-After, clamped."""

from __future__ import annotations

import random
from collections.abc import Callable

import tenacity

from plex_cognite.errors import Classification, ErrorCategory, classify

__all__ = ["RetryAfterWait"]


class RetryAfterWait:
    """The wait strategy: exponential backoff with full jitter above a floor, raised to Retry-After, clamped.

    For the wait after failed attempt `n` (1-based)::

        ceiling = min(max_wait_s, max(initial_wait_s, min_wait_s) * 2 ** (n - 1))
        backoff = floor + u * (ceiling - floor)   with floor = min(min_wait_s, ceiling), u in [0, 1)
                                                   (u = 1 without jitter)
        wait    = min(max_wait_s, max(retry_after or 0, backoff))

    So a wait is never below `min(min_wait_s, max_wait_s)` (a `Retry-After: 0`, a negative or garbage header never
    hot-loops), never above `max_wait_s`, and at least the server's Retry-After whenever that fits under
    `max_wait_s`. It is also a tenacity wait strategy (`__call__(retry_state)`).
    """

    def __init__(
        self,
        *,
        initial_wait_s: float = 0.5,
        max_wait_s: float = 60.0,
        min_wait_s: float = 0.1,
        jitter: bool = True,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.initial_wait_s = initial_wait_s
        self.max_wait_s = max_wait_s
        self.min_wait_s = min_wait_s
        self.jitter = jitter
        self._rand = rand

    def compute(self, attempt: int, retry_after: float | None, u: float) -> float:
        """The pure wait formula (see the class docstring); `u` is the jitter draw in [0, 1]."""
        exponent = min(max(attempt, 1) - 1, 64)  # 2**64 already dwarfs any max_wait_s
        ceiling = min(self.max_wait_s, max(self.initial_wait_s, self.min_wait_s) * 2.0**exponent)
        floor = min(self.min_wait_s, ceiling)
        draw = min(max(u, 0.0), 1.0) if self.jitter else 1.0
        backoff = floor + draw * (ceiling - floor)
        server = retry_after if retry_after is not None and retry_after > 0 else 0.0
        return min(self.max_wait_s, max(server, backoff))

    def wait_for(self, attempt: int, classification: Classification) -> float:
        """The wait after failed attempt `attempt` whose error classified as `classification`."""
        return self.compute(attempt, classification.retry_after, self._rand())

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        """Tenacity entry point: the wait after the attempt `retry_state` describes."""
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None and outcome.failed else None
        classification = classify(error) if error is not None else Classification(ErrorCategory.RETRYABLE)
        return self.wait_for(retry_state.attempt_number, classification)
