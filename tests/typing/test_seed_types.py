"""Type-checks of the Quick Start names: `RetryHandler` and `with_retry(initial_delay=...)` keep signatures."""

from __future__ import annotations

from typing import assert_type

from plex_cognite import ExtractorSettings, RetryHandler, RetryPolicy, get_logger, with_retry


@with_retry(max_attempts=3, initial_delay=1.0)
async def fetch_async(x: int) -> str:
    return str(x)


@RetryHandler(max_attempts=5, initial_delay=0.5, max_delay=30.0)
def fetch_sync(x: int) -> str:
    return str(x)


def test_seed_names_keep_types() -> None:
    assert_type(fetch_sync(1), str)
    assert fetch_sync(1) == "1"
    handler = RetryHandler(max_attempts=5, initial_delay=0.5, max_delay=30.0)
    assert_type(handler, RetryPolicy)
    assert_type(handler.call(fetch_sync, 2), str)
    assert handler.replace(max_wait_s=10.0).max_delay == 10.0
    log = get_logger(__name__)
    log.info("typed", pcn="340884")


async def test_seed_async_names_keep_types() -> None:
    assert await fetch_async(2) == "2"
    handler = RetryHandler(initial_delay=0.5)
    assert_type(await handler.acall(fetch_async, 3), str)


def load_from_the_environment() -> ExtractorSettings:
    """Type-checked only (not run): `ExtractorSettings()` with no arguments is valid for type checkers."""
    return ExtractorSettings()
