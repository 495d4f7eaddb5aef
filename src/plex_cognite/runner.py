"""Run every configured stream of every configured PCN: `run_extractors(settings)`.

Structure (one `asyncio.TaskGroup` per level, so nothing outlives the run):

    run  -- PCN 1 -- master_data, then (jobs | production | scrap | workcenter_status | your streams) concurrently
         -- PCN 2 -- ...

Streams whose items link to no assets (`needs_assets = False`, such as master data) run before the others; streams
whose items link to no parts (`needs_parts = False`: production, scrap) start as soon as the asset streams have
written the plant, buildings and workcenters. A stream that fails is reported (one line in its `StreamReport.error`)
and does not stop its siblings; streams that need assets are skipped for a PCN whose asset streams failed (before
writing the upper levels, for those that need no parts). `RunReport.ok` tells whether everything succeeded.

The streams are the names in `extraction.streams`: built-ins, or extractors installed packages register under the
entry-point group `plex_cognite.extractors`; `extractors=[MyExtractor]` runs extractor classes directly.

`run_extractors_sync(settings)` is the same for scripts and notebooks (it works inside Jupyter's running loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from plex_cognite._memory import collector_tuned
from plex_cognite._reach import reach_upstreams
from plex_cognite._report_table import format_report
from plex_cognite.core.deadletters import DeadLetterStore
from plex_cognite.core.extractor import BaseExtractor
from plex_cognite.core.report import StreamReport
from plex_cognite.core.sync import run_sync
from plex_cognite.errors import PlexCogniteError, one_line
from plex_cognite.extractors.registry import ExtractorFactory, load_extractor
from plex_cognite.extractors.resources import (
    ExtractorResources,
    build_dead_letter_store,
    build_state_store,
    context_for,
    open_resources,
)
from plex_cognite.observability.logs import bind_context, get_logger, new_run_id
from plex_cognite.typing import RateLimiter, StateStore

if TYPE_CHECKING:
    from cognite.client import AsyncCogniteClient

    from plex_cognite.config import ExtractorSettings
    from plex_cognite.observability.metrics import ExtractorMetrics

__all__ = [
    "ExtractorFactory",
    "RunReport",
    "RunResources",
    "build_dead_letter_store",
    "build_state_store",
    "run_extractors",
    "run_extractors_sync",
]

_log = get_logger(__name__)

#: The former name of `ExtractorResources`.
RunResources = ExtractorResources


@dataclass
class RunReport:
    """What a run did, per PCN and stream.

    Attributes:
        run_id: Correlation id (also on every log event of the run).
        streams: One report per (PCN, stream), in start order.
        started_at: Start time (aware UTC).
        duration_s: Wall time.
        stopped: Why the run was stopped before its end (`run_extractors(stop=...)`), or None.
    """

    run_id: str
    streams: list[StreamReport] = field(default_factory=list)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    duration_s: float = 0.0
    stopped: str | None = None

    @property
    def ok(self) -> bool:
        """True when every stream succeeded and the run was not stopped."""
        return self.stopped is None and all(report.ok for report in self.streams)

    @property
    def errors(self) -> list[str]:
        """One line per failed stream."""
        return [f"PCN {r.pcn} {r.stream}: {r.error}" for r in self.streams if r.error is not None]

    def total(self, name: str) -> int:
        """The sum of one counter (`read`, `written`, `requests`, ...) over all streams."""
        return sum(int(getattr(report, name)) for report in self.streams)

    def format_table(self, *, legend: bool = False) -> str:
        """A fixed-width table for terminals and logs (with `legend`, a line per column saying what it counts)."""
        return format_report(self, legend=legend)

    def raise_for_errors(self) -> None:
        """Raise `PlexCogniteError` naming the failed streams, if any failed."""
        if not self.ok:
            raise PlexCogniteError("; ".join(self.errors))


async def run_extractors(
    settings: ExtractorSettings,
    *,
    extractors: Sequence[ExtractorFactory] | None = None,
    extra_extractors: Sequence[ExtractorFactory] = (),
    state_store: StateStore | None = None,
    dead_letters: DeadLetterStore | None = None,
    cognite_client: AsyncCogniteClient | None = None,
    on_progress: Callable[[StreamReport], None] | None = None,
    run_id: str | None = None,
    metrics: ExtractorMetrics | None = None,
    rate_limiter: RateLimiter | None = None,
    stop: asyncio.Event | None = None,
) -> RunReport:
    """Run all configured PCNs and streams once, to `extraction.end` (or now).

    Args:
        settings: Validated settings (`load_settings(...)`).
        extractors: Extractor classes (or factories taking `(context, resources)`) to run instead of the streams
            in `extraction.streams`.
        extra_extractors: Extractors run in addition to the configured streams.
        state_store: Override the store `settings.state` describes.
        dead_letters: Override the store `settings.dead_letters` describes.
        cognite_client: An `AsyncCogniteClient` to use instead of one built from `settings.cdf`.
        on_progress: Called with a stream's report whenever it commits state (progress counters).
        run_id: Correlation id for logs (default: a new one).
        metrics: Prometheus metrics to update (requests, records, writes, latencies, caches, watermarks, stream
            health); default none.
        rate_limiter: A `RateLimiter` for Plex calls instead of the per-process default (for example a
            `RedisTokenBucketRateLimiter` shared by several worker processes).
        stop: Set it to stop the run gracefully: in-flight writes are abandoned, what CDF acknowledged is committed,
            and the partial report comes back with `stopped` set (the reason is `str(stop)` unless the event has
            a `reason` attribute).

    Returns:
        The run report; check `report.ok` (failed streams are reported, not raised).

    Raises:
        ConfigurationError: When settings cannot work (for example an unknown data set or stream name).
        UnreachableError: Plex or CDF cannot be reached within the connect budgets.
        StateError: When the state store cannot be opened.
    """
    report = RunReport(run_id or new_run_id())
    started = time.monotonic()
    if extractors is not None:
        factories = list(extractors)
    else:
        factories = [load_extractor(name) for name in settings.extraction.streams]
    factories += list(extra_extractors)
    extraction = settings.extraction
    run_end = extraction.end or datetime.now(UTC)
    with bind_context(run_id=report.run_id), collector_tuned(extraction.tune_memory):
        _log.info("run starting", pcns=list(settings.plex.pcns), streams=list(extraction.streams))
        try:
            await reach_upstreams(settings)
            async with open_resources(
                settings,
                cognite_client=cognite_client,
                state_store=state_store,
                dead_letters=dead_letters,
                metrics=metrics,
                rate_limiter=rate_limiter,
            ) as resources:

                async def every_pcn() -> None:
                    async with asyncio.TaskGroup() as group:
                        for pcn in settings.plex.pcns:
                            context = context_for(resources, pcn, end=run_end, on_progress=on_progress)
                            if metrics is not None:
                                context.on_watermark = functools.partial(metrics.record_watermark, pcn)
                            extractors_ = [factory(context, resources) for factory in factories]
                            group.create_task(_run_pcn(extractors_, report, metrics))

                try:
                    report.stopped = await _until_done_or_stopped(every_pcn(), stop)
                finally:
                    await resources.dead_letters.flush()
        finally:
            report.duration_s = time.monotonic() - started
        if metrics is not None:
            reason = " | ".join(report.errors) or report.stopped
            metrics.record_pass(ok=report.ok, seconds=report.duration_s, reason=reason)
        _log.info(
            "run finished" if report.stopped is None else "run stopped",
            ok=report.ok,
            stopped=report.stopped,
            seconds=round(report.duration_s, 3),
            read=report.total("read"),
            written=report.total("written"),
            datapoints=report.total("datapoints"),
            unchanged=report.total("unchanged"),
            deferred=report.total("deferred"),
            dead_lettered=report.total("dead_lettered"),
            requests=report.total("requests"),
            errors=report.errors,
        )
    return report


async def _until_done_or_stopped(work: Coroutine[Any, Any, None], stop: asyncio.Event | None) -> str | None:
    """Run `work`; when `stop` is set first, cancel it (extractors commit what was acknowledged) and say why."""
    if stop is None:
        await work
        return None
    task = asyncio.ensure_future(work)
    waiter = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if task.done():
        task.result()
        return None
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return str(getattr(stop, "reason", None) or "stop requested")


async def _run_pcn(extractors: Sequence[BaseExtractor], report: RunReport, metrics: ExtractorMetrics | None) -> None:
    """Run one PCN's extractors: those that link to no assets first, then the rest concurrently.

    Streams that need no parts start as soon as every asset stream has written its upper levels.
    """
    if not extractors:
        return
    pcn = extractors[0].pcn
    first = [e for e in extractors if not e.needs_assets]
    early = [e for e in extractors if e.needs_assets and not e.needs_parts]
    rest = [e for e in extractors if e.needs_assets and e.needs_parts]
    with bind_context(pcn=pcn):
        async with asyncio.TaskGroup() as outer:
            async with asyncio.TaskGroup() as group:
                for extractor in first:
                    group.create_task(_run_one(extractor, report, metrics))
                if early:
                    outer.create_task(_run_after_upper_assets(first, early, report, metrics))
            names = {extractor.stream for extractor in first}
            failed_first = [r.stream for r in report.streams if r.pcn == pcn and not r.ok and r.stream in names]
            if failed_first:
                _skip(rest, failed_first, report)
                return
            for extractor in rest:
                outer.create_task(_run_one(extractor, report, metrics))


async def _run_after_upper_assets(
    first: Sequence[BaseExtractor], early: Sequence[BaseExtractor], report: RunReport, metrics: ExtractorMetrics | None
) -> None:
    """Run `early` once every stream of `first` wrote its upper asset levels; skip them if one failed before."""
    ready = [await extractor.upper_assets_ready() for extractor in first]
    failed = [extractor.stream for extractor, ok in zip(first, ready, strict=True) if not ok]
    if failed:
        _skip(early, failed, report)
        return
    async with asyncio.TaskGroup() as group:
        for extractor in early:
            group.create_task(_run_one(extractor, report, metrics))


def _skip(extractors: Sequence[BaseExtractor], failed: Sequence[str], report: RunReport) -> None:
    for extractor in extractors:
        report.streams.append(
            StreamReport(extractor.pcn, extractor.stream, error=f"skipped: {', '.join(failed)} failed")
        )


async def _run_one(extractor: BaseExtractor, run: RunReport, metrics: ExtractorMetrics | None = None) -> None:
    with bind_context(stream=extractor.stream):
        _log.info("stream starting")
        report = StreamReport(extractor.pcn, extractor.stream)
        try:
            await extractor.run(report)
        except asyncio.CancelledError:
            report.error = "stopped before its end; what CDF acknowledged is committed"
            raise
        except Exception as error:  # reported per stream; siblings go on
            report.error = one_line(error)
            _log.error("stream failed", error=report.error)
            _log.debug("stream failure traceback", exc_info=True)
            if metrics is not None:
                metrics.record_error(extractor.stream, error, seconds=report.duration_s)
        else:
            if metrics is not None:
                metrics.record_success(extractor.stream, seconds=report.duration_s)
        finally:
            run.streams.append(report)
            _log.info("stream finished", **{k: v for k, v in report.as_dict().items() if k not in ("pcn", "stream")})


def run_extractors_sync(settings: ExtractorSettings, **kwargs: Any) -> RunReport:
    """`run_extractors` for synchronous code: plain scripts and Jupyter notebooks alike.

    Args:
        settings: Validated settings.
        **kwargs: As for `run_extractors`.

    Returns:
        The run report.
    """
    return run_sync(lambda: run_extractors(settings, **kwargs))
