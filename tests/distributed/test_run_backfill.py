"""run_backfill end to end: real HTTP to FakePlex and FakeCDF from threads and from spawned worker processes.

After master data (the normal runner), a backfill planned in daily units gives exactly the CDF content of a full
extraction of the windowed streams; a re-run of the plan has nothing to do and writes nothing; a failed unit does
not stop the others and is the only one retried; the live watermark is never moved.
"""

from __future__ import annotations

import pickle
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from datetime import timedelta
from multiprocessing import get_context
from pathlib import Path

import pytest
import redis

from plex_cognite.config import ExtractorSettings, StateSettings
from plex_cognite.core.sync import run_sync
from plex_cognite.distributed import WINDOWED_STREAMS, UnitResult, plan_backfill, run_backfill, run_unit
from plex_cognite.errors import ConfigurationError
from plex_cognite.runner import build_state_store
from plex_cognite.testing import Fault
from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import SimulatedPlant

from .conftest import backfill_settings, cdf_mismatches, load_master_data, write_requests

DAY = timedelta(days=1)


def _live_windows(settings: ExtractorSettings, cdf: FakeCDF) -> list[object]:
    async def read() -> list[object]:
        store = build_state_store(settings, cdf.async_cognite_client())
        try:
            states = [await store.load(settings.plex.pcns[0], stream) for stream in WINDOWED_STREAMS]
        finally:
            await store.close()
        return [(s.watermark, list(s.windows), s.deferred) for s in states]

    return run_sync(read)


def _executor(kind: str) -> Executor:
    if kind == "threads":
        return ThreadPoolExecutor(max_workers=4)
    return ProcessPoolExecutor(max_workers=2, mp_context=get_context("spawn"))


@pytest.mark.parametrize(
    ("kind", "backend"),
    [("threads", "local"), ("threads", "raw"), ("processes", "redis")],
)
def test_backfill_equals_a_full_extraction_and_a_rerun_writes_nothing(
    fakes: tuple[FakePlex, FakeCDF],
    plant: SimulatedPlant,
    tmp_path: Path,
    kind: str,
    backend: str,
    request: pytest.FixtureRequest,
) -> None:
    plex, cdf = fakes
    redis_url = request.getfixturevalue("redis_url") if backend == "redis" else None
    state = StateSettings(backend=backend, path=tmp_path / "state.json", redis_url=redis_url)
    settings = backfill_settings(plex, cdf, plant, tmp_path, state)
    run_sync(lambda: load_master_data(settings))

    units = plan_backfill(settings, unit_window=DAY)
    assert len(units) == 3 * 4  # windowed streams x four days of history
    finished: list[UnitResult] = []
    with _executor(kind) as executor:
        report = run_backfill(units, settings, executor, max_in_flight=3, on_result=finished.append)

    assert report.ok, report.format_table()
    assert [r.unit for r in report.results] == units
    assert sorted(r.unit.id for r in finished) == sorted(u.id for u in units)  # progress, as units finish
    assert {r.status for r in report.results} == {"done"}
    assert report.total("written") > 0
    assert cdf_mismatches(cdf, plant) == []
    assert _live_windows(settings, cdf) == [(None, [], {})] * 3  # the live state is not touched

    cdf.reset_request_log()
    assert plan_backfill(settings, unit_window=DAY) == []
    again = run_backfill(units, settings)  # the stale plan, once more: every unit is found complete
    assert {r.status for r in again.results} == {"skipped"}
    assert again.total("written") == 0
    assert write_requests(cdf) == []


def test_a_failed_unit_does_not_stop_the_others_and_only_it_runs_again(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path
) -> None:
    plex, cdf = fakes
    settings = backfill_settings(plex, cdf, plant, tmp_path)
    run_sync(lambda: load_master_data(settings))
    plex.inject(Fault("status", status=403, path=r"scrap-entries"))

    with ThreadPoolExecutor(max_workers=4) as executor:
        first = run_backfill(plan_backfill(settings, unit_window=DAY), settings, executor)

    failed = {r.unit.stream for r in first.failed}
    assert failed == {"scrap"}
    assert len(first.failed) == 4
    assert all("403" in (r.error or "") for r in first.failed)
    assert len(first.by_status("done")) == 8

    plex.clear_faults()
    retry = plan_backfill(settings, unit_window=DAY)
    assert retry == [r.unit for r in first.failed]
    assert run_backfill(retry, settings).ok
    assert cdf_mismatches(cdf, plant) == []


def test_without_master_data_production_units_fail_saying_what_to_do(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path
) -> None:
    plex, cdf = fakes
    settings = backfill_settings(plex, cdf, plant, tmp_path)
    [unit] = plan_backfill(settings, unit_window=DAY, streams=["production"], end=plant.start + DAY)

    result = run_unit(unit, settings)

    assert result.status == "failed"
    assert "does not exist in CDF" in (result.error or "")
    assert plan_backfill(settings, unit_window=DAY, streams=["production"], end=plant.start + DAY) == [unit]
    run_sync(lambda: load_master_data(settings))
    assert run_unit(unit, settings).status == "done"


def test_a_local_state_file_is_refused_for_process_pools(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path
) -> None:
    plex, cdf = fakes
    settings = backfill_settings(plex, cdf, plant, tmp_path)
    units = plan_backfill(settings, unit_window=DAY)
    with ProcessPoolExecutor(max_workers=1) as executor, pytest.raises(ConfigurationError, match="raw") as caught:
        run_backfill(units, settings, executor)
    assert caught.value.field == "state.backend"


def test_settings_pickle_with_their_secrets(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path
) -> None:
    plex, cdf = fakes
    settings = backfill_settings(plex, cdf, plant, tmp_path)
    copy = pickle.loads(pickle.dumps(settings))
    assert copy == settings
    assert copy.plex.api_key.get_secret_value() == "test-key"
    assert "test-key" not in repr(copy)


def test_units_draw_plex_calls_from_the_shared_redis_bucket(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path, redis_url: str
) -> None:
    plex, cdf = fakes
    settings = backfill_settings(plex, cdf, plant, tmp_path, StateSettings(backend="redis", redis_url=redis_url))
    run_sync(lambda: load_master_data(settings))
    [unit] = plan_backfill(settings, unit_window=DAY, streams=["scrap"], end=plant.start + DAY)

    assert run_unit(unit, settings).status == "done"

    buckets = redis.Redis.from_url(redis_url).keys("plex-cognite:ratelimit:*")
    assert len(buckets) == 1  # one bucket per Plex API key, shared by every worker
