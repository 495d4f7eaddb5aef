"""Window read-ahead: results in window order, with the read-ahead shrinking when results are big."""

from __future__ import annotations

import asyncio

from plex_cognite.core._ordered import ordered_fetch


async def _run(sizes: dict[int, int], lookahead: int, budget: int | None) -> tuple[list[int], int]:
    """Consume every window slowly; return the delivery order and the most fetches ahead of the consumer.

    Counted once the first window was delivered: before that no result size is known.
    """
    started: list[int] = []
    delivered: list[int] = []
    most_ahead = 0

    async def fetch(window: int) -> list[int]:
        nonlocal most_ahead
        started.append(window)
        if delivered:
            most_ahead = max(most_ahead, len(started) - len(delivered))
        await asyncio.sleep(0)
        return [window] * sizes[window]

    size_of, records_ahead = (len, lambda: budget) if budget is not None else (None, None)
    async for window, records in ordered_fetch(sizes, fetch, lookahead, size_of=size_of, budget=records_ahead):
        assert len(records) == sizes[window]
        delivered.append(window)
        await asyncio.sleep(0.001)  # the loop body: fetches ahead get time to finish
    return delivered, most_ahead


async def test_small_windows_are_read_ahead_to_the_full_lookahead() -> None:
    delivered, most_ahead = await _run(dict.fromkeys(range(10), 10), lookahead=4, budget=1000)
    assert delivered == list(range(10))
    assert most_ahead == 4


async def test_big_windows_shrink_the_read_ahead_to_the_record_budget() -> None:
    delivered, most_ahead = await _run(dict.fromkeys(range(10), 600), lookahead=4, budget=1000)
    assert delivered == list(range(10))
    assert most_ahead == 1  # 1000 // 600


async def test_without_a_budget_the_lookahead_is_fixed() -> None:
    delivered, most_ahead = await _run(dict.fromkeys(range(10), 600), lookahead=4, budget=None)
    assert delivered == list(range(10))
    assert most_ahead == 4


async def _most_in_flight_before_the_first_result(budget: int | None) -> int:
    in_flight = most = 0

    async def fetch(window: int) -> list[int]:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.001)
        in_flight -= 1
        return [window] * 5_000

    size_of, records_ahead = (len, lambda: budget) if budget is not None else (None, None)
    reads = ordered_fetch(range(10), fetch, 4, size_of=size_of, budget=records_ahead)
    first = await anext(reads)
    seen = most
    await reads.aclose()
    assert first[0] == 0
    return seen


async def test_with_a_budget_only_one_window_is_read_before_its_size_is_known() -> None:
    assert await _most_in_flight_before_the_first_result(budget=1_000) == 1  # huge windows: not 4 at once
    assert await _most_in_flight_before_the_first_result(budget=None) == 4  # the full lookahead from the start
