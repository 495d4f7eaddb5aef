"""run_backfill on dask.distributed's executor (`client.get_executor(pure=False)`); skipped without the dask extra."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from plex_cognite.config import StateSettings
from plex_cognite.core.sync import run_sync
from plex_cognite.distributed import plan_backfill, run_backfill
from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import SimulatedPlant

from .conftest import backfill_settings, cdf_mismatches, load_master_data

distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed (extra: plex-cognite[dask])")


def test_backfill_runs_on_a_dask_executor(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path, redis_url: str
) -> None:
    plex, cdf = fakes
    settings = backfill_settings(plex, cdf, plant, tmp_path, StateSettings(backend="redis", redis_url=redis_url))
    run_sync(lambda: load_master_data(settings))
    units = plan_backfill(settings, unit_window=timedelta(days=2))

    with (
        distributed.LocalCluster(n_workers=1, threads_per_worker=3, processes=False, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        report = run_backfill(units, settings, client.get_executor(pure=False))

    assert report.ok, report.format_table()
    assert cdf_mismatches(cdf, plant) == []
    assert plan_backfill(settings, unit_window=timedelta(days=2)) == []
