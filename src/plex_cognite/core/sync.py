"""Run coroutines from synchronous code: in plain scripts, in thread pools and inside Jupyter alike.

There is one private event loop, on one daemon thread, started lazily and shared by the whole process (the "bridge").
A thread that already runs a loop (Jupyter) cannot run a second one, so synchronous entry points hand their coroutine
to the bridge and block until it finishes: no loop is ever nested, never `nest_asyncio`, no signal handlers. Objects
bound to a loop (the cognite-sdk keeps one HTTP client per loop; the resolver's in-flight lookups) stay valid from one
synchronous call to the next because every call lands on the same loop.

- `run_sync(factory)`: for whole jobs (`run_extractors_sync`). Without a running loop in the caller it uses
  `asyncio.run` on the caller's thread, the plainest behaviour for scripts; with one, it uses the bridge.
- `run_on_bridge(coro)`: always on the bridge, for the sync faces of long-lived async objects (the resolver).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["bridge_loop", "run_on_bridge", "run_sync"]

T = TypeVar("T")

_BRIDGE_THREAD_NAME = "plex-cognite-sync-bridge"
_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def bridge_loop() -> asyncio.AbstractEventLoop:
    """Return the bridge's event loop, starting its daemon thread on first use."""
    global _loop, _thread
    with _lock:
        if _loop is not None and _thread is not None and _thread.is_alive():
            return _loop
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        thread = threading.Thread(target=run, name=_BRIDGE_THREAD_NAME, daemon=True)
        thread.start()
        ready.wait()
        _loop, _thread = loop, thread
        return loop


def run_on_bridge(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run `coro` to completion on the bridge loop and return its result (its exception is re-raised here).

    Args:
        coro: The coroutine to run.
        timeout: Seconds to wait before raising `TimeoutError` (the coroutine is then cancelled).

    Raises:
        RuntimeError: When called from the bridge thread itself (that would deadlock: await the coroutine instead).
    """
    loop = bridge_loop()
    if threading.current_thread() is _thread:
        coro.close()
        raise RuntimeError("a plex-cognite sync call was made on the bridge thread; await the coroutine instead")
    future = asyncio.run_coroutine_threadsafe(coro, loop)
    try:
        return future.result(timeout)
    except (TimeoutError, KeyboardInterrupt):
        # Ctrl-C (or the timeout) in the caller cancels the work on the bridge and waits briefly for it to unwind.
        future.cancel()
        with contextlib.suppress(Exception, asyncio.CancelledError, concurrent.futures.CancelledError):
            future.result(5.0)
        raise


def run_sync(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run the coroutine made by `factory` to completion and return its result.

    `factory` (rather than a coroutine object) means no coroutine is created unless it will be run.

    Args:
        factory: A zero-argument callable returning a coroutine, e.g. `lambda: run_extractors(settings)`.

    Returns:
        The coroutine's result; its exception is re-raised in the caller.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    return run_on_bridge(factory())
