"""Events/s through EventSink (with linking) vs the raw cognite-sdk `events.create` of the same pre-linked events.

Both write into the same FakeCDF, run as a separate process (so the fake does not share our GIL), in the same run.
The ceiling is `AsyncCogniteClient.events.create(list_of_EventWrite)` at the SDK's default concurrency, given events
whose `assetIds` are already numeric. The sink gets the same events with asset *external* ids and a cold resolver,
so its time includes the `byids` lookups. Target: sink >= 80% of the ceiling.

    /work/venv/bin/python benchmarks/bench_sinks.py [--events 50000] [--assets 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cognite.client import AsyncCogniteClient, ClientConfig, global_config
from cognite.client.credentials import Token
from cognite.client.data_classes import EventWrite

from plex_cognite.cdf import AssetIDResolver, AssetItem, AssetSink, EventItem, EventSink

global_config.disable_pypi_version_check = True

TOKEN = "bench-token"
PROJECT = "bench"


def start_fake() -> tuple[subprocess.Popen[bytes], str]:
    portfile = Path(tempfile.mkdtemp()) / "port"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "plex_cognite.testing.fake_cdf",
            "--port",
            "0",
            "--portfile",
            str(portfile),
            "--token",
            TOKEN,
            "--project",
            PROJECT,
        ],
    )
    deadline = time.monotonic() + 20
    while not portfile.exists() or not portfile.read_text().strip():
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError("FakeCDF did not start")
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{portfile.read_text().strip()}"


def make_client(base_url: str) -> AsyncCogniteClient:
    return AsyncCogniteClient(
        ClientConfig(client_name="bench", project=PROJECT, credentials=Token(TOKEN), base_url=base_url, timeout=120)
    )


def make_events(prefix: str, n: int, n_assets: int) -> list[EventItem]:
    return [
        EventItem(
            f"{prefix}_EV_{i}",
            type="job",
            subtype="Open",
            start_time=1_700_000_000_000 + i * 1000,
            end_time=1_700_000_000_000 + i * 1000 + 60_000,
            description=f"job {i}",
            metadata={"pcn": "340884", "source": "plex", "jobId": str(i)},
            asset_external_ids=(f"PART_{i % n_assets}", f"BLDG_{i % 10}"),
        )
        for i in range(n)
    ]


async def run_ceiling(client: AsyncCogniteClient, events: list[EventItem], ids: dict[str, int]) -> float:
    writes = [
        EventWrite(
            external_id=e.external_id,
            type=e.type,
            subtype=e.subtype,
            start_time=e.start_time,
            end_time=e.end_time,
            description=e.description,
            metadata=dict(e.metadata),
            source=e.source,
            asset_ids=[ids[x] for x in e.asset_external_ids],
        )
        for e in events
    ]
    started = time.perf_counter()
    await client.events.create(writes)
    return time.perf_counter() - started


async def run_sink(client: AsyncCogniteClient, events: list[EventItem]) -> float:
    resolver = AssetIDResolver(client)  # cold: lookups are part of the measured time
    sink = EventSink(client, resolver=resolver)
    started = time.perf_counter()
    result = await sink.write(events)
    elapsed = time.perf_counter() - started
    if result.failed or len(result.created) != len(events):
        raise RuntimeError(f"sink did not write everything: {result.failed[:3]}")
    return elapsed


async def main(n_events: int, n_assets: int, rounds: int) -> None:
    proc, base_url = start_fake()
    try:
        client = make_client(base_url)
        assets = [AssetItem("PLANT", "plant")]
        assets += [AssetItem(f"BLDG_{i}", f"b{i}", parent_external_id="PLANT") for i in range(10)]
        assets += [AssetItem(f"PART_{i}", f"p{i}", parent_external_id="PLANT") for i in range(n_assets)]
        await AssetSink(client).write(assets)
        ids = await AssetIDResolver(client).resolve_async([a.external_id for a in assets])
        ceiling: list[float] = []
        sink: list[float] = []
        for r in range(rounds):
            # Alternate the order so neither side always runs on a fresher fake.
            order = ("ceil", "sink") if r % 2 == 0 else ("sink", "ceil")
            for side in order:
                events = make_events(f"{side}{r}", n_events, n_assets)
                if side == "ceil":
                    ceiling.append(await run_ceiling(client, events, ids))
                else:
                    sink.append(await run_sink(client, events))
        c, s = statistics.median(ceiling), statistics.median(sink)
        print(f"events per run: {n_events}, assets: {n_assets + 11}, rounds: {rounds}")
        print(f"ceiling  cognite-sdk events.create (pre-linked): {n_events / c:10.0f} events/s  (median {c:.2f} s)")
        print(f"EventSink with linking (cold resolver):        {n_events / s:10.0f} events/s  (median {s:.2f} s)")
        print(f"ratio sink/ceiling: {c / s:.2f}  (target >= 0.80)")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--assets", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.assets, args.rounds))
