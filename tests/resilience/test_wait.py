"""Properties of the retry wait: the first wait is `initial_delay`, jitter only adds, bounded by `max_delay`."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plex_cognite.errors import Classification, ConfigurationError, ErrorCategory
from plex_cognite.resilience import RetryAfterWait
from plex_cognite.resilience.wait import JITTER_FRACTION

waits = st.builds(
    lambda initial, max_delay, min_wait, jitter: RetryAfterWait(
        initial_delay=initial, max_delay=max(max_delay, min_wait), min_wait_s=min_wait, jitter=jitter
    ),
    initial=st.floats(0.0, 30.0),
    max_delay=st.floats(0.01, 300.0),
    min_wait=st.floats(0.001, 5.0),
    jitter=st.booleans(),
)
retry_afters = st.none() | st.floats(-1e6, 1e6, allow_nan=False) | st.just(0.0)
attempts = st.integers(1, 200)
draws = st.floats(0.0, 1.0)


@settings(max_examples=150)
@given(wait=waits, attempt=attempts, retry_after=retry_afters, u=draws)
def test_wait_is_positive_and_never_above_max_delay(
    wait: RetryAfterWait, attempt: int, retry_after: float | None, u: float
) -> None:
    value = wait.compute(attempt, retry_after, u)
    assert 0 < value <= wait.max_delay


@settings(max_examples=200)
@given(
    initial=st.floats(0.0, 30.0),
    headroom=st.floats(0.0, 300.0),
    jitter=st.booleans(),
    u=draws,
    retry_after=retry_afters,
)
def test_first_wait_is_at_least_initial_delay_and_jitter_adds_at_most_half(
    initial: float, headroom: float, jitter: bool, u: float, retry_after: float | None
) -> None:
    wait = RetryAfterWait(initial_delay=initial, max_delay=max(initial + headroom, 0.1), jitter=jitter)
    first = wait.compute(1, retry_after, u)
    assert first >= initial
    if retry_after is None or retry_after <= 0:
        assert first <= max(initial, wait.min_wait_s) * (1 + JITTER_FRACTION)


@settings(max_examples=200)
@given(wait=waits, attempt=st.integers(1, 60), u=draws, v=draws)
def test_base_never_decreases_and_every_wait_is_at_least_its_base(
    wait: RetryAfterWait, attempt: int, u: float, v: float
) -> None:
    assert wait.base(attempt) <= wait.base(attempt + 1) <= wait.max_delay
    assert wait.compute(attempt, None, u) >= wait.base(attempt)
    # Jitter on one wait never makes the next base smaller than this base.
    assert wait.compute(attempt + 1, None, v) >= wait.base(attempt)


@settings(max_examples=200)
@given(wait=waits, attempt=st.integers(1, 60))
def test_base_doubles_until_the_cap(wait: RetryAfterWait, attempt: int) -> None:
    assert math.isclose(wait.base(attempt + 1), min(wait.max_delay, 2 * wait.base(attempt)), rel_tol=1e-9)


@settings(max_examples=150)
@given(wait=waits, attempt=attempts, retry_after=st.sampled_from([None, 0.0, -5.0, -0.0]), u=draws)
def test_zero_negative_or_missing_retry_after_never_hot_loops(
    wait: RetryAfterWait, attempt: int, retry_after: float | None, u: float
) -> None:
    # Every wait is at least the floor: min_wait_s (or max_delay when that is smaller).
    assert wait.compute(attempt, retry_after, u) >= min(wait.min_wait_s, wait.max_delay)


@settings(max_examples=150)
@given(wait=waits, attempt=attempts, retry_after=st.floats(0.0, 1e6), u=draws)
def test_honours_retry_after_up_to_the_cap(wait: RetryAfterWait, attempt: int, retry_after: float, u: float) -> None:
    value = wait.compute(attempt, retry_after, u)
    if retry_after <= wait.max_delay:
        assert value >= retry_after
    else:
        assert value == wait.max_delay


def test_without_jitter_the_waits_are_initial_delay_doubling_to_the_cap() -> None:
    wait = RetryAfterWait(initial_delay=0.5, max_delay=60.0, jitter=False)
    assert [wait.compute(n, None, 0.9) for n in range(1, 10)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]


def test_jitter_adds_up_to_half_the_backoff_and_never_passes_the_cap() -> None:
    wait = RetryAfterWait(initial_delay=1.0, max_delay=60.0, min_wait_s=0.1)
    assert wait.compute(1, None, 0.0) == 1.0
    assert wait.compute(1, None, 1.0) == 1.5
    assert wait.compute(3, None, 1.0) == 6.0
    assert wait.compute(6, None, 1.0) == 48.0
    assert wait.compute(7, None, 1.0) == 60.0  # base 60 (capped), jitter cannot push it above


def test_an_initial_delay_above_max_delay_waits_max_delay() -> None:
    wait = RetryAfterWait(initial_delay=10.0, max_delay=3.0, jitter=False)
    assert wait.compute(1, None, 0.0) == 3.0


def test_older_keyword_names_are_aliases() -> None:
    wait = RetryAfterWait(initial_wait_s=2.0, max_wait_s=8.0, jitter=False)
    assert (wait.initial_delay, wait.max_delay) == (2.0, 8.0)
    assert [wait.compute(n, None, 0.0) for n in (1, 2, 3)] == [2.0, 4.0, 8.0]
    with pytest.raises(ConfigurationError, match="pass only initial_delay"):
        RetryAfterWait(initial_delay=1.0, initial_wait_s=2.0)


def test_wait_for_uses_the_classification_retry_after() -> None:
    wait = RetryAfterWait(initial_delay=0.5, max_delay=60.0, jitter=False)
    assert wait.wait_for(1, Classification(ErrorCategory.RATE_LIMITED, 30.0)) == 30.0
    assert wait.wait_for(1, Classification(ErrorCategory.RATE_LIMITED, 3600.0)) == 60.0
    assert wait.wait_for(1, Classification(ErrorCategory.RATE_LIMITED, None)) == 0.5
