"""Decorate sync and async callables alike (for `RetryPolicy` and `CircuitBreaker`, which accept both)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec

__all__ = ["decorate_sync_or_async", "is_async_callable"]

P = ParamSpec("P")


def is_async_callable(fn: object) -> bool:
    """True for coroutine functions, partials of them, and objects with an `async def __call__`."""
    dunder_call = getattr(fn, "__call__", None)  # noqa: B004 - looking for an async __call__, not for callability
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(dunder_call)


def decorate_sync_or_async(
    fn: Callable[P, Any],
    call: Callable[..., Any],
    acall: Callable[..., Awaitable[Any]],
) -> Callable[P, Any]:
    """Wrap `fn` so that every call goes through `call(fn, ...)`, or `await acall(fn, ...)` when `fn` is async."""
    if is_async_callable(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            return await acall(fn, *args, **kwargs)

        return async_wrapper

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
        return call(fn, *args, **kwargs)

    return wrapper
