"""End-to-end benchmark: a full extraction of a big simulated plant, fakes in their own processes.

For each plant size FakePlex (serving the plant) and FakeCDF each run in a child process of their own and the
extractor in another, so the extractor's peak RSS is its own and neither fake shares a core-bound process with the
other (on a 2-core machine they still compete for cores). Reports wall time, records/s, peak RSS, and CDF write requests
against the minimum possible (ceil(items/1000) per resource type + ceil(datapoints/100,000)); then a re-run over
unchanged data (must send zero writes).

    python benchmarks/bench_end_to_end.py                 # 10k-jobs and 100k-jobs plants
    python benchmarks/bench_end_to_end.py --sizes 10k     # just the small one
    python benchmarks/bench_end_to_end.py --sizes 100k --compare        # + extractor-utils peer and raw SDK
    python benchmarks/bench_end_to_end.py --sizes 100k --compare --wan  # the same with 200 ms per request
    python benchmarks/bench_end_to_end.py --sizes 100k --passes 4       # + continuous mode: RSS after each pass
    python benchmarks/bench_end_to_end.py --sizes 100k --compare --repeat 3  # medians of 3 library and raw-SDK runs

`--compare` also runs, against the same fakes (CDF emptied before each): the same extraction written the usual way
on cognite-extractor-utils' upload queues (`peer_extractor_utils.py`, in `benchmarks/.venv-peer`, created on first
use: extractor-utils requires cognite-sdk < 8), and the raw-SDK ceiling (bulk creates of the plant's expected
objects, built and linked before the clock starts). `--profile PREFIX` writes cProfile stats of each library run.

`--repeat N` runs the library's first run (and, with `--compare`, the raw-SDK ceiling) N times, CDF and state emptied
before each, and reports the median with the range: on a shared 2-core machine one run's wall time varies by about
10%, more than most single changes are worth. The peer, the re-run and the continuous passes run once.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import math
import multiprocessing as mp
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SIZES: dict[str, dict[str, int]] = {
    # About 20k assets, 157k events, 400 series, 550k datapoints at 100k jobs: the plant the performance goals name.
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


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _answer_commands(
    conn: Any, *, reset: Callable[[], object], wipe: Callable[[], object], counts: Callable[[float], object]
) -> None:
    """Answer the benchmark's commands until `stop`: `reset` / `wipe` restart the CPU clock, `counts` gets its time."""
    started = _cpu()
    while (command := conn.recv()) != "stop":
        if command == "counts":
            conn.send(counts(_cpu() - started))
            continue
        (reset if command == "reset" else wipe)()
        started = _cpu()
        conn.send(None)


def _serve_plex(size: str, latency_s: float, conn: Any) -> None:
    """FakePlex serving the plant, in its own process (so it competes with the extractor only for cores)."""
    from plex_cognite.testing.fake_plex import FakePlex

    with FakePlex(_plant(size), latency_s=latency_s) as plex:
        conn.send(plex.base_url)
        _answer_commands(conn, reset=lambda: None, wipe=lambda: None, counts=lambda cpu: cpu)


def _serve_cdf(latency_s: float, conn: Any) -> None:
    """FakeCDF in its own process; answers with what landed (write requests per path, resources) and its CPU."""
    from plex_cognite.testing.fake_cdf import FakeCDF

    with FakeCDF(latency_s=latency_s) as cdf:

        def counts(cpu: float) -> dict[str, Any]:
            writes: dict[str, int] = {}
            reads: dict[str, int] = {}
            for record in cdf.request_log:
                kind = writes if record.method == "POST" and not _READ.search(record.path) else reads
                kind[record.path] = kind.get(record.path, 0) + 1
            return {
                "writes": writes,
                "reads": reads,
                "assets": len(cdf.assets),
                "events": len(cdf.events),
                "timeseries": len(cdf.timeseries),
                "datapoints": sum(len(cdf.datapoints(t["externalId"])) for t in cdf.timeseries),
                "cdf_cpu": cpu,
            }

        conn.send(cdf.base_url)
        _answer_commands(conn, reset=cdf.reset_request_log, wipe=cdf.reset, counts=counts)


class _Fakes:
    """FakePlex and FakeCDF, each in its own process, driven by the same commands."""

    def __init__(self, context: Any, size: str, latency_s: float) -> None:
        self._plex, plex_end = context.Pipe()
        self._cdf, cdf_end = context.Pipe()
        self._workers = [
            context.Process(target=_serve_plex, args=(size, latency_s, plex_end), daemon=True),
            context.Process(target=_serve_cdf, args=(latency_s, cdf_end), daemon=True),
        ]
        for worker in self._workers:
            worker.start()
        self.plex_url: str = self._plex.recv()
        self.cdf_url: str = self._cdf.recv()

    def send(self, command: str) -> Any:
        """Send `command` to both fakes; the answer is FakeCDF's (for counts, with FakePlex's CPU as `plex_cpu`)."""
        self._plex.send(command)
        self._cdf.send(command)
        if command == "stop":
            for worker in self._workers:
                worker.join(timeout=30)
            return None
        plex_cpu = self._plex.recv()
        answer = self._cdf.recv()
        if command == "counts":
            answer["plex_cpu"] = plex_cpu
        return answer


def _settings(size: str, plex_url: str, cdf_url: str, workdir: str) -> Any:
    from plex_cognite.config import ExtractorSettings

    plant = _plant(size)
    return ExtractorSettings.model_validate(
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


def _extract(size: str, plex_url: str, cdf_url: str, workdir: str, profile: str | None, conn: Any) -> None:
    from cognite.client import global_config

    global_config.disable_pypi_version_check = True
    from plex_cognite.observability.logs import configure_logging
    from plex_cognite.runner import run_extractors_sync

    configure_logging("ERROR")

    settings = _settings(size, plex_url, cdf_url, workdir)
    gc_clock = _GcClock()
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
            "state_mib": (Path(workdir) / "state.json").stat().st_size / 2**20,
            "gc": gc_clock.summary(),
            "streams": {stream.stream: stream.duration_s for stream in report.streams},
        }
    )


class _GcClock:
    """Time the cyclic garbage collector spends, by generation (through `gc.callbacks`)."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.runs = [0, 0, 0]
        self._started = 0.0
        gc.callbacks.append(self._tick)

    def _tick(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds[info["generation"]] += time.perf_counter() - self._started
            self.runs[info["generation"]] += 1

    def summary(self) -> str:
        return ", ".join(f"gen{g} {n}x {s:.1f} s" for g, (n, s) in enumerate(zip(self.runs, self.seconds, strict=True)))


def _rss_mib() -> float:
    """The current resident set size of this process (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def _passes(size: str, plex_url: str, cdf_url: str, workdir: str, passes: int, conn: Any) -> None:
    """Continuous mode: `passes` passes in one process and one event loop with one CDF client, as `plex-cognite run`
    does; the first pass extracts everything, the later ones run over unchanged data."""
    import asyncio

    from cognite.client import global_config

    global_config.disable_pypi_version_check = True
    from plex_cognite.cdf.client import build_async_cognite_client
    from plex_cognite.observability.logs import configure_logging
    from plex_cognite.runner import run_extractors

    configure_logging("ERROR")
    settings = _settings(size, plex_url, cdf_url, workdir)

    async def run() -> list[dict[str, Any]]:
        client = build_async_cognite_client(settings.cdf)
        rows: list[dict[str, Any]] = []
        for _ in range(passes):
            started = time.perf_counter()
            report = await run_extractors(settings, cognite_client=client)
            rows.append(
                {
                    "ok": report.ok,
                    "seconds": time.perf_counter() - started,
                    "written": report.total("written"),
                    "rss_mb": _rss_mib(),
                    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                }
            )
        return rows

    conn.send({"passes": asyncio.run(run())})


def _raw_sdk(size: str, cdf_url: str, conn: Any) -> None:
    """The ceiling: the cognite-sdk bulk-creating the plant's expected objects, built before the clock starts."""
    from cognite.client import ClientConfig, CogniteClient, global_config
    from cognite.client.credentials import Token
    from cognite.client.data_classes import AssetWrite, EventWrite, TimeSeriesWrite

    global_config.disable_pypi_version_check = True
    plant = _plant(size)
    expected = plant.expected_cdf()
    depth: dict[str, int] = {}

    def level(xid: str) -> int:
        if xid not in depth:
            parent = expected.assets[xid].parent_external_id
            depth[xid] = 0 if parent is None else level(parent) + 1
        return depth[xid]

    levels: dict[int, list[AssetWrite]] = {}
    for asset in expected.assets.values():
        levels.setdefault(level(asset.external_id), []).append(
            AssetWrite(
                external_id=asset.external_id,
                name=asset.name,
                parent_external_id=asset.parent_external_id,
                description=asset.description,
            )
        )
    events = list(expected.events.values())
    series = list(expected.timeseries.values())
    points = [
        {"external_id": xid, "datapoints": sorted(values.items())}
        for xid, values in expected.datapoints.items()
        if values
    ]
    client = CogniteClient(
        ClientConfig(client_name="bench", project="test-project", credentials=Token("test-token"), base_url=cdf_url)
    )
    started = time.perf_counter()
    ids: dict[str, int] = {}
    for _, assets in sorted(levels.items()):
        ids.update((a.external_id, a.id) for a in client.assets.create(assets) if a.external_id)
    client.time_series.create(
        [TimeSeriesWrite(external_id=t.external_id, asset_id=ids[t.asset_external_id]) for t in series]
    )
    client.events.create(
        [
            EventWrite(
                external_id=e.external_id,
                type=e.type,
                subtype=e.subtype,
                start_time=e.start_time,
                end_time=e.end_time,
                asset_ids=[ids[x] for x in sorted(e.asset_external_ids)],
            )
            for e in events
        ]
    )
    client.time_series.data.insert_multiple(points)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    conn.send({"seconds": seconds, "peak_rss_mb": usage.ru_maxrss / 1024, "cpu": usage.ru_utime + usage.ru_stime})


def _peer_python() -> Path:
    """The peer's virtualenv (cognite-extractor-utils needs cognite-sdk < 8), created on first use."""
    venv = Path(__file__).parent / ".venv-peer"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = subprocess.run([str(python), "-c", "import cognite.extractorutils, httpx"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", "cognite-extractor-utils", "httpx"], check=True)
    return python


def _peer(size: str, plex_url: str, cdf_url: str) -> dict[str, Any]:
    plant = _plant(size)
    command = [
        str(_peer_python()),
        str(Path(__file__).parent / "peer_extractor_utils.py"),
        *("--plex-url", plex_url, "--cdf-url", cdf_url, "--pcn", plant.pcn, "--api-key", "test-key"),
        *("--start", plant.start.isoformat(), "--end", plant.end.isoformat()),
        *("--project", "test-project", "--token", "test-token"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the extractor-utils peer failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _in_process(context: Any, target: Any, *args: Any) -> dict[str, Any]:
    mine, theirs = context.Pipe()
    worker = context.Process(target=target, args=(*args, theirs))
    worker.start()
    theirs.close()
    try:
        outcome: dict[str, Any] = mine.recv()  # EOFError when the worker died (its traceback is on stderr)
    except EOFError:
        raise SystemExit(f"{target.__name__} failed (exit code {worker.exitcode})") from None
    worker.join()
    return outcome


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median wall time (the lower one of an even count), with every run's wall time under `walls`.

    Its peak RSS is the highest of all the runs: a memory bound has to hold in every one.
    """
    ordered = sorted(runs, key=lambda run: run["seconds"])
    median = dict(ordered[(len(ordered) - 1) // 2])
    median["walls"] = [run["seconds"] for run in runs]
    median["peak_rss_mb"] = max(run["peak_rss_mb"] for run in runs)
    return median


def _spread(run: dict[str, Any], whose: str = "") -> str:
    """` (median of 3: 21.0-23.4 s)` (or ` (raw SDK median of 3: ...)`) after a wall time measured more than once."""
    walls = run.get("walls", [])
    if len(walls) < 2:
        return ""
    return f" ({whose}median of {len(walls)}: {min(walls):.1f}-{max(walls):.1f} s)"


def run_size(
    size: str,
    profile: str | None = None,
    *,
    latency_s: float = 0.0,
    compare: bool = False,
    passes: int = 0,
    repeat: int = 1,
) -> dict[str, Any]:
    context = mp.get_context("spawn")
    fakes = _Fakes(context, size, latency_s)
    plex_url, cdf_url = fakes.plex_url, fakes.cdf_url
    results: dict[str, Any] = {"size": size}

    def counted(outcome: dict[str, Any]) -> dict[str, Any]:
        outcome["cdf"] = fakes.send("counts")
        return outcome

    def extract(label: str, attempt: int, workdir: str) -> dict[str, Any]:
        where = f"{profile}.{size}.{label}{attempt + 1 if repeat > 1 else ''}.prof" if profile else None
        fakes.send("reset")
        return counted(_in_process(context, _extract, size, plex_url, cdf_url, workdir, where))

    firsts: list[dict[str, Any]] = []
    for attempt in range(repeat):
        if attempt:
            fakes.send("wipe")
        with tempfile.TemporaryDirectory() as workdir:
            firsts.append(extract("first", attempt, workdir))
            if attempt == repeat - 1:  # the re-run, over the state of the last first run
                results["rerun"] = extract("rerun", attempt, workdir)
    results["first"] = _median_run(firsts)
    if passes:
        fakes.send("wipe")
        with tempfile.TemporaryDirectory() as workdir:
            results["passes"] = _in_process(context, _passes, size, plex_url, cdf_url, workdir, passes)["passes"]
    if compare:
        fakes.send("wipe")
        results["peer"] = counted(_peer(size, plex_url, cdf_url))
        raws = []
        for _ in range(repeat):
            fakes.send("wipe")
            raws.append(counted(_in_process(context, _raw_sdk, size, cdf_url)))
        results["raw"] = _median_run(raws)
    fakes.send("stop")
    return results


def _minimum(cdf: dict[str, Any]) -> int:
    return int(
        math.ceil(cdf["assets"] / 1000)
        + math.ceil(cdf["events"] / 1000)
        + math.ceil(cdf["timeseries"] / 1000)
        + math.ceil(cdf["datapoints"] / 100_000)
    )


def _print_comparison(result: dict[str, Any], network: str) -> None:
    """One table: library vs the extractor-utils peer vs the raw-SDK ceiling, and the library's ratios to both."""
    runs = {"library": result["first"], "extractor-utils": result["peer"], "raw SDK": result["raw"]}
    floor = _minimum(result["first"]["cdf"])
    rows: list[tuple[str, list[str]]] = []
    rows.append(("wall s", [f"{run['seconds']:.1f}" for run in runs.values()]))
    rows.append(("CPU s (its process)", [f"{run['cpu']:.1f}" for run in runs.values()]))
    # The raw-SDK ceiling reads nothing from Plex: FakePlex's CPU (serving every row) is on the cores only for the
    # library and the peer.
    rows.append(("CPU s (FakePlex's process)", [f"{run['cdf']['plex_cpu']:.1f}" for run in runs.values()]))
    rows.append(("CPU s (FakeCDF's process)", [f"{run['cdf']['cdf_cpu']:.1f}" for run in runs.values()]))
    rows.append(("peak RSS MiB", [f"{run['peak_rss_mb']:.0f}" for run in runs.values()]))
    rows.append((f"write requests (floor {floor})", [str(sum(run["cdf"]["writes"].values())) for run in runs.values()]))
    rows.append(
        (
            "events / datapoints in CDF",
            [f"{run['cdf']['events']} / {run['cdf']['datapoints']}" for run in runs.values()],
        )
    )
    lib, peer, raw = runs.values()
    print(f"   -- {network}: library vs peer vs raw SDK{_spread(raw, 'raw SDK ')}")
    print(f"   {'':32}" + "".join(f"{name:>26}" for name in runs))
    for label, cells in rows:
        print(f"   {label:32}" + "".join(f"{cell:>26}" for cell in cells))
    print(
        f"   ratios: wall library/extractor-utils {lib['seconds'] / peer['seconds']:.2f}x, "
        f"library/raw SDK {lib['seconds'] / raw['seconds']:.2f}x; "
        f"peak RSS library/extractor-utils {lib['peak_rss_mb'] / peer['peak_rss_mb']:.2f}x; "
        f"writes library/floor {sum(lib['cdf']['writes'].values()) / max(floor, 1):.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["10k", "100k"], choices=sorted(SIZES))
    parser.add_argument("--profile", metavar="PREFIX", help="write cProfile stats of each extractor run to PREFIX.*")
    parser.add_argument(
        "--compare",
        action="store_true",
        help="also run the extractor-utils peer (own venv, created on demand) and the raw-SDK ceiling",
    )
    parser.add_argument("--wan", action="store_true", help="both fakes add 200 ms to every request")
    parser.add_argument(
        "--passes",
        type=int,
        default=0,
        metavar="N",
        help="also run N passes in one process (continuous mode) and print the RSS after each",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="run the library (and with --compare the raw SDK) N times and report the median run",
    )
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat needs at least 1")
    rss: dict[str, float] = {}
    for size in args.sizes:
        result = run_size(
            size,
            args.profile,
            latency_s=0.2 if args.wan else 0.0,
            compare=args.compare,
            passes=args.passes,
            repeat=args.repeat,
        )
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
            f"   wall {first['seconds']:.1f} s{_spread(first)} (extractor CPU {first['cpu']:.1f} s), "
            f"{first['read'] / first['seconds']:.0f} records/s read, "
            f"{first['written']} items written, peak RSS {first['peak_rss_mb']:.0f} MB"
        )
        print(f"   garbage collector: {first['gc']}")
        print("   streams (s): " + ", ".join(f"{name} {seconds:.1f}" for name, seconds in first["streams"].items()))
        print(
            f"   CDF: {cdf['assets']} assets, {cdf['events']} events, {cdf['timeseries']} series, "
            f"{cdf['datapoints']} datapoints"
        )
        print(f"   write requests {writes} vs minimum {floor} (ratio {writes / max(floor, 1):.2f}): {cdf['writes']}")
        print(f"   other CDF requests: {cdf.get('reads', {})}")
        rerun_writes = sum(rerun["cdf"]["writes"].values())
        print(
            f"   re-run over unchanged data: {rerun['seconds']:.1f} s (CPU {rerun['cpu']:.1f} s), "
            f"{rerun_writes} write requests; state file {rerun['state_mib']:.1f} MiB"
        )
        for number, one in enumerate(result.get("passes", []), start=1):
            print(
                f"   continuous pass {number}: {one['seconds']:.1f} s, ok={one['ok']}, {one['written']} items written, "
                f"RSS after it {one['rss_mb']:.0f} MiB (peak so far {one['peak_rss_mb']:.0f} MiB)"
            )
        if args.compare:
            _print_comparison(result, "200 ms per request" if args.wan else "loopback")
    if "10k" in rss and "100k" in rss:
        print(f"== peak RSS growth 10k -> 100k jobs: {rss['100k'] / rss['10k']:.2f}x")


if __name__ == "__main__":
    main()
