"""End-to-end benchmark: a full extraction of a big simulated plant, fakes in their own processes.

For each plant size the fakes (FakePlex serving the plant, FakeCDF) run in one child process and the extractor in
another, so the extractor's peak RSS is its own. Reports wall time, records/s, peak RSS, and CDF write requests
against the minimum possible (ceil(items/1000) per resource type + ceil(datapoints/100,000)); then a re-run over
unchanged data (must send zero writes).

    python benchmarks/bench_end_to_end.py                 # 10k-jobs and 100k-jobs plants
    python benchmarks/bench_end_to_end.py --sizes 10k     # just the small one
"""

from __future__ import annotations

import argparse
import cProfile
import math
import multiprocessing as mp
import re
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

SIZES: dict[str, dict[str, int]] = {
    # About 20k assets, 157k events, 400 series, 550k datapoints at 100k jobs (DESIGN section 10).
    "100k": {
        "buildings": 10,
        "workcenters": 200,
        "parts": 20_000,
        "jobs": 100_000,
        "production_entries": 500_000,
        "scrap_entries": 50_000,
        "workcenter_status_entries": 57_000,
        "containers": 10,
        "history_days": 90,
        "malformed_every": 997,
        "same_ms_every": 101,
        "unknown_part_every": 211,
    },
    "10k": {
        "buildings": 10,
        "workcenters": 200,
        "parts": 2_000,
        "jobs": 10_000,
        "production_entries": 50_000,
        "scrap_entries": 5_000,
        "workcenter_status_entries": 5_700,
        "containers": 10,
        "history_days": 90,
        "malformed_every": 997,
        "same_ms_every": 101,
        "unknown_part_every": 211,
    },
}

_READ = re.compile(r"/(byids|list|search|aggregate)$|/token$")


def _plant(size: str) -> Any:
    from plex_cognite.testing.plant import PlantSize, SimulatedPlant

    return SimulatedPlant(seed=1, pcn="340884", size=PlantSize(**SIZES[size]))


def _serve(size: str, conn: Any) -> None:
    from plex_cognite.testing.fake_cdf import FakeCDF
    from plex_cognite.testing.fake_plex import FakePlex

    plant = _plant(size)
    with FakePlex(plant) as plex, FakeCDF() as cdf:
        conn.send((plex.base_url, cdf.base_url))
        while True:
            command = conn.recv()
            if command == "stop":
                return
            if command == "reset":
                cdf.reset_request_log()
                conn.send(None)
            if command == "counts":
                writes: dict[str, int] = {}
                for record in cdf.request_log:
                    if record.method == "POST" and not _READ.search(record.path):
                        writes[record.path] = writes.get(record.path, 0) + 1
                points = sum(len(cdf.datapoints(t["externalId"])) for t in cdf.timeseries)
                conn.send(
                    {
                        "writes": writes,
                        "assets": len(cdf.assets),
                        "events": len(cdf.events),
                        "timeseries": len(cdf.timeseries),
                        "datapoints": points,
                    }
                )


def _extract(size: str, plex_url: str, cdf_url: str, workdir: str, conn: Any, profile: str | None = None) -> None:
    from cognite.client import global_config

    global_config.disable_pypi_version_check = True
    from plex_cognite.config import ExtractorSettings
    from plex_cognite.observability.logs import configure_logging
    from plex_cognite.runner import run_extractors_sync

    configure_logging("ERROR")

    plant = _plant(size)
    settings = ExtractorSettings.model_validate(
        {
            "plex": {
                "base_url": plex_url,
                "api_key": "test-key",
                "pcns": [plant.pcn],
                "rate_limit_per_minute": 10_000,
                "http2": False,
            },
            "cdf": {"base_url": cdf_url, "project": "test-project", "token": "test-token"},
            "extraction": {"start": plant.start, "end": plant.end, "window": "1d"},
            "state": {"path": str(Path(workdir) / "state.json")},
            "dead_letters": {"path": str(Path(workdir) / "dead.jsonl")},
            "logging": {"level": "ERROR"},
        }
    )
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    report = run_extractors_sync(settings)
    seconds = time.perf_counter() - started
    if profiler is not None and profile is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_kb = usage.ru_maxrss
    conn.send(
        {
            "ok": report.ok,
            "errors": report.errors,
            "seconds": seconds,
            "read": report.total("read"),
            "written": report.total("written"),
            "peak_rss_mb": peak_kb / 1024,
            "cpu": usage.ru_utime + usage.ru_stime,
        }
    )


def run_size(size: str, profile: str | None = None) -> dict[str, Any]:
    context = mp.get_context("spawn")
    parent, child = context.Pipe()
    server = context.Process(target=_serve, args=(size, child), daemon=True)
    server.start()
    plex_url, cdf_url = parent.recv()
    results: dict[str, Any] = {"size": size}
    with tempfile.TemporaryDirectory() as workdir:
        for label in ("first", "rerun"):
            mine, theirs = context.Pipe()
            where = f"{profile}.{size}.{label}.prof" if profile else None
            worker = context.Process(target=_extract, args=(size, plex_url, cdf_url, workdir, theirs, where))
            parent.send("reset")
            parent.recv()
            worker.start()
            theirs.close()
            try:
                outcome = mine.recv()  # EOFError when the worker died (its traceback is on stderr)
            except EOFError:
                raise SystemExit(f"the extractor process for {size} failed (exit code {worker.exitcode})") from None
            worker.join()
            parent.send("counts")
            outcome["cdf"] = parent.recv()
            results[label] = outcome
    parent.send("stop")
    server.join(timeout=30)
    return results


def _minimum(cdf: dict[str, Any]) -> int:
    return (
        math.ceil(cdf["assets"] / 1000)
        + math.ceil(cdf["events"] / 1000)
        + math.ceil(cdf["timeseries"] / 1000)
        + math.ceil(cdf["datapoints"] / 100_000)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["10k", "100k"], choices=sorted(SIZES))
    parser.add_argument("--profile", metavar="PREFIX", help="write cProfile stats of each extractor run to PREFIX.*")
    args = parser.parse_args()
    rss: dict[str, float] = {}
    for size in args.sizes:
        result = run_size(size, args.profile)
        first, rerun = result["first"], result["rerun"]
        cdf = first["cdf"]
        writes = sum(cdf["writes"].values())
        floor = _minimum(cdf)
        rss[size] = first["peak_rss_mb"]
        print(
            f"== plant {size} jobs: {SIZES[size]['jobs']} jobs, {SIZES[size]['production_entries']} production entries"
        )
        print(f"   ok={first['ok']} errors={first['errors']}")
        print(
            f"   wall {first['seconds']:.1f} s (extractor CPU {first['cpu']:.1f} s), "
            f"{first['read'] / first['seconds']:.0f} records/s read, "
            f"{first['written']} items written, peak RSS {first['peak_rss_mb']:.0f} MB"
        )
        print(
            f"   CDF: {cdf['assets']} assets, {cdf['events']} events, {cdf['timeseries']} series, "
            f"{cdf['datapoints']} datapoints"
        )
        print(f"   write requests {writes} vs minimum {floor} (ratio {writes / max(floor, 1):.2f}): {cdf['writes']}")
        rerun_writes = sum(rerun["cdf"]["writes"].values())
        print(f"   re-run over unchanged data: {rerun['seconds']:.1f} s, {rerun_writes} write requests")
    if "10k" in rss and "100k" in rss:
        print(f"== peak RSS growth 10k -> 100k jobs: {rss['100k'] / rss['10k']:.2f}x")


if __name__ == "__main__":
    main()
