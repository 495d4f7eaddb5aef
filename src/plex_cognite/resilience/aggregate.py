"""Count and sample errors by category, source and type over a sliding window, in bounded memory.

A run meets thousands of similar errors (every 503 of an outage, every malformed row of a bad export); logging
each one drowns the log. `ErrorAggregator.record()` is cheap and thread-safe, and `summary()` gives the counts
of the last `window_s` seconds plus a few example messages per kind, to log once per batch or expose as metrics.

Memory is bounded: counts live in `buckets` fixed time slots per key, samples in a deque of
`max_samples_per_key`, and at most `max_keys` kinds are tracked (further kinds are only counted as overflow).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from plex_cognite.errors import Classification, ErrorCategory, classify
from plex_cognite.resilience._clock import Clock, monotonic

__all__ = ["ErrorAggregator", "ErrorKindSummary", "ErrorSample", "ErrorSummary"]

_MESSAGE_LIMIT = 300


@dataclass(frozen=True, slots=True)
class ErrorSample:
    """One example error (message truncated; our errors carry no secrets)."""

    at: float
    message: str
    status: int | None = None


@dataclass(frozen=True, slots=True)
class ErrorKindSummary:
    """Errors of one kind (category, source, type) within the window.

    Attributes:
        category: The `ErrorCategory` value (`"retryable"`, ...).
        source: Where they came from (`"plex"`, `"cdf"`, a stream name, ...).
        error_type: The exception class name.
        count: How many were recorded within the window.
        last_at: Clock reading of the most recent one.
        samples: Up to `max_samples_per_key` recent examples within the window, oldest first.
    """

    category: str
    source: str
    error_type: str
    count: int
    last_at: float
    samples: tuple[ErrorSample, ...]


@dataclass(frozen=True, slots=True)
class ErrorSummary:
    """What `ErrorAggregator.summary()` returns.

    Attributes:
        window_s: The window the counts cover.
        total: Errors recorded within the window (overflow included).
        by_category: Window counts by category value.
        by_source: Window counts by source.
        by_type: Window counts by exception class name.
        kinds: One entry per kind seen in the window, most frequent first.
        overflow: Window errors of kinds that were not tracked because `max_keys` was reached.
        lifetime_total: Every error ever recorded (a monotonic counter, for metrics).
    """

    window_s: float
    total: int
    by_category: dict[str, int] = field(default_factory=dict)
    by_source: dict[str, int] = field(default_factory=dict)
    by_type: dict[str, int] = field(default_factory=dict)
    kinds: tuple[ErrorKindSummary, ...] = ()
    overflow: int = 0
    lifetime_total: int = 0

    def as_log_fields(self) -> dict[str, object]:
        """A flat, JSON-friendly dict for one structlog event (samples shortened to their messages)."""
        return {
            "window_s": self.window_s,
            "errors_total": self.total,
            "errors_by_category": self.by_category,
            "errors_by_source": self.by_source,
            "errors_by_type": self.by_type,
            "errors_overflow": self.overflow,
            "error_examples": {
                f"{k.category}/{k.source}/{k.error_type}": [s.message for s in k.samples] for k in self.kinds
            },
        }


_Key = tuple[str, str, str]


class _Kind:
    __slots__ = ("counts", "last_at", "samples")

    def __init__(self, buckets: int, samples: int) -> None:
        # (slot number, count) pairs, oldest first; at most `buckets` of them.
        self.counts: deque[list[int]] = deque(maxlen=buckets)
        self.samples: deque[ErrorSample] = deque(maxlen=samples)
        self.last_at = 0.0


class ErrorAggregator:
    """Thread-safe sliding-window error counts and samples (see the module docstring).

    Args:
        window_s: Length of the sliding window in seconds.
        max_samples_per_key: Example errors kept per kind.
        max_keys: Kinds (category, source, type) tracked at once.
        buckets: Time slots per window; counts age out one slot (`window_s / buckets`) at a time.
        clock: Monotonic seconds; tests pass a `ManualClock`.
    """

    def __init__(
        self,
        window_s: float = 300.0,
        max_samples_per_key: int = 5,
        *,
        max_keys: int = 256,
        buckets: int = 30,
        clock: Clock | None = None,
    ) -> None:
        if not window_s > 0 or buckets < 1 or max_keys < 1 or max_samples_per_key < 0:
            raise ValueError("window_s must be > 0, buckets and max_keys >= 1, max_samples_per_key >= 0")
        self.window_s = window_s
        self.max_samples_per_key = max_samples_per_key
        self.max_keys = max_keys
        self._buckets = buckets
        self._slot_s = window_s / buckets
        self._clock = clock or monotonic
        self._lock = threading.Lock()
        self._kinds: dict[_Key, _Kind] = {}
        self._overflow: deque[list[int]] = deque(maxlen=buckets)
        self._lifetime = 0

    def record(self, exc: BaseException, *, source: str = "unknown") -> Classification:
        """Count `exc` (and keep it as a sample) under its category, `source` and type; return its classification."""
        classification = classify(exc) if isinstance(exc, Exception) else Classification(ErrorCategory.FATAL)
        key: _Key = (classification.category.value, source, type(exc).__name__)
        now = self._clock()
        slot = self._slot(now)
        sample = ErrorSample(now, str(exc)[:_MESSAGE_LIMIT], classification.status)
        with self._lock:
            self._lifetime += 1
            kind = self._kinds.get(key)
            if kind is None:
                if len(self._kinds) >= self.max_keys:
                    self._forget_expired(slot)
                if len(self._kinds) >= self.max_keys:
                    _add(self._overflow, slot)
                    return classification
                kind = self._kinds[key] = _Kind(self._buckets, self.max_samples_per_key)
            _add(kind.counts, slot)
            kind.samples.append(sample)
            kind.last_at = now
        return classification

    def summary(self) -> ErrorSummary:
        """Counts and samples of the last `window_s` seconds."""
        now = self._clock()
        oldest = self._slot(now) - self._buckets + 1
        kinds: list[ErrorKindSummary] = []
        by_category: dict[str, int] = {}
        by_source: dict[str, int] = {}
        by_type: dict[str, int] = {}
        with self._lock:
            self._forget_expired(oldest + self._buckets - 1)
            for (category, source, error_type), kind in self._kinds.items():
                count = sum(n for slot, n in kind.counts if slot >= oldest)
                if not count:
                    continue
                samples = tuple(s for s in kind.samples if s.at > now - self.window_s)
                kinds.append(ErrorKindSummary(category, source, error_type, count, kind.last_at, samples))
                by_category[category] = by_category.get(category, 0) + count
                by_source[source] = by_source.get(source, 0) + count
                by_type[error_type] = by_type.get(error_type, 0) + count
            overflow = sum(n for slot, n in self._overflow if slot >= oldest)
            lifetime = self._lifetime
        kinds.sort(key=lambda k: (-k.count, k.category, k.source, k.error_type))
        return ErrorSummary(
            window_s=self.window_s,
            total=sum(k.count for k in kinds) + overflow,
            by_category=by_category,
            by_source=by_source,
            by_type=by_type,
            kinds=tuple(kinds),
            overflow=overflow,
            lifetime_total=lifetime,
        )

    def clear(self) -> None:
        """Forget everything (the lifetime total included)."""
        with self._lock:
            self._kinds.clear()
            self._overflow.clear()
            self._lifetime = 0

    def _slot(self, now: float) -> int:
        return int(now // self._slot_s)

    def _forget_expired(self, current_slot: int) -> None:
        """Drop kinds with no count inside the window (caller holds the lock)."""
        oldest = current_slot - self._buckets + 1
        for key in [k for k, kind in self._kinds.items() if not kind.counts or kind.counts[-1][0] < oldest]:
            del self._kinds[key]


def _add(counts: deque[list[int]], slot: int) -> None:
    if counts and counts[-1][0] == slot:
        counts[-1][1] += 1
    else:
        counts.append([slot, 1])
