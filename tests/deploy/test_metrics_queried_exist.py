"""Every metric the dashboard and the alerts query exists on /metrics after a full run against the fakes."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from plex_cognite.observability.health import HealthServer
from plex_cognite.observability.metrics import ExtractorMetrics
from plex_cognite.runner import run_extractors
from plex_cognite.testing.demo import demo_settings
from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import PlantSize, SimulatedPlant
from tests.deploy._queries import alert_expressions, dashboard_expressions, family_of, metric_names

SIZE = PlantSize(parts=20, jobs=60, production_entries=300, scrap_entries=40, workcenter_status_entries=80)

Samples = dict[str, list[tuple[dict[str, str], float]]]


async def scrape_after_a_full_run(tmp_path: Path) -> tuple[set[str], Samples]:
    """Run every stream once against both fakes with metrics served, then scrape /metrics over HTTP.

    Returns the exported family names and every sample by name.
    """
    plant = SimulatedPlant(seed=3, pcn="340884", size=SIZE)
    metrics = ExtractorMetrics()
    with FakePlex(plant) as plex, FakeCDF() as cdf, HealthServer(metrics) as server:
        report = await run_extractors(demo_settings(plex.base_url, cdf, plant, tmp_path), metrics=metrics)
        assert report.ok, report.format_table()
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.get(f"{server.url}/metrics")
    assert response.status_code == 200
    families = list(text_string_to_metric_families(response.text))
    samples: Samples = {}
    for family in families:
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return {family.name for family in families}, samples


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(value for found, value in samples.get(name, []) if labels.items() <= found.items())


def test_the_dashboard_and_alerts_query_something() -> None:
    assert len(dashboard_expressions()) >= 15
    assert {"PlexCogniteRunFailing", "PlexCogniteBreakerOpen", "PlexCogniteWatermarkStale"} <= set(alert_expressions())
    for where, expression in {**dashboard_expressions(), **alert_expressions()}.items():
        assert metric_names(expression), f"{where} queries no plex_cognite metric: {expression}"


async def test_every_queried_metric_is_exported_and_the_seed_metrics_count(tmp_path: Path) -> None:
    exported, samples = await scrape_after_a_full_run(tmp_path)

    queried = {
        (where, name)
        for where, expression in {**dashboard_expressions(), **alert_expressions()}.items()
        for name in metric_names(expression)
    }
    missing = sorted((where, name) for where, name in queried if family_of(name) not in exported)
    assert missing == []

    assert total(samples, "plex_cognite_records_read_total") > 0
    assert total(samples, "plex_cognite_records_written_total", outcome="created") > 0
    assert total(samples, "plex_cognite_api_request_duration_seconds_count", api="plex") > 0
    assert total(samples, "plex_cognite_api_request_duration_seconds_count", api="cdf") > 0
    assert total(samples, "plex_cognite_rate_limiter_wait_seconds_count", api="plex") > 0
    assert total(samples, "plex_cognite_batch_latency_seconds_count") > 0
    assert total(samples, "plex_cognite_process_resident_memory_bytes") > 0
    endpoints = {
        (labels["api"], labels["endpoint"]) for labels, _ in samples["plex_cognite_api_request_duration_seconds_count"]
    }
    assert {("plex", "/production/v1/production-history/production-entries"), ("cdf", "/assets")} <= endpoints
    assert not any("340884" in endpoint for _, endpoint in endpoints)  # templates, never ids


async def test_a_full_run_fills_cache_duration_and_pass_metrics(tmp_path: Path) -> None:
    _, samples = await scrape_after_a_full_run(tmp_path)
    lookups = total(samples, "plex_cognite_cache_hits_total") + total(samples, "plex_cognite_cache_misses_total")
    assert lookups > 0
    assert total(samples, "plex_cognite_extraction_duration_seconds_count", stream="jobs") == 1
    assert total(samples, "plex_cognite_passes_total", outcome="success") == 1
    assert total(samples, "plex_cognite_last_pass_success") == 1
