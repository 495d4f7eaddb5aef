from __future__ import annotations

import asyncio
import threading

import pytest

from plex_cognite.core.sync import bridge_loop, run_on_bridge, run_sync


async def where() -> tuple[str, bool]:
    await asyncio.sleep(0)
    return threading.current_thread().name, True


def test_run_sync_uses_the_calling_thread_without_a_loop() -> None:
    name, ok = run_sync(where)
    assert ok
    assert name == threading.current_thread().name


async def test_run_sync_uses_the_bridge_inside_a_running_loop() -> None:
    # This is the Jupyter case: a loop is already running on this thread, and the call blocks.
    name, ok = run_sync(where)
    assert ok
    assert name == "plex-cognite-sync-bridge"


async def test_exceptions_propagate_from_the_bridge() -> None:
    async def boom() -> None:
        raise KeyError("inside")

    with pytest.raises(KeyError, match="inside"):
        run_sync(boom)


def test_run_on_bridge_always_uses_one_persistent_loop() -> None:
    async def loop_of() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    first = run_on_bridge(loop_of())
    second = run_on_bridge(loop_of())
    assert first is second is bridge_loop()


def test_timeout_cancels_the_work_on_the_bridge() -> None:
    cancelled = threading.Event()

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(TimeoutError):
        run_on_bridge(slow(), timeout=0.05)
    assert cancelled.wait(2)


def test_a_sync_call_from_the_bridge_thread_is_refused_not_deadlocked() -> None:
    async def nested() -> None:
        run_on_bridge(asyncio.sleep(0))

    with pytest.raises(RuntimeError, match="bridge thread"):
        run_on_bridge(nested())
