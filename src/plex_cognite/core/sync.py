"""Run a coroutine from synchronous code, in plain scripts and inside Jupyter alike.

In a plain script there is no running event loop, so `asyncio.run` is used. Inside Jupyter (or any thread that
already runs a loop) a second loop cannot run on the same thread, so the coroutine runs on a private event loop in a
worker thread and the caller blocks until it finishes. No `nest_asyncio`, no signal handlers: Ctrl-C in the caller
cancels the coroutine on the worker loop and waits for it to unwind.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["run_sync"]

T = TypeVar("T")


def run_sync(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run the coroutine made by `factory` to completion and return its result.

    `factory` (rather than a coroutine object) lets the coroutine be created on the loop that runs it.

    Args:
        factory: A zero-argument callable returning a coroutine, e.g. `lambda: run_extractors(settings)`.

    Returns:
        The coroutine's result; its exception is re-raised in the caller.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    return _run_in_thread(factory)


def _run_in_thread(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    loop = asyncio.new_event_loop()
    outcome: dict[str, Any] = {}
    started = threading.Event()
    task_holder: list[asyncio.Task[T]] = []

    def target() -> None:
        asyncio.set_event_loop(loop)
        try:
            task = loop.create_task(factory())
            task_holder.append(task)
            started.set()
            outcome["result"] = loop.run_until_complete(task)
        except BaseException as error:  # handed back to the calling thread
            outcome["error"] = error
        finally:
            started.set()
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                asyncio.set_event_loop(None)
                loop.close()

    thread = threading.Thread(target=target, name="plex-cognite-loop", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.1)
    except KeyboardInterrupt:
        started.wait()
        if task_holder:
            loop.call_soon_threadsafe(task_holder[0].cancel)
        thread.join()
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]  # type: ignore[no-any-return]
