"""How fast FakePlex serves a large plant, against an in-process baseline measured in the same run.

Run: /work/venv/bin/python benchmarks/bench_fake_plex.py [--jobs 200000] [--production 1000000]

Reports, in this order (serving first, so the RSS figure is not inflated by the baseline's in-memory copy):
- plant generation: 1M production entries computed from (seed, index), rows/s;
- FakePlex: `GET /scheduling/v1/jobs` (200k jobs) over loopback HTTP with httpx, body streamed (chunked) and read
  fully, then once more with `json.loads` on the client: time, rows/s, MB/s; RSS growth while streaming;
- a one-day production-entries window on the 1M-entry history (bisection, not a scan);
- baseline: generating the same 200k job rows and `json.dumps` of them in-process (no HTTP), and the ratios.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import httpx
import psutil  # type: ignore[import-untyped,unused-ignore]

from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import PlantSize, SimulatedPlant


def timed(label: str, rows: int, seconds: float, extra: str = "") -> None:
    print(f"{label:<58} {seconds:8.2f} s  {rows / seconds:>11,.0f} rows/s {extra}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=200_000)
    parser.add_argument("--production", type=int, default=1_000_000)
    args = parser.parse_args()
    size = dataclasses.replace(PlantSize.named("large"), jobs=args.jobs, production_entries=args.production)
    process = psutil.Process()

    started = time.perf_counter()
    plant = SimulatedPlant(seed=1, size=size)
    print(
        f"plant construction (large: {args.jobs:,} jobs, {args.production:,} production entries): "
        f"{time.perf_counter() - started:.3f} s"
    )

    started = time.perf_counter()
    produced = sum(1 for _ in plant.production_entries())
    timed(f"generate {produced:,} production entries", produced, time.perf_counter() - started)

    with FakePlex(plant) as fake, httpx.Client(base_url=fake.base_url, headers=fake.headers(), timeout=600) as client:
        rss_before = process.memory_info().rss
        started = time.perf_counter()
        size_bytes = 0
        with client.stream("GET", "/scheduling/v1/jobs") as response:
            chunked = response.headers.get("transfer-encoding") == "chunked"
            for chunk in response.iter_bytes():
                size_bytes += len(chunk)
        serve_s = time.perf_counter() - started
        rss_streamed = process.memory_info().rss - rss_before
        timed(
            f"FakePlex GET /scheduling/v1/jobs over HTTP ({'chunked' if chunked else 'content-length'})",
            args.jobs,
            serve_s,
            f"{size_bytes / 1e6 / serve_s:,.0f} MB/s  ",
        )

        started = time.perf_counter()
        rows = client.get("/scheduling/v1/jobs").json()
        parse_s = time.perf_counter() - started
        timed(
            "FakePlex GET /scheduling/v1/jobs + client json.loads",
            len(rows),
            parse_s,
            "",
        )
        del rows

        started = time.perf_counter()
        day = client.get(
            "/production/v1/production-history/production-entries",
            params={"beginDate": "2025-02-01T00:00:00Z", "endDate": "2025-02-02T00:00:00Z"},
        ).json()
        timed("FakePlex one-day production window on the full history", len(day), time.perf_counter() - started)

    print(f"RSS growth while streaming the 200k jobs: {rss_streamed / 1e6:,.0f} MB")
    started = time.perf_counter()
    jobs = list(plant.jobs())
    generate_s = time.perf_counter() - started
    timed(f"baseline: generate {len(jobs):,} job rows", len(jobs), generate_s)
    started = time.perf_counter()
    payload = json.dumps(jobs, separators=(",", ":")).encode()
    dumps_s = time.perf_counter() - started
    timed("baseline: json.dumps of those rows", len(jobs), dumps_s, f"({len(payload) / 1e6:,.0f} MB)")
    baseline_s = generate_s + dumps_s
    timed("baseline: generate + dumps", len(jobs), baseline_s)
    del jobs, payload

    print(f"ratio FakePlex HTTP stream / in-process generate+dumps: {serve_s / baseline_s:.2f}x")
    print(f"ratio FakePlex HTTP + client json.loads / in-process generate+dumps: {parse_s / baseline_s:.2f}x")
    print(f"peak RSS (server + client + baseline in one process): {process.memory_info().rss / 1e6:,.0f} MB")


if __name__ == "__main__":
    main()
