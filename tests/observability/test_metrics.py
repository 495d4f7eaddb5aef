"""Metrics: recorded through the public helpers and read back by scraping the real /metrics endpoint."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from plex_cognite.core.results import ItemFailure, WriteResult
from plex_cognite.errors import PlexAPIError
from plex_cognite.observability.health import HealthServer
from plex_cognite.observability.metrics import ExtractorMetrics
from plex_cognite.resilience import CircuitBreaker, CircuitOpenError, ManualClock
from plex_cognite.typing import BreakerListener


@pytest.fixture
def metrics() -> ExtractorMetrics:
    return ExtractorMetrics()


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


@pytest.fixture
def server(metrics: ExtractorMetrics) -> Iterator[HealthServer]:
    with HealthServer(metrics) as running:
        yield running


def scrape(http: httpx.Client, server: HealthServer) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample on /metrics, keyed by (name, labels)."""
    response = http.get(f"{server.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def labels(**values: str) -> frozenset[tuple[str, str]]:
    return frozenset(values.items())


def test_recorded_counts_are_scraped(metrics: ExtractorMetrics, server: HealthServer, http: httpx.Client) -> None:
    metrics.record_read("340884", "production", 1000)
    metrics.record_read("340884", "production", 500)
    metrics.record_dead_letter("340884", "production", "validation")
    metrics.record_request("plex", "/production/v1/production-history", 200)
    metrics.record_request("plex", "/production/v1/production-history", 429)
    metrics.record_retry("plex")
    metrics.record_cache("assets", hits=7, misses=2)

    samples = scrape(http, server)

    assert samples[("plex_cognite_records_read_total", labels(pcn="340884", stream="production"))] == 1500
    key = labels(pcn="340884", stream="production", reason_kind="validation")
    assert samples[("plex_cognite_dead_letters_total", key)] == 1
    for status in ("200", "429"):
        key = labels(api="plex", endpoint="/production/v1/production-history", status=status)
        assert samples[("plex_cognite_requests_total", key)] == 1
    assert samples[("plex_cognite_retries_total", labels(api="plex"))] == 1
    assert samples[("plex_cognite_cache_hits_total", labels(cache="assets", tier="process"))] == 7
    assert samples[("plex_cognite_cache_misses_total", labels(cache="assets", tier="process"))] == 2


def test_sink_hook_counts_outcomes_and_latency(
    metrics: ExtractorMetrics, server: HealthServer, http: httpx.Client
) -> None:
    result = WriteResult(
        created=["a", "b"],
        updated=["c"],
        unchanged=["d", "e", "f"],
        failed=[ItemFailure("g", "bad"), ItemFailure("h", "no asset yet", deferred=True)],
        requests=2,
    )
    metrics.record_sink_write("events", result, 0.2)
    metrics.scoped("340884", "jobs").record_sink_write("events", result, 0.02)

    samples = scrape(http, server)

    def written(outcome: str, pcn: str = "", stream: str = "") -> float:
        key = labels(pcn=pcn, stream=stream, resource="events", outcome=outcome)
        return samples[("plex_cognite_records_written_total", key)]

    assert [written(o) for o in ("created", "updated", "unchanged", "failed", "deferred")] == [2, 1, 3, 1, 1]
    assert written("created", "340884", "jobs") == 2
    assert samples[("plex_cognite_batch_latency_seconds_count", labels(resource="events"))] == 2
    assert samples[("plex_cognite_batch_latency_seconds_sum", labels(resource="events"))] == pytest.approx(0.22)
    assert samples[("plex_cognite_batch_latency_seconds_bucket", labels(resource="events", le="0.025"))] == 1


def test_breaker_state_and_refusals_follow_a_real_breaker(
    metrics: ExtractorMetrics, server: HealthServer, http: httpx.Client
) -> None:
    listener: BreakerListener = metrics
    assert isinstance(listener, BreakerListener)
    clock = ManualClock()
    breaker = CircuitBreaker("plex", failure_threshold=1, reset_timeout_s=10, clock=clock, listeners=[metrics])

    def fail() -> None:
        raise ConnectionError("upstream down")

    with pytest.raises(ConnectionError):
        breaker.call(fail)
    opened = scrape(http, server)
    with pytest.raises(CircuitOpenError):
        breaker.call(lambda: None)
    clock.advance(10)
    assert breaker.state.value == "half_open"
    half_open = scrape(http, server)
    breaker.call(lambda: None)
    closed = scrape(http, server)

    state = ("plex_cognite_breaker_state", labels(name="plex"))
    assert (opened[state], half_open[state], closed[state]) == (2, 1, 0)
    assert closed[("plex_cognite_breaker_rejections_total", labels(name="plex"))] == 1


def test_unknown_breaker_state_is_ignored(metrics: ExtractorMetrics) -> None:
    metrics.on_state_change("cdf", "closed", "exploded")
    assert metrics.registry.get_sample_value("plex_cognite_breaker_state", {"name": "cdf"}) is None


def test_instances_use_private_registries() -> None:
    first, second = ExtractorMetrics(), ExtractorMetrics()
    first.record_read("1", "jobs", 3)
    assert first.value("records_read_total", pcn="1", stream="jobs") == 3
    assert second.value("records_read_total", pcn="1", stream="jobs") == 0


def test_shared_registry_and_namespace() -> None:
    registry = CollectorRegistry()
    metrics = ExtractorMetrics(registry, namespace="plant_a")
    metrics.record_retry("cdf")
    assert registry.get_sample_value("plant_a_retries_total", {"api": "cdf"}) == 1


def test_time_batch_and_run_outcomes(metrics: ExtractorMetrics) -> None:
    with metrics.time_batch("assets"):
        pass
    metrics.record_success("jobs", at=1_700_000_000.0)
    metrics.record_error("scrap", "timeout", seconds=3.0)
    metrics.record_error("jobs", PlexAPIError(401, "Unauthorized"))

    assert metrics.value("batch_latency_seconds_count", resource="assets") == 1
    assert metrics.value("last_success_timestamp_seconds", stream="jobs") == 1_700_000_000.0
    assert metrics.value("errors_total", stream="scrap", category="unknown") == 1
    assert metrics.value("errors_total", stream="jobs", category="fatal") == 1
    assert metrics.value("extraction_duration_seconds_count", stream="scrap") == 1


def test_openmetrics_and_process_metrics_on_request() -> None:
    metrics = ExtractorMetrics(process_metrics=True)
    metrics.record_read("1", "jobs")
    with HealthServer(metrics) as server:
        response = httpx.get(
            f"{server.url}/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}, timeout=5
        )
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert 'plex_cognite_records_read_total{pcn="1",stream="jobs"} 1.0' in response.text
    assert "plex_cognite_process_resident_memory_bytes" in response.text
    assert response.text.rstrip().endswith("# EOF")
