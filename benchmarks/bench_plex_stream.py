"""Streaming 200k jobs from FakePlex: AsyncPlexClient vs reading the whole body and json.loads (same run).

FakePlex (`--size large`: 200k jobs) runs in a separate process, so tracemalloc here sees the client only.

    python benchmarks/bench_plex_stream.py [--rounds 2] [--batch-size 1000]

The machine's other load matters (FakePlex and the client each want a core): run it on a quiet machine.

Prints, for each approach: records/s (best of `rounds`, no tracing) and the peak traced memory while reading
(one extra run under tracemalloc), then the ratios client / baseline. Baselines:
- `json.loads`: GET the whole body, `json.loads` it (parse only, the issue's baseline);
- `json.loads + models`: the same, then validate every row into `Job` (what a non-streaming client would do).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from plex_cognite.config import PlexSettings
from plex_cognite.plex import AsyncPlexClient, Job
from plex_cognite.plex._stream import RowValidator

PCN = "340884"
API_KEY = "bench-key"


def start_fake_plex() -> tuple[subprocess.Popen[bytes], str]:
    portfile = Path(tempfile.mkdtemp()) / "ports"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "plex_cognite.testing.fake_plex",
            "--size",
            "large",
            "--port",
            "0",
            "--portfile",
            str(portfile),
            "--api-key",
            API_KEY,
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not (portfile.exists() and portfile.read_text().strip()):
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError("FakePlex did not start")
        time.sleep(0.05)
    port = portfile.read_text().split()[0]
    return process, f"http://127.0.0.1:{port}"


async def stream_with_client(base_url: str, batch_size: int) -> int:
    settings = PlexSettings(
        base_url=base_url, api_key=API_KEY, pcns=[PCN], rate_limit_per_minute=10_000, http2=False, timeout_s=300
    )
    count = 0
    async with AsyncPlexClient(settings, batch_size=batch_size, on_dead_letter=lambda letter: None) as plex:
        async for batch in plex.iter_jobs(PCN):
            count += len(batch)
    return count


async def whole_body(base_url: str, *, validate: bool) -> int:
    headers = {"X-Plex-Connect-Api-Key": API_KEY, "X-Plex-Connect-Customer-Id": PCN}
    async with httpx.AsyncClient(base_url=base_url, timeout=300) as http:
        response = await http.get("/scheduling/v1/jobs", headers=headers)
        response.raise_for_status()
        rows = json.loads(response.content)
    if not validate:
        return len(rows)
    records = RowValidator("jobs", PCN, on_dead_letter=lambda letter: None).validate(Job, rows)
    return len(records)


def measure(run: Callable[[], Awaitable[int]], rounds: int) -> tuple[int, float, int]:
    """(records, best records/s, peak traced bytes)."""
    best = 0.0
    count = 0
    for _ in range(rounds):
        started = time.perf_counter()
        count = asyncio.run(run())  # type: ignore[arg-type]
        best = max(best, count / (time.perf_counter() - started))
    tracemalloc.start()
    asyncio.run(run())  # type: ignore[arg-type]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return count, best, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()
    process, base_url = start_fake_plex()
    try:
        asyncio.run(whole_body(base_url, validate=False))  # warm the server up (it builds its job index lazily)
        results = {
            "AsyncPlexClient.iter_jobs (streamed)": measure(
                lambda: stream_with_client(base_url, args.batch_size), args.rounds
            ),
            "json.loads (whole body)": measure(lambda: whole_body(base_url, validate=False), args.rounds),
            "json.loads + models (whole body)": measure(lambda: whole_body(base_url, validate=True), args.rounds),
        }
    finally:
        process.terminate()
        process.wait(10)
    print(f"{'approach':40s} {'records':>9s} {'records/s':>11s} {'peak MiB':>9s}")
    for name, (count, rate, peak) in results.items():
        print(f"{name:40s} {count:9d} {rate:11.0f} {peak / 2**20:9.1f}")
    client = results["AsyncPlexClient.iter_jobs (streamed)"]
    for name in ("json.loads (whole body)", "json.loads + models (whole body)"):
        base = results[name]
        print(f"client vs {name}: speed x{client[1] / base[1]:.2f}, peak memory x{client[2] / base[2]:.3f}")


if __name__ == "__main__":
    main()
