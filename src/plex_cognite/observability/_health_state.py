"""Outcomes per stream (`HealthState`) and the process's readiness (`Readiness`), behind `/healthz` and `/readyz`.

Both are plain thread-safe state objects: the runner (or your own loop) writes them, the health server thread reads
them. Neither does I/O, and `Readiness` takes an injectable clock, so its rules are tested without waiting.

`Readiness` answers "should this process be considered working?":

| situation                                                  | ready | reason given                           |
|------------------------------------------------------------|-------|----------------------------------------|
| a circuit breaker is open                                  | no    | `circuit breaker plex-connect is open` |
| the latest pass failed                                     | no    | `last pass failed: <one line>`         |
| the latest success is older than `max_age_s`               | no    | `no successful pass for 7300s ...`     |
| no pass finished yet, started more than `max_age_s` ago    | no    | `no pass finished in ...`              |
| otherwise (a first pass still running within `max_age_s`)  | yes   |                                        |
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from plex_cognite.observability.logs import redact_text

if TYPE_CHECKING:
    from plex_cognite.config import ExtractorSettings

__all__ = ["HealthState", "Readiness", "short_reason"]

_RUN = "all"
_MAX_MESSAGE = 300


def short_reason(error: BaseException | str, limit: int = _MAX_MESSAGE) -> str:
    """One line from an error, inline credentials masked, cut to `limit` characters (ending in `...`)."""
    if isinstance(error, BaseException):
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    else:
        text = " ".join(line.strip() for line in error.splitlines() if line.strip())
    text = redact_text(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class _StreamHealth:
    last_success: float | None = None
    error_message: str | None = None
    error_type: str | None = None
    error_at: float | None = None

    @property
    def failing(self) -> bool:
        return self.error_at is not None and (self.last_success is None or self.error_at >= self.last_success)


class HealthState:
    """Thread-safe record of the latest success and error per stream (`None` = the run as a whole)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: dict[str, _StreamHealth] = {}

    def record_success(self, stream: str | None = None, *, at: float | None = None) -> None:
        """Note a successful pass of `stream` at Unix time `at` (default now)."""
        moment = datetime.now(UTC).timestamp() if at is None else at
        with self._lock:
            self._streams.setdefault(stream or _RUN, _StreamHealth()).last_success = moment

    def record_error(self, stream: str | None, error: BaseException | str, *, at: float | None = None) -> None:
        """Note a failed pass of `stream` (its message is shortened and scrubbed of inline credentials)."""
        moment = datetime.now(UTC).timestamp() if at is None else at
        message = redact_text(str(error))
        if len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 3] + "..."
        with self._lock:
            entry = self._streams.setdefault(stream or _RUN, _StreamHealth())
            entry.error_message = message
            entry.error_type = type(error).__name__ if isinstance(error, BaseException) else None
            entry.error_at = moment

    def snapshot(self) -> dict[str, Any]:
        """The `/healthz` document: `status`, `last_success` (latest of any stream) and per-stream detail."""
        with self._lock:
            streams = {name: dataclasses.replace(entry) for name, entry in self._streams.items()}
        successes = [entry.last_success for entry in streams.values() if entry.last_success is not None]
        if not streams:
            status = "starting"
        elif any(entry.failing for entry in streams.values()):
            status = "degraded"
        else:
            status = "ok"
        return {
            "status": status,
            "last_success": _iso(max(successes)) if successes else None,
            "streams": {
                name: {
                    "last_success": _iso(entry.last_success),
                    "last_error": None
                    if entry.error_at is None
                    else {"message": entry.error_message, "type": entry.error_type, "at": _iso(entry.error_at)},
                }
                for name, entry in sorted(streams.items())
            },
        }


#: Breaker states that make a process not ready (a half-open breaker is trying again, which is fine).
_BLOCKING_BREAKER_STATES = frozenset({"open"})


class Readiness:
    """Whether the extractor is working: its latest pass succeeded recently and no circuit breaker is open.

    The runner calls `mark_pass_succeeded()` / `mark_pass_failed(reason)` after each pass; breakers report through
    `on_state_change` (a `BreakerListener`: `ExtractorMetrics` forwards its breakers' changes here). The health
    server answers `/readyz` from `check()`.

    Args:
        max_age_s: Longest time since the latest successful pass (or since start, before the first one) that still
            counts as ready; None never goes stale. For continuous mode, about twice `extraction.interval` plus the
            time one pass takes.
        clock: Unix time source (tests inject a fake one).

    Example:
        ```python
        readiness = Readiness(max_age_s=2 * 3600)
        readiness.mark_pass_failed("PlexAPIError: 401 Unauthorized")
        readiness.check()   # (False, ["last pass failed: PlexAPIError: 401 Unauthorized"])
        ```
    """

    def __init__(self, max_age_s: float | None = None, *, clock: Callable[[], float] = time.time) -> None:
        if max_age_s is not None and max_age_s <= 0:
            raise ValueError(f"max_age_s must be > 0 or None, got {max_age_s}")
        self.max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._started = clock()
        self._last_success: float | None = None
        self._last_failure: float | None = None
        self._failure_reason: str | None = None
        self._breakers: dict[str, str] = {}

    @classmethod
    def from_settings(cls, settings: ExtractorSettings) -> Readiness:
        """Readiness for a continuous run: stale after `metrics.ready_max_age`, default twice `extraction.interval`."""
        max_age = settings.metrics.ready_max_age or 2 * settings.extraction.interval
        return cls(max_age.total_seconds())

    def mark_pass_succeeded(self, *, at: float | None = None) -> None:
        """A pass over every stream finished without a failed stream."""
        with self._lock:
            self._last_success = self._clock() if at is None else at
            self._failure_reason = None

    def mark_pass_failed(self, reason: BaseException | str, *, at: float | None = None) -> None:
        """A pass failed; `reason` (an error or one line) is shortened and scrubbed of inline credentials."""
        with self._lock:
            self._last_failure = self._clock() if at is None else at
            self._failure_reason = short_reason(reason)

    def on_state_change(self, name: str, old: str, new: str) -> None:
        """`BreakerListener`: remember the state of breaker `name`."""
        with self._lock:
            self._breakers[name] = str(new)

    def on_rejected(self, name: str, retry_in: float) -> None:
        """`BreakerListener`: refusals do not change readiness (the state change already did)."""

    def check(self) -> tuple[bool, list[str]]:
        """`(ready, reasons)`: reasons name every rule that fails (empty when ready)."""
        now = self._clock()
        with self._lock:
            reasons = [
                f"circuit breaker {name} is {state.replace('_', ' ')}"
                for name, state in sorted(self._breakers.items())
                if state in _BLOCKING_BREAKER_STATES
            ]
            if self._failure_reason is not None:
                reasons.append(f"last pass failed: {self._failure_reason}")
            if self.max_age_s is not None:
                if self._last_success is not None and now - self._last_success > self.max_age_s:
                    reasons.append(
                        f"no successful pass for {now - self._last_success:.0f}s (allowed {self.max_age_s:.0f}s)"
                    )
                elif self._last_success is None and now - self._started > self.max_age_s:
                    reasons.append(f"no pass finished in {now - self._started:.0f}s (allowed {self.max_age_s:.0f}s)")
        return not reasons, reasons

    def snapshot(self) -> dict[str, Any]:
        """The `/readyz` document: `ready`, `reasons`, `last_success`, `breakers`."""
        ready, reasons = self.check()
        with self._lock:
            last_success, breakers = self._last_success, dict(self._breakers)
        return {
            "ready": ready,
            "reasons": reasons,
            "last_success": _iso(last_success),
            "breakers": dict(sorted(breakers.items())),
        }
