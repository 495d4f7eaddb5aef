"""Fault injection shared by the loopback fakes (FakeCDF, FakePlex).

A `FaultPlan` holds an ordered list of `Fault` rules. For each request the server asks the plan which faults fire;
matching is by HTTP method and a regular expression on the request path, limited by `times` and `probability`.
Random draws come from one `random.Random(seed)`, so a given seed and request sequence always gives the same faults.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

FaultKind = Literal["status", "latency", "drop", "commit_then_fail", "commit_then_drop"]
"""What a fault does: answer with an error `status`, add `latency`, `drop` the connection, apply the write and
then answer 503 (`commit_then_fail`), or apply the write and then drop the connection (`commit_then_drop`)."""

_KINDS: frozenset[str] = frozenset({"status", "latency", "drop", "commit_then_fail", "commit_then_drop"})


@dataclass
class Fault:
    """One fault-injection rule.

    Args:
        kind: `"status"` answers `status` (with a `Retry-After: retry_after` header when given) instead of handling
            the request; `"latency"` sleeps `delay_s` and then handles the request normally; `"drop"` resets the
            connection without an answer (the client sees a connection reset / read error); `"commit_then_fail"`
            handles the request (so a write is applied) and then answers `status` (503 by default) instead;
            `"commit_then_drop"` handles the request and then resets the connection (a lost answer: a client that
            re-sends a create then meets 409 `duplicated`).
        status: HTTP status for `"status"` and `"commit_then_fail"` faults.
        retry_after: value of the `Retry-After` header sent with a `"status"` fault (for example `"2"`), or None.
        delay_s: seconds to sleep for a `"latency"` fault.
        method: HTTP method to match (case-insensitive), or None for any.
        path: regular expression searched in the request path (for FakeCDF the path after
            `/api/v1/projects/{project}`, for FakePlex the full path), or None for any path. Use `^...$` to anchor.
        times: how many matching requests the fault hits before it is used up; None (the default) means forever.
        probability: chance that a matching request is hit (drawn from the plan's seeded generator).

    Example:
        >>> fault = Fault("status", status=429, retry_after="1", method="POST", path=r"^/events$", times=2)
    """

    kind: FaultKind
    status: int = 503
    retry_after: str | None = None
    delay_s: float = 0.0
    method: str | None = None
    path: str | None = None
    times: int | None = None
    probability: float = 1.0
    hits: int = field(default=0, init=False, compare=False)
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {sorted(_KINDS)}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"fault probability must be within [0, 1], got {self.probability}")
        if self.times is not None and self.times < 0:
            raise ValueError(f"fault times must be >= 0 or None, got {self.times}")
        self._pattern = re.compile(self.path) if self.path is not None else None

    @property
    def exhausted(self) -> bool:
        """True once the fault has hit `times` requests."""
        return self.times is not None and self.hits >= self.times

    def matches(self, method: str, path: str) -> bool:
        """Return whether this rule applies to a request (ignoring `times` and `probability`)."""
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self._pattern is None or self._pattern.search(path) is not None


class FaultPlan:
    """A thread-safe, seeded list of `Fault` rules.

    Args:
        seed: seed of the random generator used for `probability` draws.
        faults: initial rules.
    """

    def __init__(self, seed: int = 0, faults: Sequence[Fault] = ()) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._faults: list[Fault] = list(faults)

    def add(self, fault: Fault) -> Fault:
        """Append a rule (checked after the existing ones) and return it."""
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        """A copy of the current rules (including used-up ones)."""
        with self._lock:
            return list(self._faults)

    def select(self, method: str, path: str) -> list[Fault]:
        """Pick the faults that fire for one request, and count them as hit.

        Every matching `"latency"` rule fires (their delays add up); of the other kinds only the first matching rule
        fires, and it comes last in the returned list.

        Args:
            method: the request's HTTP method.
            path: the path the rules' regular expressions are matched against.

        Returns:
            The faults to apply, in order; empty when none fires.
        """
        fired: list[Fault] = []
        with self._lock:
            for fault in self._faults:
                if fault.exhausted or not fault.matches(method, path):
                    continue
                if fault.probability < 1.0 and self._random.random() >= fault.probability:
                    continue
                fault.hits += 1
                fired.append(fault)
                if fault.kind != "latency":
                    break
        return fired
