"""Properties of the retry wait: bounded, never a hot loop, honours Retry-After under the cap."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from plex_cognite.errors import Classification, ErrorCategory
from plex_cognite.resilience import RetryAfterWait

waits = st.builds(
    lambda initial, max_wait, min_wait, jitter: RetryAfterWait(
        initial_wait_s=initial, max_wait_s=max(max_wait, min_wait), min_wait_s=min_wait, jitter=jitter
    ),
    initial=st.floats(0.0, 30.0),
    max_wait=st.floats(0.01, 300.0),
    min_wait=st.floats(0.001, 5.0),
    jitter=st.booleans(),
)
retry_afters = st.none() | st.floats(-1e6, 1e6, allow_nan=False) | st.just(0.0)
attempts = st.integers(1, 200)
draws = st.floats(0.0, 1.0)


@settings(max_examples=150)
@given(wait=waits, attempt=attempts, retry_after=retry_afters, u=draws)
def test_wait_is_positive_and_never_above_max_wait(
    wait: RetryAfterWait, attempt: int, retry_after: float | None, u: float
) -> None:
    value = wait.compute(attempt, retry_after, u)
    assert 0 < value <= wait.max_wait_s


@settings(max_examples=150)
@given(wait=waits, attempt=attempts, retry_after=st.sampled_from([None, 0.0, -5.0, -0.0]), u=draws)
def test_zero_negative_or_missing_retry_after_never_hot_loops(
    wait: RetryAfterWait, attempt: int, retry_after: float | None, u: float
) -> None:
    # Every wait is at least the floor: min_wait_s (or max_wait_s when that is smaller).
    assert wait.compute(attempt, retry_after, u) >= min(wait.min_wait_s, wait.max_wait_s)


@settings(max_examples=150)
@given(wait=waits, attempt=attempts, retry_after=st.floats(0.0, 1e6), u=draws)
def test_honours_retry_after_up_to_the_cap(wait: RetryAfterWait, attempt: int, retry_after: float, u: float) -> None:
    value = wait.compute(attempt, retry_after, u)
    if retry_after <= wait.max_wait_s:
        assert value >= retry_after
    else:
        assert value == wait.max_wait_s


@settings(max_examples=200)
@given(wait=waits, attempt=st.integers(1, 60))
def test_backoff_ceiling_doubles_until_the_cap(wait: RetryAfterWait, attempt: int) -> None:
    ceiling = wait.compute(attempt, None, 1.0)
    following = wait.compute(attempt + 1, None, 1.0)
    assert math.isclose(following, min(wait.max_wait_s, 2 * ceiling), rel_tol=1e-9)


def test_without_jitter_the_wait_is_the_exponential_ceiling() -> None:
    wait = RetryAfterWait(initial_wait_s=0.5, max_wait_s=60.0, jitter=False)
    assert [wait.compute(n, None, 0.0) for n in range(1, 10)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]


def test_full_jitter_spans_floor_to_ceiling() -> None:
    wait = RetryAfterWait(initial_wait_s=1.0, max_wait_s=60.0, min_wait_s=0.1)
    assert wait.compute(3, None, 0.0) == 0.1
    assert wait.compute(3, None, 1.0) == 4.0


def test_wait_for_uses_the_classification_retry_after() -> None:
    wait = RetryAfterWait(initial_wait_s=0.5, max_wait_s=60.0, jitter=False)
    assert wait.wait_for(1, Classification(ErrorCategory.RATE_LIMITED, 30.0)) == 30.0
    assert wait.wait_for(1, Classification(ErrorCategory.RATE_LIMITED, 3600.0)) == 60.0
    assert wait.wait_for(1, Classification(ErrorCategory.RATE_LIMITED, None)) == 0.5
