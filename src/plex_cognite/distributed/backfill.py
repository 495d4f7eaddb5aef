"""Scale-out: plan a history backfill as serialisable work units, run them on any `concurrent.futures.Executor`.

    units = plan_backfill(settings, start=..., end=..., unit_window=timedelta(days=7))
    report = run_backfill(units, settings, executor=ProcessPoolExecutor(4, mp_context=get_context("spawn")))

- `plan_backfill` cuts `[start, end)` into `WorkUnit`s, one per PCN x windowed stream (`production`, `scrap`,
  `workcenter_status`) x window aligned to `start + k * unit_window`, leaving out what is already complete: units
  recorded in the backfill ledger, and windows the live extraction state already covers. The plan is deterministic,
  so it can be computed once and handed to an orchestrator as JSON (an Airflow `.expand()`, a Kubernetes Indexed
  Job picking `plan[JOB_COMPLETION_INDEX]`).
- `run_backfill` submits `run_unit(unit, settings)` for every unit to the executor you give it (thread and process
  pools, `dask.distributed`'s `client.get_executor(pure=False)`, Ray's `RayExecutor()`), with a bounded number in
  flight; without one it runs them here, one after the other. A failed unit does not stop the others.
- `run_unit` is a top-level function of picklable arguments: it builds its own Plex and CDF clients from the
  settings, runs the stream for the unit's window through the normal extractor (idempotent upserts), and records the
  unit as complete in the ledger beside the shared state store (CDF RAW or Redis, per `settings.state`). It never
  moves the live watermark: the normal runner's state is not written at all.

Snapshot streams (`master_data`, `jobs`) have no time axis to split and keep their change-detection hashes in the
live state, so they are not planned: run them first with the normal runner (`run_extractors` / `plex-cognite run`
with `extraction.streams: [master_data, jobs]`), because windowed records link to the assets master data creates.

Plex allows about 200 calls per minute per API key. Units on the threads of one process share one local limiter;
units in several processes share one `RedisTokenBucketRateLimiter` when a Redis URL is known (the argument
`rate_limit_redis_url`, else `state.redis_url`, else `cache.redis_url`), and otherwise each process has its own limit.
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from plex_cognite.core.sync import run_sync
from plex_cognite.core.windows import IntervalSet, plan_windows
from plex_cognite.distributed._ledger import ledger_location, open_ledger
from plex_cognite.distributed._model import (
    SNAPSHOT_STREAMS,
    WINDOWED_STREAMS,
    BackfillReport,
    UnitResult,
    UnitStatus,
    WorkUnit,
)
from plex_cognite.distributed._run import execute_unit
from plex_cognite.errors import ConfigurationError
from plex_cognite.observability.logs import get_logger

if TYPE_CHECKING:
    from plex_cognite.config import ExtractorSettings

__all__ = [
    "DEFAULT_UNIT_WINDOW",
    "SNAPSHOT_STREAMS",
    "WINDOWED_STREAMS",
    "BackfillReport",
    "UnitResult",
    "UnitStatus",
    "WorkUnit",
    "plan_backfill",
    "run_backfill",
    "run_unit",
]

_log = get_logger(__name__)

#: Default length of one unit's window: a week of history per PCN and stream.
DEFAULT_UNIT_WINDOW = timedelta(days=7)


def plan_backfill(
    settings: ExtractorSettings,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    unit_window: timedelta | None = None,
    streams: Sequence[str] | None = None,
    pcns: Sequence[str] | None = None,
    retry_deferred: bool = False,
) -> list[WorkUnit]:
    """Cut `[start, end)` of history into the work units still to do.

    Units are aligned to `start + k * unit_window` for every PCN and windowed stream; anything recorded complete in
    the backfill ledger, or covered by the live state's completed windows, is left out (partly covered windows
    yield units for the uncovered parts only). Ordered by PCN, stream, then time.

    Args:
        settings: The settings (`state` says where the ledger and live state are).
        start: History start (aware); default `extraction.start`.
        end: History end, exclusive (aware); default `extraction.end`, else now.
        unit_window: Length of one unit's window (> 0); default 7 days. Inside a unit, Plex is still read in
            `extraction.window` pieces.
        streams: Windowed streams to plan; default the windowed streams among `extraction.streams`.
        pcns: PCNs to plan; default `plex.pcns`.
        retry_deferred: Plan again the completed units that hold items deferred for a missing asset (after the
            missing assets have been created).

    Returns:
        The units to run (empty when everything is complete).

    Raises:
        ConfigurationError: A snapshot or unknown stream, an unconfigured PCN, naive or reversed bounds, or a
            non-positive `unit_window`.
        StateError: The ledger or the live state cannot be read.

    Example:
        >>> units = plan_backfill(settings, unit_window=timedelta(days=7))  # doctest: +SKIP
        >>> json.dumps([u.to_json() for u in units])  # doctest: +SKIP
    """
    chosen_streams = _streams(settings, streams)
    chosen_pcns = _pcns(settings, pcns)
    window = unit_window if unit_window is not None else DEFAULT_UNIT_WINDOW
    if window <= timedelta(0):
        raise ConfigurationError(f"unit_window must be positive, got {window}", field="unit_window")
    history_start = start if start is not None else settings.extraction.start
    history_end = end if end is not None else (settings.extraction.end or datetime.now(UTC))
    if history_start.tzinfo is None or history_end.tzinfo is None:
        raise ConfigurationError("backfill start and end must be timezone-aware (UTC)", field="start")
    if history_start >= history_end:
        raise ConfigurationError(
            f"backfill start {history_start.isoformat()} is not before end {history_end.isoformat()}", field="start"
        )
    keys = [(pcn, stream) for pcn in chosen_pcns for stream in chosen_streams]
    done = run_sync(lambda: _done_intervals(settings, keys, retry_deferred))
    units = [
        WorkUnit(pcn, stream, window_start, window_end)
        for pcn, stream in keys
        for window_start, window_end in plan_windows(done[(pcn, stream)], history_start, history_end, window)
    ]
    _log.info(
        "backfill planned",
        units=len(units),
        pcns=chosen_pcns,
        streams=chosen_streams,
        start=history_start.isoformat(),
        end=history_end.isoformat(),
        ledger=ledger_location(settings),
    )
    return units


def _streams(settings: ExtractorSettings, streams: Sequence[str] | None) -> list[str]:
    if streams is None:
        return [s for s in settings.extraction.streams if s in WINDOWED_STREAMS]
    for stream in streams:
        if stream in SNAPSHOT_STREAMS:
            raise ConfigurationError(
                f"{stream} is a snapshot stream (read whole, no time windows): it is not backfilled in units; run it "
                "first with the normal runner (run_extractors, or plex-cognite run) with extraction.streams: "
                f"[{stream}]",
                field="streams",
            )
        if stream not in WINDOWED_STREAMS:
            raise ConfigurationError(
                f"unknown stream {stream!r}; backfill units exist for {', '.join(WINDOWED_STREAMS)}", field="streams"
            )
    return list(dict.fromkeys(streams))


def _pcns(settings: ExtractorSettings, pcns: Sequence[str] | None) -> list[str]:
    if pcns is None:
        return list(settings.plex.pcns)
    unknown = [pcn for pcn in pcns if pcn not in settings.plex.pcns]
    if unknown:
        raise ConfigurationError(
            f"PCN(s) {', '.join(unknown)} are not configured; add them to plex.pcns", field="plex.pcns"
        )
    return list(dict.fromkeys(pcns))


async def _done_intervals(
    settings: ExtractorSettings, keys: list[tuple[str, str]], retry_deferred: bool
) -> dict[tuple[str, str], IntervalSet]:
    from plex_cognite.cdf.client import build_async_cognite_client
    from plex_cognite.runner import build_state_store

    cdf = build_async_cognite_client(settings.cdf) if settings.state.backend == "raw" else None
    done = {key: IntervalSet() for key in keys}
    ledger = open_ledger(settings, cdf)
    try:
        for unit, deferred in await ledger.entries():
            key = (unit.pcn, unit.stream)
            if key in done and not (retry_deferred and deferred):
                done[key].add(unit.start, unit.end)
    finally:
        await ledger.close()
    live = build_state_store(settings, cdf)
    try:
        for pcn, stream in keys:
            done[(pcn, stream)].update((await live.load(pcn, stream)).windows)
    finally:
        await live.close()
    return done


def run_unit(unit: WorkUnit, settings: ExtractorSettings, *, rate_limit_redis_url: str | None = None) -> UnitResult:
    """Run one work unit here and now: the function executors run, and the entry point for orchestrators.

    Builds its own clients from `settings`, skips the unit if the ledger already has it, runs the stream for the
    unit's window through the normal extractor, and records the unit complete when its whole window was written.
    It is a top-level function of picklable arguments, so any executor can ship it to a worker; it works in plain
    threads, processes and inside a running event loop (Jupyter).

    Args:
        unit: The unit.
        settings: The settings (same as for planning).
        rate_limit_redis_url: Redis for a Plex rate limit shared by every worker; default `state.redis_url`, else
            `cache.redis_url`, else a limiter shared by this process only.

    Returns:
        The unit's result; a failure is reported in it (`status == "failed"`, `error`), not raised.

    Example:
        A Kubernetes Indexed Job, one pod per unit of a plan computed once and mounted as JSON:

        >>> plan = json.loads(Path("/plan/units.json").read_text())  # doctest: +SKIP
        >>> unit = WorkUnit.from_json(plan[int(os.environ["JOB_COMPLETION_INDEX"])])  # doctest: +SKIP
        >>> run_unit(unit, settings).status  # doctest: +SKIP
        'done'
    """
    url = _shared_limit_url(settings, rate_limit_redis_url)
    return run_sync(lambda: execute_unit(unit, settings, url))


def _shared_limit_url(settings: ExtractorSettings, rate_limit_redis_url: str | None) -> str | None:
    """The Redis for a Plex rate limit shared by every worker: the argument, else `state`'s, else `cache`'s."""
    return rate_limit_redis_url or settings.state.redis_url or settings.cache.redis_url


def run_backfill(
    units: Iterable[WorkUnit],
    settings: ExtractorSettings,
    executor: Executor | None = None,
    *,
    max_in_flight: int | None = None,
    rate_limit_redis_url: str | None = None,
    on_result: Callable[[UnitResult], None] | None = None,
) -> BackfillReport:
    """Run every unit, on `executor` or (without one) here, one after the other.

    Args:
        units: Units from `plan_backfill` (duplicates are run once).
        settings: The settings; shipped to workers, so they must pickle (they do, secrets included).
        executor: Any `concurrent.futures.Executor`; the caller owns it (it is not shut down). With the `local`
            state backend only a `ThreadPoolExecutor` (or none) is accepted: a local file cannot be shared by
            processes or hosts.
        max_in_flight: Units submitted but not finished at any time (default: twice the pool's workers, or twice
            the CPU count), so huge plans do not flood the executor.
        rate_limit_redis_url: See `run_unit`.
        on_result: Called in this process with each unit's result as it finishes (progress); must not raise.

    Returns:
        One result per unit, in the order given; `report.ok` is False when any unit failed (run the plan again to
        retry exactly those).

    Raises:
        ConfigurationError: The `local` state backend with a multi-process executor, or settings that cannot be
            pickled for a multi-process executor.
    """
    started = time.monotonic()
    plan = list(dict.fromkeys(units))
    _check_executor(settings, executor, plan)
    report = BackfillReport()
    shared_limit = _shared_limit_url(settings, rate_limit_redis_url)
    if executor is not None and not isinstance(executor, ThreadPoolExecutor) and shared_limit is None:
        _log.warning(
            "no Redis URL for a shared Plex rate limit: each worker process keeps plex.rate_limit_per_minute on its "
            "own, so the total can exceed the Plex budget; pass rate_limit_redis_url or lower the per-process rate",
            rate_limit_per_minute=settings.plex.rate_limit_per_minute,
        )
    _log.info("backfill starting", units=len(plan), executor=type(executor).__name__ if executor else "in-process")
    if executor is None:
        results = []
        for unit in plan:
            result = run_unit(unit, settings, rate_limit_redis_url=rate_limit_redis_url)
            _notify(on_result, result)
            results.append(result)
    else:
        results = _run_on(
            executor, plan, settings, max_in_flight or _default_in_flight(executor), rate_limit_redis_url, on_result
        )
    report.results = results
    report.duration_s = time.monotonic() - started
    _log.info(
        "backfill finished",
        ok=report.ok,
        done=len(report.by_status("done")),
        skipped=len(report.by_status("skipped")),
        failed=len(report.failed),
        written=report.total("written"),
        seconds=round(report.duration_s, 3),
        errors=report.errors[:10],
    )
    return report


def _check_executor(settings: ExtractorSettings, executor: Executor | None, plan: list[WorkUnit]) -> None:
    if executor is None or isinstance(executor, ThreadPoolExecutor):
        return
    if settings.state.backend == "local":
        raise ConfigurationError(
            f"state.backend is local (a file on this machine), but {type(executor).__name__} may run units in other "
            "processes or hosts, which cannot share it: use state.backend raw (CDF RAW) or redis, or a "
            "ThreadPoolExecutor",
            field="state.backend",
        )
    try:
        pickle.dumps((settings, plan[:1]))
    except Exception as error:
        raise ConfigurationError(
            f"settings cannot be pickled for {type(executor).__name__} workers ({error}); build them with "
            "load_settings(...) or ExtractorSettings(...) only"
        ) from error


def _default_in_flight(executor: Executor) -> int:
    workers = getattr(executor, "_max_workers", None)
    return 2 * (workers if isinstance(workers, int) and workers > 0 else os.cpu_count() or 2)


def _notify(on_result: Callable[[UnitResult], None] | None, result: UnitResult) -> None:
    if on_result is None:
        return
    try:
        on_result(result)
    except Exception:  # a progress callback must not stop the backfill
        _log.warning("backfill on_result callback failed", unit=result.unit.id, exc_info=True)


def _run_on(
    executor: Executor,
    plan: list[WorkUnit],
    settings: ExtractorSettings,
    limit: int,
    rate_limit_redis_url: str | None,
    on_result: Callable[[UnitResult], None] | None,
) -> list[UnitResult]:
    results: list[UnitResult | None] = [None] * len(plan)
    pending: dict[Future[UnitResult], int] = {}
    queue = iter(range(len(plan)))

    def fill() -> None:
        while len(pending) < max(1, limit):
            index = next(queue, None)
            if index is None:
                return
            try:
                future = executor.submit(run_unit, plan[index], settings, rate_limit_redis_url=rate_limit_redis_url)
            except Exception as error:  # a shut-down or broken executor: report the unit, try the rest
                results[index] = _lost(plan[index], "could not submit", error)
                _notify(on_result, results[index])  # type: ignore[arg-type]
                continue
            pending[future] = index

    fill()
    while pending:
        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in finished:
            index = pending.pop(future)
            try:
                result = future.result()
            except Exception as error:  # the worker died (BrokenProcessPool), or the result did not unpickle
                result = _lost(plan[index], "worker failed", error)
            results[index] = result
            _notify(on_result, result)
        fill()
    return [r if r is not None else _lost(plan[i], "never ran", None) for i, r in enumerate(results)]


def _lost(unit: WorkUnit, what: str, error: BaseException | None) -> UnitResult:
    detail = f": {type(error).__name__}: {error}" if error is not None else ""
    _log.error("backfill unit lost", unit=unit.id, error=f"{what}{detail}")
    return UnitResult(unit, "failed", error=f"{what}{detail}")
