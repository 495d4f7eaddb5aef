"""Content hashing of CDF items: the current `canonical_hash` against two cheaper candidates (same run).

    python benchmarks/bench_hashing.py [--items 50000]

Candidates, over the job events and part assets of a simulated plant (what snapshot streams hash every run):
- `installed`: `cdf.items.canonical_hash` as installed;
- `current`: the stdlib implementation (a recursive copy that renders non-finite floats as strings, then
  `json.dumps(sort_keys=True)`, then blake2b-8);
- `json fast path`: `json.dumps(..., allow_nan=False)` straight away, the copy only when a non-finite float makes
  it raise. Same bytes, so the same digests as `current` (checked here);
- `orjson`: `orjson.dumps(OPT_SORT_KEYS | OPT_NON_STR_KEYS)` of the same copy-free payload. Floats are written in
  orjson's shortest form (`1e-7`, not `1e-07`), so some digests differ from `current`: adopting it changes stored
  digests once (one re-check of every snapshot item on the first run after the upgrade).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from plex_cognite.cdf.items import canonical_hash
from plex_cognite.extractors._transforms import MappingContext, job_event, part_asset
from plex_cognite.plex import Job, Part
from plex_cognite.testing.plant import PlantSize, SimulatedPlant


def _json_default(value: object) -> Any:
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(f"value of type {type(value).__name__} is not JSON-serialisable")


def _finite(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def stdlib_json(payload: Any) -> bytes:
    """`canonical_hash` as it was before /work/notes/perf-hash.patch (the reference digests)."""
    text = json.dumps(
        _finite(payload), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
    )
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()


def json_fast_path(payload: Any) -> bytes:
    try:
        text = json.dumps(
            payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default, allow_nan=False
        )
    except ValueError:  # a non-finite float: render it as the SDK sends it, like `current`
        text = json.dumps(
            _finite(payload), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
        )
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()


_ORJSON = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def _orjson_default(value: object) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError


def with_orjson(payload: Any) -> bytes:
    try:
        data = orjson.dumps(payload, option=_ORJSON, default=_orjson_default)
    except TypeError:  # an int beyond 64 bits
        data = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    if b"null" in data and _has_non_finite(payload):
        data = orjson.dumps(_finite(payload), option=_ORJSON, default=_orjson_default)
    return hashlib.blake2b(data, digest_size=8).digest()


def _has_non_finite(value: object) -> bool:
    # Exact type checks first: an ABC isinstance check costs more than the whole orjson encoding.
    kind = type(value)
    if kind is float:
        return not math.isfinite(value)  # type: ignore[arg-type]
    if kind is str or kind is int or value is None or kind is bool:
        return False
    if kind is dict or isinstance(value, Mapping):
        return any(_has_non_finite(v) for v in value.values())  # type: ignore[attr-defined]
    if kind is list or kind is tuple:
        return any(_has_non_finite(v) for v in value)  # type: ignore[attr-defined]
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=50_000)
    args = parser.parse_args()
    plant = SimulatedPlant(seed=1, size=PlantSize(parts=args.items // 5, jobs=args.items))
    ctx = MappingContext(pcn="340884")
    payloads: list[Any] = []
    capture: list[Any] = []
    import plex_cognite.cdf.items as items_module

    original = items_module.canonical_hash
    items_module.canonical_hash = lambda payload: capture.append(payload) or original(payload)  # type: ignore[assignment]
    try:
        for row in plant.jobs():
            try:
                job_event(Job.model_validate(row), ctx).content_hash()
            except Exception:  # malformed rows of the plant: not hashed by the extractor either
                continue
        for row in plant.parts():
            part_asset(Part.model_validate(row), ctx).content_hash()
    finally:
        items_module.canonical_hash = original
    payloads = capture
    candidates: dict[str, Callable[[Any], bytes]] = {
        "current": stdlib_json,
        "json fast path": json_fast_path,
        "orjson": with_orjson,
        "installed": canonical_hash,
    }
    digests: dict[str, list[bytes]] = {}
    seconds: dict[str, float] = {}
    for name, fn in candidates.items():
        best = math.inf
        for _ in range(3):
            started = time.perf_counter()
            out = [fn(p) for p in payloads]
            best = min(best, time.perf_counter() - started)
        digests[name], seconds[name] = out, best
    print(f"{len(payloads)} payloads (job events and part assets)")
    for name in candidates:
        same = sum(a == b for a, b in zip(digests[name], digests["current"], strict=True))
        print(
            f"  {name:15} {seconds[name] * 1e6 / len(payloads):6.2f} us/item "
            f"({seconds[name] / seconds['current']:.2f}x current), same digest as current: {same}/{len(payloads)}"
        )


if __name__ == "__main__":
    main()
