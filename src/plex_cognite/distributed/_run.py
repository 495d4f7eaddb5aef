"""Running one work unit inside a worker: own clients, the library's own extractor, a scratch state, the ledger.

The unit goes through `run_extractors` (the same extractor, pipeline, sinks and resolver as a normal run) with
settings narrowed to the unit (one PCN, one stream, `start`/`end` = the unit's window) and a *scratch* state store:
the extractor commits windows, watermark and deferred items there, never to the live state, so a backfill never
moves the live watermark. The unit is complete when the scratch state covers its whole window; only then is it
recorded in the ledger (with any deferred items), so a crash or failure anywhere means the unit runs again.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from plex_cognite.core.state import MemoryStateStore
from plex_cognite.distributed._ledger import Ledger, completion_record, open_ledger
from plex_cognite.distributed._model import WINDOWED_STREAMS, UnitResult, WorkUnit
from plex_cognite.errors import one_line
from plex_cognite.observability.logs import bind_context, get_logger
from plex_cognite.typing import JSONValue, RateLimiter

if TYPE_CHECKING:
    from plex_cognite.config import ExtractorSettings
    from plex_cognite.core.extractor import StreamReport

__all__ = ["execute_unit", "unit_settings"]

_log = get_logger("plex_cognite.distributed")


def unit_settings(settings: ExtractorSettings, unit: WorkUnit) -> ExtractorSettings:
    """`settings` narrowed to the unit: its PCN, its stream, its window."""
    plex = settings.plex.model_copy(
        update={"pcns": [unit.pcn], "tenant_ids": {k: v for k, v in settings.plex.tenant_ids.items() if k == unit.pcn}}
    )
    extraction = settings.extraction.model_copy(update={"streams": [unit.stream], "start": unit.start, "end": unit.end})
    return settings.model_copy(update={"plex": plex, "extraction": extraction})


# One local limiter per process and (rate, burst): units running on threads of one process share its budget.
_LOCAL_LIMITERS: dict[tuple[float, float | None], RateLimiter] = {}
_LOCAL_LIMITERS_GUARD = threading.Lock()


def _process_limiter(settings: ExtractorSettings) -> RateLimiter:
    from plex_cognite.resilience.ratelimit import TokenBucketRateLimiter

    key = (float(settings.plex.rate_limit_per_minute), settings.plex.rate_limit_burst)
    with _LOCAL_LIMITERS_GUARD:
        limiter = _LOCAL_LIMITERS.get(key)
        if limiter is None:
            limiter = _LOCAL_LIMITERS[key] = TokenBucketRateLimiter(key[0], key[1])
        return limiter


async def execute_unit(unit: WorkUnit, settings: ExtractorSettings, rate_limit_redis_url: str | None) -> UnitResult:
    """Run one unit to completion (or failure); never raises for a unit-level failure."""
    from plex_cognite.cdf.client import build_async_cognite_client
    from plex_cognite.resilience.redis_ratelimit import RedisTokenBucketRateLimiter
    from plex_cognite.runner import run_extractors

    started = time.monotonic()
    result = UnitResult(unit)
    if unit.stream not in WINDOWED_STREAMS:
        result.error = f"stream {unit.stream!r} cannot be backfilled in units (windowed streams: {WINDOWED_STREAMS})"
        return result
    redis_limiter: RedisTokenBucketRateLimiter | None = None
    with bind_context(unit=unit.id, pcn=unit.pcn, stream=unit.stream):
        try:
            cdf = build_async_cognite_client(settings.cdf)
            ledger = open_ledger(settings, cdf)
            try:
                if await ledger.is_done(unit):
                    result.status = "skipped"
                    _log.info("backfill unit already complete; skipped")
                    return result
                limiter: RateLimiter
                if rate_limit_redis_url is not None:
                    limiter = redis_limiter = RedisTokenBucketRateLimiter(
                        rate_limit_redis_url, settings.plex.rate_limit_per_minute, settings.plex.rate_limit_burst
                    )
                else:
                    limiter = _process_limiter(settings)
                # The unit's own state, starting empty: the live state (watermark, windows) is never touched.
                scratch = MemoryStateStore()
                run = await run_extractors(
                    unit_settings(settings, unit),
                    state_store=scratch,
                    cognite_client=cdf,
                    run_id=f"backfill-{unit.id}",
                    rate_limiter=limiter,
                )
                await _conclude(unit, run.streams, scratch, ledger, result)
            finally:
                await ledger.close()
        except Exception as error:  # a unit failure is reported, never raised: the other units go on
            result.status = "failed"
            result.error = one_line(error)
            _log.error("backfill unit failed", error=result.error)
            _log.debug("backfill unit failure traceback", exc_info=True)
        finally:
            if redis_limiter is not None:
                await redis_limiter.aclose()
            result.duration_s = time.monotonic() - started
    return result


async def _conclude(
    unit: WorkUnit, streams: list[StreamReport], scratch: MemoryStateStore, ledger: Ledger, result: UnitResult
) -> None:
    """Copy the stream's counters, decide completeness, and record the unit when complete."""
    report: StreamReport | None = next((s for s in streams if s.stream == unit.stream), None)
    if report is None:
        result.error = f"the {unit.stream} stream did not run"
        return
    result.read, result.written, result.unchanged = report.read, report.written, report.unchanged
    result.dead_lettered, result.requests = report.dead_lettered, report.requests
    state = await scratch.load(unit.pcn, unit.stream)
    result.deferred = len(state.deferred)
    if report.error is not None:
        result.error = report.error
        return
    gaps = state.windows.gaps(unit.start, unit.end)
    if gaps:
        first_start, first_end = gaps[0]
        result.error = (
            f"{len(gaps)} window(s) not completed, first [{first_start.isoformat()}, {first_end.isoformat()}): "
            "records there refer to workcenters with no asset or time series yet; run master_data first "
            "(the normal runner), then run the plan again"
        )
        return
    counters: dict[str, JSONValue] = {
        "read": result.read,
        "written": result.written,
        "deferred": result.deferred,
        "dead_lettered": result.dead_lettered,
    }
    await ledger.record(unit, completion_record(unit, counters, dict(state.deferred)))
    result.status = "done"
    _log.info("backfill unit complete", read=result.read, written=result.written, deferred=result.deferred)
