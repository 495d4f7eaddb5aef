"""Run a few awaitables at once, with the error handling of running them one after the other."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Awaitable, Sequence
from typing import Any, TypeVar, overload

__all__ = ["collect", "in_order"]

T = TypeVar("T")
A = TypeVar("A")
B = TypeVar("B")


@overload
async def in_order(first: Awaitable[A], second: Awaitable[B], /) -> tuple[A, B]: ...


@overload
async def in_order(*awaitables: Awaitable[A]) -> tuple[A, ...]: ...


async def in_order(*awaitables: Awaitable[Any]) -> tuple[Any, ...]:
    """Run `awaitables` concurrently and return their results in order.

    Unlike `asyncio.gather`, a failure is raised as itself (not an `ExceptionGroup`, as `TaskGroup` would) and it is
    the error of the first awaitable, in the order given, that failed: one that failed earlier in time but comes
    later in the list waits for those before it. So the error does not depend on timing (two reads rejected for the
    same expired key report the first one, as sequential code would), and the awaitables still running when it is
    raised are cancelled; so are all of them when the caller is.
    """
    tasks = [asyncio.ensure_future(awaitable) for awaitable in awaitables]
    try:
        return tuple([await task for task in tasks])
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def collect(batches: AsyncIterable[Sequence[T]]) -> list[T]:
    """Every record of an iterable of batches, in one list (for lists small enough to hold)."""
    return [record async for batch in batches for record in batch]
