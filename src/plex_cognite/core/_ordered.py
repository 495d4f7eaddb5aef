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
    windows: Iterable[Window],
    fetch: Callable[[Window], Awaitable[T]],
    lookahead: int,
    *,
    size_of: Callable[[T], int] | None = None,
    budget: Callable[[], int] | None = None,
) -> AsyncIterator[tuple[Window, T]]:
    """Fetch windows with at most `lookahead` in flight and yield `(window, result)` in window order.

    With `size_of` and `budget`, the read-ahead also adapts to how big results are: it starts with one fetch, and
    after each delivered result the depth becomes `budget() // size_of(result)` (between 1 and `lookahead`), so a
    few huge windows are not all held at once (not even while the first is read) while small ones still overlap
    fully. `budget` is asked anew each time, so a budget shared with other readers can change.

    Args:
        windows: The windows, in order (consumed lazily).
        fetch: Fetches one window.
        lookahead: Most fetches started ahead of the consumer (>= 1); bounds memory and concurrency.
        size_of: The size of a result (for example its record count).
        budget: Returns the total size of results to keep in flight now (used with `size_of`).

    Yields:
        Each window with its result, in the order of `windows`.
    """
    source = iter(windows)
    pending: deque[tuple[Window, asyncio.Task[T]]] = deque()
    depth = 1 if size_of is not None and budget is not None else max(1, lookahead)

    def refill() -> None:
        while len(pending) < depth:
            window = next(source, None)
            if window is None:
                return
            pending.append((window, asyncio.ensure_future(fetch(window))))

    try:
        refill()
        while pending:
            window, task = pending.popleft()
            result = await task
            if size_of is not None and budget is not None:
                depth = min(max(1, lookahead), max(1, budget() // max(1, size_of(result))))
            refill()
            yield window, result
    finally:
        for _, task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*(task for _, task in pending), return_exceptions=True)
