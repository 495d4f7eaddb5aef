"""Backfill history on a Dask cluster: `python examples/backfill_with_dask.py [--config FILE] [--workers N]`.

Needs the `dask` extra (`pip install 'plex-cognite[dask]'`). Without `--config` it runs against the embedded fakes
(FakePlex serving a SimulatedPlant, FakeCDF with the state and the backfill ledger in CDF RAW) and checks the result,
so it works on a laptop in seconds. With `--config`, point it at a YAML file whose `state.backend` is `raw` or
`redis`: worker processes must share the ledger.

The plan is made once, here; each unit runs on a Dask worker process through `client.get_executor(pure=False)`
(`pure=False`: units have side effects, so Dask must never deduplicate or cache them).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from distributed import Client, LocalCluster
from plex_cognite.config import ExtractorSettings, StateSettings, load_settings
from plex_cognite.distributed import plan_backfill, run_backfill
from plex_cognite.runner import run_extractors_sync


def backfill(settings: ExtractorSettings, workers: int, unit_window: timedelta) -> bool:
    """Master data with the normal runner, then the windowed streams on a local Dask cluster."""
    snapshot = settings.extraction.model_copy(update={"streams": ["master_data", "jobs"]})
    first = run_extractors_sync(settings.model_copy(update={"extraction": snapshot}))
    print(first.format_table())
    if not first.ok:
        return False
    units = plan_backfill(settings, unit_window=unit_window)
    print(f"{len(units)} unit(s) to run on {workers} Dask worker process(es)")
    with (
        LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,  # type: ignore[no-untyped-call]
        Client(cluster) as client,  # type: ignore[no-untyped-call]
    ):
        report = run_backfill(units, settings, client.get_executor(pure=False))
    print(report.format_table())
    print(f"planned again: {len(plan_backfill(settings, unit_window=unit_window))} unit(s) left")
    return report.ok


def demo(workers: int) -> bool:
    """The same against in-process fakes, with a check of the CDF content."""
    from cognite.client import global_config

    from plex_cognite.testing.demo import demo_settings
    from plex_cognite.testing.fake_cdf import FakeCDF
    from plex_cognite.testing.fake_plex import FakePlex
    from plex_cognite.testing.plant import SimulatedPlant

    global_config.disable_pypi_version_check = True
    plant = SimulatedPlant(seed=0, pcn="340884", size="small")
    with FakePlex(plant) as plex, FakeCDF() as cdf, tempfile.TemporaryDirectory() as tmp:
        settings = demo_settings(plex.base_url, cdf, plant, Path(tmp))
        settings = settings.model_copy(update={"state": StateSettings(backend="raw")})
        ok = backfill(settings, workers, timedelta(days=1))
        expected = plant.expected_cdf()
        series = [row["externalId"] for row in cdf.timeseries]
        points = {xid: cdf.datapoints(xid) for xid in series}
        problems = expected.mismatches(cdf.assets, cdf.events, cdf.timeseries, points)
        print("CDF matches the plant" if not problems else f"{len(problems)} difference(s): {problems[:5]}")
        return ok and not problems


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--config", type=Path, help="settings YAML (state.backend raw or redis); default: fakes")
    parser.add_argument("--workers", type=int, default=2, help="Dask worker processes")
    parser.add_argument("--unit-days", type=float, default=7.0, help="days of history per unit")
    args = parser.parse_args(argv)
    if args.config is None:
        return 0 if demo(args.workers) else 1
    settings = load_settings(args.config)
    return 0 if backfill(settings, args.workers, timedelta(days=args.unit_days)) else 1


if __name__ == "__main__":
    sys.exit(main())
