"""CDF request bodies: the SDK's encoding (stdlib json + gzip level 9) against the sinks' (orjson + gzip level 1).

    python benchmarks/bench_request_bodies.py

Bodies: 1000 events shaped like the job events the extractor writes, and 100,000 datapoints over 400 series (one
full datapoints request). For each: encode time, gzip time and size at levels 9, 6 and 1, and the datapoint body
built as one dict per point (what the SDK needs) against `encode_insert_body` straight from the points, with the
memory each holds (tracemalloc).
"""

from __future__ import annotations

import gzip
import random
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from cognite.client.utils._json_extended import dumps_no_nan_or_inf

from plex_cognite.cdf._datapoints import encode_insert_body
from plex_cognite.cdf._upsert import GZIP_LEVEL, encode_body


def _best(fn: Callable[[], Any], rounds: int = 5) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(rounds):
        started = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - started)
    return best, out


def _peak(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    kept = fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del kept
    return peak / 2**20


def main() -> None:
    rng = random.Random(1)
    events = {
        "items": [
            {
                "externalId": f"PCN340884_JOB_{i:08d}",
                "startTime": 1_735_689_600_000 + i * 1000,
                "endTime": 1_735_689_600_000 + i * 2000,
                "type": "job",
                "subtype": rng.choice(["Open", "Complete", "Scheduled"]),
                "description": f"J{i:06d}",
                "source": "plex",
                "assetIds": [rng.randint(1, 10**12), rng.randint(1, 10**12)],
                "metadata": {
                    "pcn": "340884",
                    "jobId": f"{i:08d}-aaaa-bbbb",
                    "jobNumber": f"J{i:06d}",
                    "partNumber": f"P-{i % 2000:05d}",
                    "quantity": str(rng.random() * 100),
                    "status": "Open",
                    "buildingCode": "B01",
                    "dueDate": "2025-10-15T04:00:00.000Z",
                },
            }
            for i in range(1000)
        ]
    }
    stamps = [1_735_689_600_000 + i * 997 for i in range(100_000)]
    series = [
        (f"PCN340884_WC_{k}_PRODUCED_QTY", [(t, rng.random() * 1000) for t in stamps[k * 250 : (k + 1) * 250]])
        for k in range(400)
    ]

    def dict_per_point() -> dict[str, Any]:
        return {
            "items": [{"externalId": x, "datapoints": [{"timestamp": t, "value": v} for t, v in p]} for x, p in series]
        }

    bodies: list[tuple[str, Callable[[], bytes], Callable[[], bytes]]] = [
        ("1000 events", lambda: dumps_no_nan_or_inf(events).encode(), lambda: encode_body(events)),
        (
            "100k datapoints",
            lambda: dumps_no_nan_or_inf(dict_per_point()).encode(),
            lambda: encode_insert_body(series),
        ),
    ]
    for name, sdk, ours in bodies:
        t_sdk, raw = _best(sdk)
        t_ours, mine = _best(ours)
        assert len(raw) >= len(mine) * 0.99
        print(f"== {name}: {len(mine)} bytes of JSON")
        print(f"   encode: SDK (stdlib json) {t_sdk * 1e3:.1f} ms, sinks {t_ours * 1e3:.1f} ms ({t_ours / t_sdk:.2f}x)")
        sizes = {}
        for level in (9, 6, 1):
            t_zip, packed = _best(lambda level=level, body=mine: gzip.compress(body, compresslevel=level))
            sizes[level] = (t_zip, len(packed))
            print(f"   gzip level {level}: {t_zip * 1e3:6.1f} ms -> {len(packed)} bytes")
        total_sdk = t_sdk + sizes[9][0]
        total_ours = t_ours + sizes[GZIP_LEVEL][0]
        print(
            f"   per request: SDK {total_sdk * 1e3:.1f} ms, sinks {total_ours * 1e3:.1f} ms "
            f"({total_ours / total_sdk:.2f}x CPU, {sizes[GZIP_LEVEL][1] / sizes[9][1]:.2f}x bytes)"
        )
    print(
        f"== datapoint body memory (tracemalloc peak): one dict per point {_peak(dict_per_point):.1f} MiB, "
        f"encoded from the points {_peak(lambda: encode_insert_body(series)):.1f} MiB"
    )


if __name__ == "__main__":
    main()
