"""Tell async callables from sync ones (for the decorators that accept both)."""

from __future__ import annotations

import inspect

__all__ = ["is_async_callable"]


def is_async_callable(fn: object) -> bool:
    """True for coroutine functions, partials of them, and objects with an `async def __call__`."""
    dunder_call = getattr(fn, "__call__", None)  # noqa: B004 - looking for an async __call__, not for callability
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(dunder_call)
