"""Run window fetches concurrently, hand results back in window order (the one implementation of read-ahead).

Up to `lookahead` windows are in flight; the consumer gets window i only after windows < i, so it can commit
progress window by window. A window whose fetch fails surfaces its error when the consumer reaches it (earlier
windows are delivered first); stopping early cancels what is still in flight.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import TypeVar

__all__ = ["ordered_fetch"]

T = TypeVar("T")
Window = TypeVar("Window")


async def ordered_fetch(
    windows: Iterable[Window], fetch: Callable[[Window], Awaitable[T]], lookahead: int
) -> AsyncIterator[tuple[Window, T]]:
    """Fetch windows with at most `lookahead` in flight and yield `(window, result)` in window order.

    Args:
        windows: The windows, in order (consumed lazily).
        fetch: Fetches one window.
        lookahead: Most fetches started ahead of the consumer (>= 1); bounds memory and concurrency.

    Yields:
        Each window with its result, in the order of `windows`.
    """
    source = iter(windows)
    pending: deque[tuple[Window, asyncio.Task[T]]] = deque()

    def refill() -> None:
        while len(pending) < max(1, lookahead):
            window = next(source, None)
            if window is None:
                return
            pending.append((window, asyncio.ensure_future(fetch(window))))

    try:
        refill()
        while pending:
            window, task = pending.popleft()
            result = await task
            refill()
            yield window, result
    finally:
        for _, task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*(task for _, task in pending), return_exceptions=True)
