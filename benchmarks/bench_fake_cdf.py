"""How fast FakeCDF absorbs bulk writes: 100k events through the real cognite-sdk, against two baselines.

Run: python benchmarks/bench_fake_cdf.py [--events 100000]

* sdk: `CogniteClient.events.create(100k EventWrite)` (the SDK chunks by 1000 and sends 4 requests at a time).
* http: the same 100 request bodies, pre-serialised (json + gzip), posted by 4 threads with httpx straight to
  FakeCDF: the fake's own cost per request plus loopback HTTP, without the SDK.
* store: the same chunks inserted into FakeCDF's store in-process (no HTTP, no JSON): the floor.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from cognite.client import global_config
from cognite.client.data_classes import EventWrite

from plex_cognite.testing.fake_cdf import FakeCDF

global_config.disable_pypi_version_check = True


def event_items(count: int, asset_id: int) -> list[dict[str, Any]]:
    return [
        {
            "externalId": f"plex:job:{i}",
            "type": "job",
            "subtype": "production",
            "startTime": 1_700_000_000_000 + i * 1000,
            "endTime": 1_700_000_000_000 + i * 1000 + 500,
            "assetIds": [asset_id],
            "metadata": {"pcn": "340884", "part": f"P-{i % 500}", "qty": str(i % 17)},
            "source": "plex",
        }
        for i in range(count)
    ]


def chunks(items: list[dict[str, Any]], size: int = 1000) -> list[list[dict[str, Any]]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def bench_sdk(count: int) -> float:
    with FakeCDF() as cdf:
        asset_id = cdf.preload("assets", [{"externalId": "wc", "name": "wc"}])[0]["id"]
        writes = [EventWrite._load(item) for item in event_items(count, asset_id)]
        client = cdf.cognite_client()
        started = time.perf_counter()
        client.events.create(writes)
        elapsed = time.perf_counter() - started
        assert len(cdf.store.tables["events"]) == count
        return elapsed


def bench_http(count: int) -> float:
    with FakeCDF() as cdf:
        asset_id = cdf.preload("assets", [{"externalId": "wc", "name": "wc"}])[0]["id"]
        bodies = [
            gzip.compress(json.dumps({"items": chunk}).encode()) for chunk in chunks(event_items(count, asset_id))
        ]
        url = f"{cdf.base_url}/api/v1/projects/{cdf.project}/events"
        headers = {
            "authorization": f"Bearer {cdf.token}",
            "content-encoding": "gzip",
            "content-type": "application/json",
        }
        with httpx.Client(limits=httpx.Limits(max_connections=4)) as client:

            def post(body: bytes) -> int:
                response = client.post(url, content=body, headers=headers)
                response.json()
                return response.status_code

            started = time.perf_counter()
            with ThreadPoolExecutor(4) as pool:
                statuses = list(pool.map(post, bodies))
            elapsed = time.perf_counter() - started
        assert set(statuses) == {201}
        assert len(cdf.store.tables["events"]) == count
        return elapsed


def bench_store(count: int) -> float:
    cdf = FakeCDF()
    asset_id = cdf.preload("assets", [{"externalId": "wc", "name": "wc"}])[0]["id"]
    batches = chunks(event_items(count, asset_id))
    started = time.perf_counter()
    for batch in batches:
        cdf.store.create("events", {"items": batch})
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    count = parser.parse_args().events
    results = {"store": bench_store(count), "http": bench_http(count), "sdk": bench_sdk(count)}
    print(f"FakeCDF bulk event creation, {count} events")
    for name, seconds in results.items():
        print(f"  {name:<6} {seconds:7.2f} s  {count / seconds:10.0f} events/s")
    print(f"  ratio sdk/http  = {results['sdk'] / results['http']:.1f}x (cost of the SDK on top of the fake + HTTP)")
    print(f"  ratio http/store = {results['http'] / results['store']:.1f}x (cost of HTTP + JSON on top of the store)")


if __name__ == "__main__":
    main()
