"""/healthz and /readyz around real runs against the fakes: ready after a good pass, not ready while the Plex
circuit breaker is open, alive throughout."""

from __future__ import annotations

from pathlib import Path

import httpx

from plex_cognite.observability.health import HealthServer, Readiness
from plex_cognite.observability.metrics import ExtractorMetrics
from plex_cognite.runner import run_extractors
from plex_cognite.testing._faults import Fault
from plex_cognite.testing.demo import demo_settings
from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import PlantSize, SimulatedPlant

SIZE = PlantSize(parts=10, jobs=20, production_entries=60, scrap_entries=10, workcenter_status_entries=20)


async def test_ready_after_a_good_pass_then_not_ready_while_plex_s_breaker_is_open(tmp_path: Path) -> None:
    plant = SimulatedPlant(seed=4, pcn="340884", size=SIZE)
    metrics = ExtractorMetrics(readiness=Readiness(max_age_s=3600))
    with FakePlex(plant) as plex, FakeCDF() as cdf, HealthServer(metrics) as server:
        settings = demo_settings(plex.base_url, cdf, plant, tmp_path)
        settings.plex.breaker.failure_threshold = 2
        settings.plex.breaker.reset_timeout_s = 600
        settings.plex.retry.max_attempts = 2
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            report = await run_extractors(settings, metrics=metrics)
            metrics.record_pass(ok=report.ok, seconds=report.duration_s)  # what the CLI does after each pass
            ready = await http.get("/readyz")
            assert (ready.status_code, ready.json()["reasons"]) == (200, [])

            plex.inject(Fault("status", status=503))
            failed = await run_extractors(settings, metrics=metrics)
            assert not failed.ok
            ready = await http.get("/readyz")
            assert ready.status_code == 503
            assert "circuit breaker plex-connect is open" in ready.json()["reasons"]
            assert metrics.value("breaker_state", name="plex-connect") == 2

            alive = await http.get("/healthz")
            assert (alive.status_code, alive.json()["status"]) == (200, "degraded")
