"""Run coroutines from synchronous code on one private event-loop thread.

The sync facade of the resolver uses this, so a plain call works anywhere: in a script, in a thread pool, and inside
Jupyter where a loop is already running in the calling thread (the coroutine runs on *our* loop, in *our* thread, so
no loop is ever nested; never `nest_asyncio`). The thread is a daemon, started lazily, shared process-wide.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

_T = TypeVar("_T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def _ensure_loop() -> asyncio.AbstractEventLoop:
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

        thread = threading.Thread(target=run, name="plex-cognite-sync-bridge", daemon=True)
        thread.start()
        ready.wait()
        _loop, _thread = loop, thread
        return loop


def bridge_loop() -> asyncio.AbstractEventLoop:
    """Return the private loop (starting its thread on first use)."""
    return _ensure_loop()


def run_sync(coro: Coroutine[Any, Any, _T], timeout: float | None = None) -> _T:
    """Run `coro` to completion on the private loop and return its result (or raise its exception).

    Args:
        coro: The coroutine to run.
        timeout: Seconds to wait before raising `TimeoutError` (the coroutine is then cancelled).

    Raises:
        RuntimeError: When called from the bridge thread itself (that would deadlock).
    """
    loop = _ensure_loop()
    if threading.current_thread() is _thread:
        coro.close()
        raise RuntimeError("run_sync() was called from the plex-cognite bridge thread; await the coroutine instead")
    future = asyncio.run_coroutine_threadsafe(coro, loop)
    try:
        return future.result(timeout)
    except TimeoutError:
        future.cancel()
        raise
