"""ManualClock: virtual time for sync and async sleeps."""

from __future__ import annotations

import asyncio

import pytest

from plex_cognite.resilience import ManualClock


def test_sync_sleep_and_advance_move_the_clock() -> None:
    clock = ManualClock(start=100.0)
    clock.sleep(1.5)
    clock.advance(-3.0)  # ignored: time never runs backwards
    clock.advance(0.5)
    assert clock() == 102.0
    assert clock.total_slept == 1.5


async def test_concurrent_sleepers_wake_at_their_deadlines_in_order() -> None:
    clock = ManualClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.async_sleep(seconds)
        woke.append((name, clock()))

    await asyncio.gather(sleeper("c", 3.0), sleeper("a", 1.0), sleeper("b", 2.0), sleeper("z", 0.0))
    assert woke == [("z", 0.0), ("a", 1.0), ("b", 2.0), ("c", 3.0)]
    assert clock() == 3.0  # concurrent sleeps overlap, as on a real clock


async def test_a_cancelled_sleeper_does_not_move_the_clock() -> None:
    clock = ManualClock()
    task = asyncio.create_task(clock.async_sleep(50.0))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await clock.async_sleep(1.0)
    assert clock() == 1.0
