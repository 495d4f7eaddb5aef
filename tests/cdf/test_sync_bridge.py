from __future__ import annotations

import asyncio
import threading

import pytest

from plex_cognite.cdf import _sync_bridge


async def _where() -> str:
    await asyncio.sleep(0)
    return threading.current_thread().name


def test_runs_on_the_private_thread() -> None:
    assert _sync_bridge.run_sync(_where()) == "plex-cognite-sync-bridge"


async def test_works_while_a_loop_is_running_in_the_caller() -> None:
    # As in Jupyter: a plain (blocking) call from inside a running loop.
    assert _sync_bridge.run_sync(_where()) == "plex-cognite-sync-bridge"


def test_exceptions_propagate() -> None:
    async def boom() -> None:
        raise ValueError("x")

    with pytest.raises(ValueError, match="x"):
        _sync_bridge.run_sync(boom())
