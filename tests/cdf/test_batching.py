from __future__ import annotations

import asyncio
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from plex_cognite.cdf._batching import MicroBatcher, chunked


def test_chunked() -> None:
    assert [list(c) for c in chunked([1, 2, 3, 4, 5], 2)] == [[1, 2], [3, 4], [5]]


class Lookup:
    def __init__(self, known: dict[str, int], delay: float = 0.0) -> None:
        self.known = known
        self.calls: list[list[str]] = []
        self.delay = delay

    async def __call__(self, keys: list[str]) -> dict[str, int]:
        self.calls.append(keys)
        await asyncio.sleep(self.delay)
        return {k: self.known[k] for k in keys if k in self.known}


async def test_concurrent_submissions_coalesce_into_chunks() -> None:
    lookup = Lookup({f"k{i}": i for i in range(2500)})
    batcher: MicroBatcher[str, int] = MicroBatcher(lookup, chunk_size=1000, max_concurrency=2)

    async def ask(keys: list[str]) -> dict[str, int | None]:
        futures = batcher.submit(keys)
        return {k: await f for k, f in futures.items()}

    keys = [f"k{i}" for i in range(3000)]
    results = await asyncio.gather(*(ask(keys[i::7] + keys[:100]) for i in range(7)))
    assert len(lookup.calls) == 3
    assert sum(len(c) for c in lookup.calls) == 3000
    merged = {k: v for r in results for k, v in r.items()}
    assert merged["k10"] == 10
    assert merged["k2999"] is None


async def test_a_failed_fetch_fails_its_waiters_and_is_retried_next_time() -> None:
    attempts = 0

    async def flaky(keys: list[str]) -> dict[str, int]:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ConnectionError("boom")
        return dict.fromkeys(keys, 1)

    batcher: MicroBatcher[str, int] = MicroBatcher(flaky)
    future = batcher.submit(["a"])["a"]
    try:
        await future
    except ConnectionError:
        pass
    else:
        raise AssertionError("expected the fetch error")
    assert await batcher.submit(["a"])["a"] == 1


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 300), max_size=80), min_size=1, max_size=12),
    st.randoms(use_true_random=False),
)
def test_any_interleaving_gives_the_right_answers(requests: list[list[int]], rnd: random.Random) -> None:
    async def scenario() -> None:
        lookup = Lookup({f"k{i}": i for i in range(0, 300, 2)}, delay=0.001)
        batcher: MicroBatcher[str, int] = MicroBatcher(lookup, chunk_size=100, max_concurrency=3)

        async def ask(keys: list[str]) -> dict[str, int | None]:
            for _ in range(rnd.randint(0, 3)):
                await asyncio.sleep(0)
            futures = batcher.submit(keys)
            return {k: await f for k, f in futures.items()}

        batches = [[f"k{i}" for i in r] for r in requests]
        results = await asyncio.gather(*(ask(b) for b in batches))
        for batch, result in zip(batches, results, strict=True):
            assert result == {k: lookup.known.get(k) for k in batch}
        assert all(len(call) <= 100 for call in lookup.calls)

    asyncio.run(scenario())
