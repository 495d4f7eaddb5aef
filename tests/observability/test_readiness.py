"""/readyz: 200 after a good pass, 503 with reasons while a breaker is open, after a failed pass, or when stale."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from plex_cognite.config import ExtractorSettings
from plex_cognite.errors import PlexAPIError
from plex_cognite.observability.health import HealthServer, Readiness
from plex_cognite.observability.metrics import ExtractorMetrics
from plex_cognite.resilience import CircuitBreaker, ManualClock


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


def ready(http: httpx.Client, server: HealthServer) -> tuple[int, dict[str, Any]]:
    response = http.get(f"{server.url}/readyz")
    assert response.headers["content-type"] == "application/json"
    return response.status_code, response.json()


def test_ready_after_a_good_pass_and_not_while_a_breaker_is_open(http: httpx.Client) -> None:
    clock = ManualClock(1_735_732_800.0)
    metrics = ExtractorMetrics(readiness=Readiness(max_age_s=7200, clock=clock))
    breaker_clock = ManualClock()
    breaker = CircuitBreaker(
        "plex-connect", failure_threshold=1, reset_timeout_s=30, clock=breaker_clock, listeners=[metrics]
    )
    with HealthServer(metrics) as server:
        metrics.record_pass(ok=True, seconds=12.5)
        assert ready(http, server) == (
            200,
            {"ready": True, "reasons": [], "last_success": "2025-01-01T12:00:00Z", "breakers": {}},
        )

        with pytest.raises(ConnectionError):
            breaker.call(_fail)
        status, body = ready(http, server)
        assert (status, body["ready"], body["reasons"]) == (503, False, ["circuit breaker plex-connect is open"])
        assert body["breakers"] == {"plex-connect": "open"}

        breaker_clock.advance(30)
        breaker.call(lambda: None)  # the half-open trial succeeds and closes it
        status, body = ready(http, server)
        assert (status, body["reasons"], body["breakers"]) == (200, [], {"plex-connect": "closed"})


def _fail() -> None:
    raise ConnectionError("upstream down")


def test_a_failed_pass_is_not_ready_until_the_next_good_one(http: httpx.Client) -> None:
    metrics = ExtractorMetrics()
    with HealthServer(metrics) as server:
        error = PlexAPIError(401, "Unauthorized, sent Bearer abc.def.ghi", request_id="r-1")
        metrics.record_pass(ok=False, seconds=1.0, reason=error)
        status, body = ready(http, server)
        assert status == 503
        [reason] = body["reasons"]
        assert reason.startswith("last pass failed: PlexAPIError: Plex API error 401")
        assert "abc.def.ghi" not in reason
        assert metrics.value("last_pass_success") == 0
        assert metrics.value("passes_total", outcome="failure") == 1

        metrics.record_pass(ok=True, seconds=1.0)
        assert ready(http, server)[0] == 200
        assert metrics.value("last_pass_success") == 1
        assert metrics.value("extraction_duration_seconds_count", stream="all") == 2


def test_stale_success_and_a_first_pass_that_never_ends_are_not_ready() -> None:
    clock = ManualClock(1000.0)
    readiness = Readiness(max_age_s=3600, clock=clock)
    assert readiness.check() == (True, [])  # the first pass is still running, within the allowed time
    clock.advance(3601)
    assert readiness.check() == (False, ["no pass finished in 3601s (allowed 3600s)"])

    readiness.mark_pass_succeeded()
    assert readiness.check() == (True, [])
    clock.advance(7200)
    assert readiness.check() == (False, ["no successful pass for 7200s (allowed 3600s)"])


def test_long_failure_reasons_are_one_short_line() -> None:
    readiness = Readiness()
    readiness.mark_pass_failed("first line\n" + "x" * 1000)
    [reason] = readiness.check()[1]
    assert len(reason) == len("last pass failed: ") + 300
    assert "\n" not in reason


def test_max_age_defaults_to_twice_the_interval() -> None:
    settings = ExtractorSettings.model_validate(
        {
            "plex": {"api_key": "k", "pcns": ["1"]},
            "cdf": {"base_url": "https://api.cognitedata.com", "project": "p", "token": "t"},
            "extraction": {"start": "2025-01-01T00:00:00Z", "interval": "30m"},
        }
    )
    assert Readiness.from_settings(settings).max_age_s == timedelta(hours=1).total_seconds()
    settings.metrics.ready_max_age = timedelta(hours=3)
    assert Readiness.from_settings(settings).max_age_s == 3 * 3600


def test_max_age_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_age_s"):
        Readiness(max_age_s=0)
