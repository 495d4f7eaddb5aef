from __future__ import annotations

import asyncio
import threading

import pytest

from plex_cognite.core.sync import run_sync


async def where() -> tuple[str, bool]:
    await asyncio.sleep(0)
    return threading.current_thread().name, True


def test_runs_on_the_calling_thread_without_a_loop() -> None:
    name, ok = run_sync(where)
    assert ok
    assert name == threading.current_thread().name


async def test_runs_on_a_private_thread_inside_a_running_loop() -> None:
    # This is the Jupyter case: a loop is already running on this thread.
    name, ok = run_sync(where)
    assert ok
    assert name == "plex-cognite-loop"


async def test_exceptions_propagate_from_the_private_loop() -> None:
    async def boom() -> None:
        raise KeyError("inside")

    with pytest.raises(KeyError, match="inside"):
        run_sync(boom)
