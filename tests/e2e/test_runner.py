"""The runner: several PCNs at once, failure isolation, progress, and your own streams next to the built-in ones."""

from __future__ import annotations

from pathlib import Path

from plex_cognite.core.extractor import StreamReport
from plex_cognite.observability.metrics import ExtractorMetrics
from plex_cognite.runner import run_extractors
from plex_cognite.testing._faults import Fault
from plex_cognite.testing.demo import demo_settings
from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import SimulatedPlant

from .conftest import E2E_SIZE


async def test_two_pcns_run_concurrently_and_both_land_exactly(tmp_path: Path) -> None:
    first = SimulatedPlant(seed=1, pcn="340884", size=E2E_SIZE)
    second = SimulatedPlant(seed=2, pcn="77", size=E2E_SIZE)
    with FakePlex([first, second]) as plex, FakeCDF() as cdf:
        settings = demo_settings(plex.base_url, cdf, first, tmp_path)
        settings.plex.pcns = ["340884", "77"]
        seen: list[StreamReport] = []
        metrics = ExtractorMetrics()
        report = await run_extractors(settings, on_progress=seen.append, metrics=metrics)

        assert report.ok, report.format_table()
        assert {(r.pcn, r.stream) for r in report.streams} == {
            (pcn, stream) for pcn in ("340884", "77") for stream in settings.extraction.streams
        }
        expected = first.expected_cdf() | second.expected_cdf()
        problems = expected.mismatches(
            cdf.assets,
            cdf.events,
            cdf.timeseries,
            {t["externalId"]: cdf.datapoints(t["externalId"]) for t in cdf.timeseries},
        )
        assert problems == []
        assert seen  # progress callbacks fired
        assert metrics.value("last_success_timestamp_seconds", stream="jobs") > 0
        assert metrics.value("records_read_total", pcn="77", stream="jobs") > 0
        assert "total" in report.format_table()


async def test_a_failing_master_data_skips_the_linked_streams_of_that_pcn(tmp_path: Path) -> None:
    plant = SimulatedPlant(seed=1, pcn="340884", size=E2E_SIZE)
    with FakePlex(plant) as plex, FakeCDF() as cdf:
        plex.inject(Fault("status", status=404, path=r"/mdm/v1/parts"))
        report = await run_extractors(demo_settings(plex.base_url, cdf, plant, tmp_path))

        assert not report.ok
        by_stream = {r.stream: r for r in report.streams}
        assert by_stream["master_data"].error is not None
        assert "404" in by_stream["master_data"].error
        assert by_stream["jobs"].error == "skipped: master_data failed"
        assert cdf.events == []
        assert any("master_data" in line for line in report.errors)
