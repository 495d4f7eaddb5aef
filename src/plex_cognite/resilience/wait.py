"""The retry wait strategy: exponential backoff from `initial_delay`, jitter on top, raised to Retry-After, clamped."""

from __future__ import annotations

import random
from collections.abc import Callable

import tenacity

from plex_cognite.errors import Classification, ConfigurationError, ErrorCategory, classify

__all__ = ["JITTER_FRACTION", "MIN_WAIT_S", "RetryAfterWait", "default_min_wait", "resolve_alias"]

#: Jitter adds up to this fraction of the backoff to a wait (never subtracts).
JITTER_FRACTION = 0.5
#: The default smallest wait in seconds (lowered to `initial_delay` or `max_delay` when either is smaller).
MIN_WAIT_S = 0.1


def default_min_wait(initial_delay: float, max_delay: float) -> float:
    """The smallest wait when none is given: `MIN_WAIT_S`, or `initial_delay` / `max_delay` when smaller (> 0)."""
    candidates = [MIN_WAIT_S, max_delay] + ([initial_delay] if initial_delay > 0 else [])
    return min(candidates)


def resolve_alias(name: str, value: float | None, alias: str, alias_value: float | None, default: float) -> float:
    """The value of a setting that has a canonical keyword (`name`) and an older alias (`alias`).

    Raises:
        ConfigurationError: Both keywords were given with different values.
    """
    if value is not None and alias_value is not None and value != alias_value:
        raise ConfigurationError(
            f"{name}={value} and its alias {alias}={alias_value} disagree; pass only {name}", field=name
        )
    if value is not None:
        return value
    return alias_value if alias_value is not None else default


class RetryAfterWait:
    """The wait strategy: exponential backoff from `initial_delay`, jitter on top, raised to Retry-After, clamped.

    For the wait after failed attempt `n` (1-based)::

        base    = min(max_delay, max(initial_delay, min_wait_s) * 2 ** (n - 1))
        backoff = min(max_delay, base * (1 + JITTER_FRACTION * u))    u in [0, 1) (u = 0 without jitter)
        wait    = min(max_delay, max(retry_after or 0, backoff))

    So the first wait is `initial_delay` (plus jitter, which only ever adds), each later base doubles, and no wait
    is ever above `max_delay`. No wait is below `min(min_wait_s, max_delay)` either, so a `Retry-After: 0`, a
    negative or garbage header never hot-loops, and a wait is at least the server's Retry-After whenever that fits
    under `max_delay`. It is also a tenacity wait strategy (`__call__(retry_state)`).

    Args:
        initial_delay: The first wait in seconds (before jitter); an `initial_delay` above `max_delay` waits
            `max_delay`.
        max_delay: The largest single wait in seconds; also clamps the server's Retry-After.
        min_wait_s: The smallest wait in seconds; default `default_min_wait(initial_delay, max_delay)`.
        jitter: Add a random `[0, JITTER_FRACTION)` share of the backoff to each wait (False: exact backoff).
        rand: The jitter source, floats in [0, 1).
        initial_wait_s: Older name of `initial_delay` (same meaning).
        max_wait_s: Older name of `max_delay` (same meaning).
    """

    def __init__(
        self,
        *,
        initial_delay: float | None = None,
        max_delay: float | None = None,
        min_wait_s: float | None = None,
        jitter: bool = True,
        rand: Callable[[], float] = random.random,
        initial_wait_s: float | None = None,
        max_wait_s: float | None = None,
    ) -> None:
        self.initial_delay = resolve_alias("initial_delay", initial_delay, "initial_wait_s", initial_wait_s, 0.5)
        self.max_delay = resolve_alias("max_delay", max_delay, "max_wait_s", max_wait_s, 60.0)
        self.min_wait_s = min_wait_s if min_wait_s is not None else default_min_wait(self.initial_delay, self.max_delay)
        self.jitter = jitter
        self._rand = rand

    def base(self, attempt: int) -> float:
        """The backoff after failed attempt `attempt`, before jitter and Retry-After (non-decreasing in `attempt`)."""
        exponent = min(max(attempt, 1) - 1, 64)  # 2**64 already dwarfs any max_delay
        return min(self.max_delay, max(self.initial_delay, self.min_wait_s) * 2.0**exponent)

    def compute(self, attempt: int, retry_after: float | None, u: float) -> float:
        """The pure wait formula (see the class docstring); `u` is the jitter draw in [0, 1]."""
        base = self.base(attempt)
        draw = min(max(u, 0.0), 1.0) if self.jitter else 0.0
        backoff = min(self.max_delay, base * (1.0 + JITTER_FRACTION * draw))
        server = retry_after if retry_after is not None and retry_after > 0 else 0.0
        return min(self.max_delay, max(server, backoff))

    def wait_for(self, attempt: int, classification: Classification) -> float:
        """The wait after failed attempt `attempt` whose error classified as `classification`."""
        return self.compute(attempt, classification.retry_after, self._rand())

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        """Tenacity entry point: the wait after the attempt `retry_state` describes."""
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None and outcome.failed else None
        classification = classify(error) if error is not None else Classification(ErrorCategory.RETRYABLE)
        return self.wait_for(retry_state.attempt_number, classification)
