"""in_order: awaitables run at once; results and the error come in the order given, not the order of time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from plex_cognite.core._together import collect, in_order


async def value_after(value: str, delay: float) -> str:
    await asyncio.sleep(delay)
    return value


async def fail_after(message: str, delay: float) -> str:
    await asyncio.sleep(delay)
    raise ValueError(message)


async def test_results_come_in_the_order_given_and_the_awaitables_run_at_once() -> None:
    second_started = asyncio.Event()

    async def first() -> str:
        await second_started.wait()  # run one after the other, this would never finish
        return "first"

    async def second() -> str:
        second_started.set()
        return "second"

    async with asyncio.timeout(5):
        assert await in_order(first(), second()) == ("first", "second")


async def test_the_first_listed_failure_is_raised_even_when_a_later_one_failed_first() -> None:
    with pytest.raises(ValueError, match=r"^first$"):
        await in_order(fail_after("first", 0.05), fail_after("second", 0.0))


async def test_a_later_failure_is_raised_as_itself_once_the_ones_before_it_succeeded() -> None:
    with pytest.raises(ValueError, match=r"^second$"):
        await in_order(value_after("ok", 0.05), fail_after("second", 0.0))


async def test_a_failure_cancels_what_still_runs_after_it() -> None:
    finished: list[str] = []

    async def slow() -> str:
        await asyncio.sleep(5)
        finished.append("slow")
        return "slow"

    task = asyncio.ensure_future(slow())
    with pytest.raises(ValueError, match="early"):
        await in_order(fail_after("early", 0.0), task)
    assert task.cancelled()
    assert finished == []


async def test_cancelling_the_caller_cancels_every_awaitable() -> None:
    first = asyncio.ensure_future(asyncio.sleep(5))
    second = asyncio.ensure_future(asyncio.sleep(5))
    caller = asyncio.ensure_future(in_order(first, second))
    await asyncio.sleep(0.01)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert first.cancelled()
    assert second.cancelled()


async def test_collect_flattens_batches() -> None:
    async def batches() -> AsyncIterator[list[int]]:
        yield [1, 2]
        yield []
        yield [3]

    assert await collect(batches()) == [1, 2, 3]
