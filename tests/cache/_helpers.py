"""Helpers shared by the cache tests."""

from __future__ import annotations

import math
import struct
from collections.abc import Coroutine
from typing import TypeVar

from hypothesis import strategies as st

from plex_cognite.typing import JSONValue

T = TypeVar("T")


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def run_now(coro: Coroutine[object, object, T]) -> T:
    """Run a coroutine that must finish without ever suspending (proves the memory cache never awaits)."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coro.close()
    raise AssertionError("the coroutine suspended: a memory cache operation awaited something")


def same(a: JSONValue, b: JSONValue) -> bool:
    """Equal with exactly the same types all the way down (1 != 1.0 != True; -0.0 != 0.0; nan == nan)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        assert isinstance(b, float)
        return (math.isnan(a) and math.isnan(b)) or struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, list):
        assert isinstance(b, list)
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
json_values: st.SearchStrategy[JSONValue] = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
