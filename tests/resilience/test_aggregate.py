"""ErrorAggregator: counts by category, source and type over a sliding window, in bounded memory."""

from __future__ import annotations

import threading

import httpx
import pytest
from cognite.client import exceptions as cex

from plex_cognite.errors import RecordValidationError
from plex_cognite.resilience import CircuitOpenError, ErrorAggregator, ManualClock

from ._helpers import status_error


def test_summary_counts_by_category_source_and_type() -> None:
    clock = ManualClock()
    errors = ErrorAggregator(window_s=300.0, clock=clock)
    for _ in range(3):
        errors.record(status_error(503), source="plex")
    errors.record(httpx.ConnectError("refused"), source="plex")
    errors.record(cex.CogniteAPIError("slow down", code=429), source="cdf")
    classification = errors.record(RecordValidationError("jobNo is null", payload={"id": 1}), source="plex:jobs")
    assert classification.category.value == "skippable"
    summary = errors.summary()
    assert summary.total == 6
    assert summary.by_category == {"retryable": 4, "rate_limited": 1, "skippable": 1}
    assert summary.by_source == {"plex": 4, "cdf": 1, "plex:jobs": 1}
    assert summary.by_type == {
        "HTTPStatusError": 3,
        "ConnectError": 1,
        "CogniteAPIError": 1,
        "RecordValidationError": 1,
    }
    top = summary.kinds[0]
    assert (top.category, top.source, top.error_type, top.count) == ("retryable", "plex", "HTTPStatusError", 3)
    assert top.samples[0].status == 503
    assert "503" in top.samples[0].message


def test_counts_slide_out_of_the_window() -> None:
    clock = ManualClock()
    errors = ErrorAggregator(window_s=60.0, buckets=6, clock=clock)
    errors.record(TimeoutError("early"), source="plex")
    clock.advance(30.0)
    errors.record(TimeoutError("later"), source="plex")
    assert errors.summary().total == 2
    clock.advance(35.0)  # the first one is now older than the window
    summary = errors.summary()
    assert summary.total == 1
    assert [s.message for s in summary.kinds[0].samples] == ["later"]
    clock.advance(60.0)
    assert errors.summary().total == 0
    assert errors.summary().kinds == ()
    assert errors.summary().lifetime_total == 2


def test_memory_is_bounded_samples_buckets_and_keys() -> None:
    clock = ManualClock()
    errors = ErrorAggregator(window_s=60.0, max_samples_per_key=3, max_keys=2, buckets=4, clock=clock)
    for i in range(1000):
        clock.advance(0.5)
        errors.record(TimeoutError(f"timeout {i}"), source="plex")
    errors.record(ConnectionError("reset"), source="plex")
    errors.record(CircuitOpenError("plex", 3.0), source="plex")  # a third kind: counted as overflow only
    summary = errors.summary()
    assert len(summary.kinds) == 2
    timeouts = next(k for k in summary.kinds if k.error_type == "TimeoutError")
    assert [s.message for s in timeouts.samples] == ["timeout 997", "timeout 998", "timeout 999"]
    assert timeouts.count <= 120  # only the last window's worth (60 s at 2 per second)
    assert summary.overflow == 1
    assert summary.total == timeouts.count + 1 + 1
    assert all(len(kind.counts) <= 4 for kind in errors._kinds.values())


def test_expired_kinds_make_room_for_new_ones() -> None:
    clock = ManualClock()
    errors = ErrorAggregator(window_s=10.0, max_keys=1, buckets=2, clock=clock)
    errors.record(TimeoutError(), source="a")
    clock.advance(30.0)
    errors.record(TimeoutError(), source="b")
    summary = errors.summary()
    assert summary.by_source == {"b": 1}
    assert summary.overflow == 0


def test_log_fields_are_flat_and_json_friendly() -> None:
    import json

    errors = ErrorAggregator(clock=ManualClock())
    errors.record(status_error(502), source="plex")
    fields = errors.summary().as_log_fields()
    assert fields["errors_total"] == 1
    assert json.loads(json.dumps(fields))["error_examples"]["retryable/plex/HTTPStatusError"]


def test_long_messages_are_truncated() -> None:
    errors = ErrorAggregator(clock=ManualClock())
    errors.record(RuntimeError("x" * 10_000), source="plex")
    assert len(errors.summary().kinds[0].samples[0].message) == 300


def test_record_is_thread_safe() -> None:
    errors = ErrorAggregator(clock=ManualClock())

    def work() -> None:
        for _ in range(2000):
            errors.record(TimeoutError(), source="plex")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors.summary().total == 16_000
    errors.clear()
    assert errors.summary().lifetime_total == 0


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="window_s"):
        ErrorAggregator(window_s=0)
