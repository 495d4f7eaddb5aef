"""Under injected faults on both APIs (429s, 5xx, dropped connections, commit-then-fail) the result is exact."""

from __future__ import annotations

from pathlib import Path

from plex_cognite.testing._faults import Fault
from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import SimulatedPlant

from .conftest import mismatches, run, write_requests


async def test_faults_on_both_apis_leave_cdf_exactly_as_expected(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path
) -> None:
    plex, cdf = fakes
    cdf_faults = [
        Fault("status", status=429, retry_after="0.05", method="POST", path=r"^/events$", times=2),
        Fault("status", status=503, method="POST", path=r"^/assets$", times=2),
        Fault("commit_then_fail", method="POST", path=r"^/events$", times=2),
        Fault("commit_then_fail", method="POST", path=r"^/timeseries$", times=1),
        Fault("commit_then_fail", method="POST", path=r"^/timeseries/data$", times=2),
        Fault("drop", method="POST", path=r"^/assets/byids$", times=1),
    ]
    plex_faults = [
        Fault("status", status=429, retry_after="0.05", path=r"/scheduling/v1/jobs", times=2),
        Fault("status", status=503, path=r"production-entries", times=3),
        Fault("status", status=502, path=r"workcenter-status-entries", times=2),
        Fault("drop", path=r"/mdm/v1/parts", times=1),
    ]
    for fault in cdf_faults:
        cdf.inject(fault)
    for fault in plex_faults:
        plex.inject(fault)

    report = await run(plex, cdf, plant, tmp_path)

    assert report.ok, report.format_table()
    assert mismatches(cdf, plant, tmp_path, plex) == []
    hit = [r for r in cdf.request_log if r.fault is not None]
    assert len(hit) >= 8  # the faults did fire
    # and nothing is left to do: the next run writes nothing
    cdf.clear_faults()
    plex.clear_faults()
    cdf.reset_request_log()
    again = await run(plex, cdf, plant, tmp_path)
    assert again.ok
    assert write_requests(cdf) == []


async def test_master_data_reads_at_once_but_reports_the_error_of_the_first_read_as_a_sequential_run_would(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path
) -> None:
    plex, cdf = fakes
    # Buildings, workcenters and parts are read at once; the buildings read fails last in time.
    plex.inject(Fault("latency", delay_s=0.3, path=r"/mdm/v1/buildings"))
    plex.inject(Fault("status", status=403, path=r"/mdm/v1/buildings"))
    plex.inject(Fault("status", status=403, path=r"/production/v1/production-definitions/workcenters"))
    plex.inject(Fault("status", status=403, path=r"/mdm/v1/parts"))

    report = await run(plex, cdf, plant, tmp_path, streams=["master_data"])

    [error] = report.errors
    assert "master_data" in error, error
    assert "/mdm/v1/buildings" in error, error
    assert cdf.assets == []  # nothing is written without its parents
