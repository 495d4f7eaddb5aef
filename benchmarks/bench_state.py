"""Change-detection state: `StreamState`'s compact digest table against a plain dict (same run).

    python benchmarks/bench_state.py [--items 177000]

For N Plex-shaped external ids (50 characters) and 8-byte digests, as a first run and a re-run of a snapshot
stream use them:
- `first run`: `is_unchanged` (a miss) then `set_hash`, per item;
- `re-run`: `is_unchanged` (a hit), per item;
- `iterate`: every `(external_id, digest)` pair (what whole-state writes and the RAW store's bucket rewrites do);
- memory: bytes an entry as tracemalloc counts them (measured in a separate pass, since tracing slows everything).

The baseline is a `dict[str, bytes]` used the way `StreamState` used one before the table. Ratios are table / dict.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Callable

from plex_cognite.core._digests import DigestTable


def _ids(n: int) -> tuple[list[str], list[bytes]]:
    ids = [f"PCN340884_JOB_713f4824-0005-4000-8000-{i:012x}" for i in range(n)]
    return ids, [(i * 2654435761).to_bytes(8, "little") for i in range(n)]


def _dict_first(ids: list[str], digests: list[bytes]) -> object:
    table: dict[str, bytes] = {}
    for xid, digest in zip(ids, digests, strict=True):
        if table.get(xid) != digest:
            table[xid] = digest
    return table


def _table_first(ids: list[str], digests: list[bytes]) -> object:
    table = DigestTable()
    for xid, digest in zip(ids, digests, strict=True):
        if not table.matches(xid, digest):
            table.set(xid, digest)
    return table


def _rerun(table: object, ids: list[str], digests: list[bytes]) -> int:
    if isinstance(table, DigestTable):
        return sum(table.matches(xid, digest) for xid, digest in zip(ids, digests, strict=True))
    assert isinstance(table, dict)
    return sum(table.get(xid) == digest for xid, digest in zip(ids, digests, strict=True))


def _timed(build: Callable[[list[str], list[bytes]], object], n: int) -> tuple[float, float, float]:
    ids, digests = _ids(n)
    started = time.perf_counter()
    table = build(ids, digests)
    first = time.perf_counter() - started
    started = time.perf_counter()
    assert _rerun(table, ids, digests) == n
    rerun = time.perf_counter() - started
    assert isinstance(table, (dict, DigestTable))
    started = time.perf_counter()
    assert sum(1 for _ in table.items()) == n
    return first, rerun, time.perf_counter() - started


def _bytes_per_entry(build: Callable[[list[str], list[bytes]], object], n: int) -> float:
    ids, digests = _ids(n)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        # The state owns its keys and digests (fresh objects per item, as in a run or after a load).
        copies = [xid.encode().decode() for xid in ids]
        owned = [bytes(bytearray(digest)) for digest in digests]
        table = build(copies, owned)
        del copies, owned
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert table is not None
    return (after - before) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=177_000, help="external ids (the 100k-jobs plant has ~177k)")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes; the best is reported")
    n = parser.parse_args().items
    rounds = parser.parse_args().repeat
    results = {}
    for name, build in (("dict", _dict_first), ("table", _table_first)):
        runs = [_timed(build, n) for _ in range(rounds)]
        best = tuple(min(run[i] for run in runs) for i in range(3))
        results[name] = (*best, _bytes_per_entry(build, n))
    print(f"{n:,} items; best of {rounds}")
    print(f"{'':8} {'first run':>14} {'re-run':>14} {'iterate':>14} {'bytes/entry':>12}")
    for name, (first, rerun, scan, size) in results.items():
        print(f"{name:8} {first * 1e6 / n:11.2f} µs {rerun * 1e6 / n:11.2f} µs {scan * 1e6 / n:11.2f} µs {size:12.1f}")
    (df, dr, dscan, ds), (tf, tr, tscan, ts) = results["dict"], results["table"]
    print(f"{'ratio':8} {tf / df:13.2f}x {tr / dr:13.2f}x {tscan / dscan:13.2f}x {ts / ds:11.2f}x")
    print(
        f"table, extra CPU for {n:,} items: first run {tf - df:.2f} s, re-run {tr - dr:.2f} s, "
        f"one iteration {tscan - dscan:.2f} s"
    )


if __name__ == "__main__":
    main()
