"""Clocks for the resilience toolkit: the real one, and a manual one that tests drive.

Everything time-dependent in `plex_cognite.resilience` takes a `clock` (a zero-argument callable returning
monotonic seconds) and, where it waits, a `sleep`. Production code uses `time.monotonic`, `time.sleep` and
`asyncio.sleep`; tests pass a `ManualClock` and its `sleep` / `async_sleep`, so no test ever waits for real.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import TypeAlias

__all__ = ["AsyncSleep", "Clock", "ManualClock", "Sleep"]

#: Monotonic seconds (`time.monotonic` in production).
Clock: TypeAlias = Callable[[], float]
#: A blocking sleep (`time.sleep` in production).
Sleep: TypeAlias = Callable[[float], None]
#: An awaitable sleep (`asyncio.sleep` in production).
AsyncSleep: TypeAlias = Callable[[float], Awaitable[None]]

monotonic: Clock = time.monotonic


async def asyncio_sleep(seconds: float) -> None:
    """`asyncio.sleep` with a plain `(float) -> Awaitable[None]` signature."""
    await asyncio.sleep(seconds)


class ManualClock:
    """A clock that only moves when told to, with virtual-time sleeps for tests.

    `sleep(s)` advances the clock at once. `async_sleep(s)` parks the task until virtual time reaches
    `now + s`: a small scheduler wakes the earliest sleeper (setting the clock to its deadline) each time the
    event loop has nothing else to run, so many concurrent sleepers see time exactly as a real clock would
    show it, only without waiting.

    Example:
        >>> clock = ManualClock()
        >>> clock.sleep(2.5)
        >>> clock()
        2.5

    Args:
        start: The initial reading, in seconds.
        settle_steps: How many event-loop turns to let other tasks run before jumping to the next deadline.
    """

    def __init__(self, start: float = 0.0, *, settle_steps: int = 8) -> None:
        self._now = start
        self._settle_steps = settle_steps
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._jumper: asyncio.Task[None] | None = None
        self.total_slept = 0.0

    def __call__(self) -> float:
        """Return the current virtual time in seconds."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by `seconds` (negative values are ignored)."""
        if seconds > 0:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        """A blocking sleep that returns at once, with the clock `seconds` later."""
        if seconds > 0:
            self.total_slept += seconds
        self.advance(seconds)

    async def async_sleep(self, seconds: float) -> None:
        """Wait until virtual time reaches `now + seconds`, without waiting in real time."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        self.total_slept += seconds
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), future))
        if self._jumper is None or self._jumper.done():
            self._jumper = asyncio.get_running_loop().create_task(self._jump())
        await future

    async def _jump(self) -> None:
        while self._sleepers:
            for _ in range(self._settle_steps):
                await asyncio.sleep(0)
            deadline, _, future = heapq.heappop(self._sleepers)
            if future.done():  # cancelled while asleep
                continue
            self._now = max(self._now, deadline)
            future.set_result(None)
