"""Run every configured stream of every configured PCN: `run_extractors(settings)`.

Structure (one `asyncio.TaskGroup` per level, so nothing outlives the run):

    run  -- PCN 1 -- master_data, then (jobs | production | scrap | workcenter_status | your streams) concurrently
         -- PCN 2 -- ...

Master data always runs before the streams that link to its assets. A stream that fails is reported (one line in
its `StreamReport.error`) and does not stop its siblings; streams that need assets are skipped for a PCN whose
master data failed. `RunReport.ok` tells whether everything succeeded.

`run_extractors_sync(settings)` is the same for scripts and notebooks (it works inside Jupyter's running loop).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from plex_cognite.cdf.ids import ExternalIdScheme
from plex_cognite.core.deadletters import DeadLetterStore, LocalDeadLetterStore, RawDeadLetterStore
from plex_cognite.core.extractor import Extractor, ExtractorContext, StreamReport
from plex_cognite.core.state import LocalStateStore, RawStateStore, RedisStateStore
from plex_cognite.core.sync import run_sync
from plex_cognite.errors import ConfigurationError, PlexCogniteError, one_line
from plex_cognite.observability.logs import bind_context, get_logger, new_run_id
from plex_cognite.typing import RateLimiter, StateStore

if TYPE_CHECKING:
    from cognite.client import AsyncCogniteClient

    from plex_cognite.cdf.resolver import AssetIDResolver
    from plex_cognite.cdf.sinks import AssetSink, DatapointsSink, EventSink, TimeSeriesSink
    from plex_cognite.config import ExtractorSettings
    from plex_cognite.observability.metrics import ExtractorMetrics
    from plex_cognite.plex.client import AsyncPlexClient

__all__ = ["RunReport", "RunResources", "build_state_store", "run_extractors", "run_extractors_sync"]

_log = get_logger(__name__)


@dataclass
class RunResources:
    """The shared clients and sinks of one run; extractor factories build their extractors from these.

    Attributes:
        settings: The run's settings.
        plex: The open Plex client.
        cdf: The CDF client.
        resolver: The asset id resolver (shared by every sink).
        assets: Asset sink.
        events: Event sink.
        timeseries: Time series sink.
        datapoints: Datapoints sink.
    """

    settings: ExtractorSettings
    plex: AsyncPlexClient
    cdf: AsyncCogniteClient
    resolver: AssetIDResolver[Any]
    assets: AssetSink
    events: EventSink
    timeseries: TimeSeriesSink
    datapoints: DatapointsSink


#: Builds one extractor for a PCN (its context) from the run's shared resources.
ExtractorFactory = Callable[[ExtractorContext, RunResources], Extractor]


@dataclass
class RunReport:
    """What a run did, per PCN and stream.

    Attributes:
        run_id: Correlation id (also on every log event of the run).
        streams: One report per (PCN, stream), in start order.
        started_at: Start time (aware UTC).
        duration_s: Wall time.
    """

    run_id: str
    streams: list[StreamReport] = field(default_factory=list)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every stream succeeded."""
        return all(report.ok for report in self.streams)

    @property
    def errors(self) -> list[str]:
        """One line per failed stream."""
        return [f"PCN {r.pcn} {r.stream}: {r.error}" for r in self.streams if r.error is not None]

    def total(self, name: str) -> int:
        """The sum of one counter (`read`, `written`, `requests`, ...) over all streams."""
        return sum(int(getattr(report, name)) for report in self.streams)

    def format_table(self) -> str:
        """A fixed-width table for terminals and logs."""
        columns = ("read", "written", "datapoints", "unchanged", "deferred", "dead_lettered", "requests")
        header = f"{'pcn':<10} {'stream':<18} " + " ".join(f"{c:>13}" for c in columns) + f" {'seconds':>8}  status"
        lines = [header, "-" * len(header)]
        for r in self.streams:
            counts = " ".join(f"{getattr(r, c):>13}" for c in columns)
            status = "ok" if r.ok else f"FAILED: {r.error}"
            lines.append(f"{r.pcn:<10} {r.stream:<18} {counts} {r.duration_s:>8.2f}  {status}")
        totals = " ".join(f"{self.total(c):>13}" for c in columns)
        lines.append("-" * len(header))
        lines.append(f"{'total':<10} {'':<18} {totals} {self.duration_s:>8.2f}  {'ok' if self.ok else 'FAILED'}")
        return "\n".join(lines)

    def raise_for_errors(self) -> None:
        """Raise `PlexCogniteError` naming the failed streams, if any failed."""
        if not self.ok:
            raise PlexCogniteError("; ".join(self.errors))


def build_state_store(settings: ExtractorSettings, cdf: AsyncCogniteClient | None = None) -> StateStore:
    """The state store `settings.state` describes.

    Raises:
        ConfigurationError: For the RAW backend without a CDF client.
    """
    state = settings.state
    if state.backend == "local":
        return LocalStateStore(state.path)
    if state.backend == "raw":
        if cdf is None:
            raise ConfigurationError("the raw state backend needs a CDF client", field="state.backend")
        return RawStateStore(cdf, state.raw_db, state.raw_table)
    assert state.redis_url is not None  # validated by StateSettings
    return RedisStateStore(state.redis_url)


def build_dead_letter_store(settings: ExtractorSettings, cdf: AsyncCogniteClient) -> DeadLetterStore:
    """The dead-letter store `settings.dead_letters` describes (strict per `extraction.strict`)."""
    config = settings.dead_letters
    strict = settings.extraction.strict
    if config.backend == "raw":
        return RawDeadLetterStore(cdf, config.raw_db, config.raw_table, strict=strict)
    return LocalDeadLetterStore(config.path, strict=strict)


def default_factories(streams: Sequence[str]) -> list[ExtractorFactory]:
    """Factories of the built-in extractors for the configured stream names, master data first."""
    from plex_cognite.extractors.jobs import JobsExtractor
    from plex_cognite.extractors.master_data import MasterDataExtractor
    from plex_cognite.extractors.production import ProductionExtractor, ScrapExtractor
    from plex_cognite.extractors.workcenter_status import WorkcenterStatusExtractor

    known: dict[str, ExtractorFactory] = {
        "master_data": lambda ctx, res: MasterDataExtractor(ctx, res.plex, res.assets),
        "jobs": lambda ctx, res: JobsExtractor(ctx, res.plex, res.events),
        "production": lambda ctx, res: ProductionExtractor(ctx, res.plex, res.timeseries, res.datapoints),
        "scrap": lambda ctx, res: ScrapExtractor(ctx, res.plex, res.timeseries, res.datapoints),
        "workcenter_status": lambda ctx, res: WorkcenterStatusExtractor(ctx, res.plex, res.events),
    }
    ordered = sorted(streams, key=lambda name: name != "master_data")
    return [known[name] for name in ordered if name in known]


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
) -> RunReport:
    """Run all configured PCNs and streams once, to `extraction.end` (or now).

    Args:
        settings: Validated settings (`load_settings(...)`).
        extractors: Factories to run instead of the configured built-in streams.
        extra_extractors: Factories run in addition (your own streams; they run after master data).
        state_store: Override the store `settings.state` describes.
        dead_letters: Override the store `settings.dead_letters` describes.
        cognite_client: An `AsyncCogniteClient` to use instead of one built from `settings.cdf`.
        on_progress: Called with a stream's report whenever it commits state (progress counters).
        run_id: Correlation id for logs (default: a new one).
        metrics: Prometheus metrics to update (requests, records, writes, stream health); default none.
        rate_limiter: A `RateLimiter` for Plex calls instead of the per-process default (for example a
            `RedisTokenBucketRateLimiter` shared by several worker processes).

    Returns:
        The run report; check `report.ok` (failed streams are reported, not raised).

    Raises:
        ConfigurationError: When settings cannot work (for example an unknown data set).
        StateError: When the state store cannot be opened.
    """
    from plex_cognite.cache.factory import build_cache
    from plex_cognite.cdf.client import build_async_cognite_client
    from plex_cognite.cdf.resolver import AssetIDResolver
    from plex_cognite.cdf.sinks import AssetSink, DatapointsSink, EventSink, TimeSeriesSink
    from plex_cognite.plex.client import AsyncPlexClient

    report = RunReport(run_id or new_run_id())
    started = time.monotonic()
    cdf = cognite_client if cognite_client is not None else build_async_cognite_client(settings.cdf)
    store = state_store if state_store is not None else build_state_store(settings, cdf)
    letters = dead_letters if dead_letters is not None else build_dead_letter_store(settings, cdf)
    factories = list(extractors) if extractors is not None else default_factories(settings.extraction.streams)
    factories += list(extra_extractors)
    extraction = settings.extraction
    with bind_context(run_id=report.run_id):
        _log.info("run starting", pcns=list(settings.plex.pcns), streams=list(extraction.streams))
        try:
            data_set_id = await _data_set_id(settings, cdf)
            resolver = AssetIDResolver(cdf, build_cache(settings.cache, namespace=settings.cdf.project))
            write = settings.cdf.write_concurrency
            policy = extraction.on_missing_asset
            sink_options: dict[str, Any] = {"data_set_id": data_set_id, "concurrency": write, "metrics": metrics}
            plex_client = AsyncPlexClient(
                settings.plex,
                rate_limiter=rate_limiter,
                on_dead_letter=letters.add,
                strict=extraction.strict,
                metrics=metrics,
            )
            async with plex_client as plex:
                resources = RunResources(
                    settings=settings,
                    plex=plex,
                    cdf=cdf,
                    resolver=resolver,
                    assets=AssetSink(cdf, resolver=resolver, **sink_options),
                    events=EventSink(cdf, resolver=resolver, on_missing_asset=policy, **sink_options),
                    timeseries=TimeSeriesSink(cdf, resolver=resolver, on_missing_asset=policy, **sink_options),
                    datapoints=DatapointsSink(cdf, concurrency=write, metrics=metrics),
                )
                ids = ExternalIdScheme(extraction.external_id_prefix)
                await _run_all(
                    settings, resources, factories, store, letters, ids, data_set_id, on_progress, report, metrics
                )
        finally:
            await letters.close()
            if state_store is None:
                await store.close()
            report.duration_s = time.monotonic() - started
        _log.info(
            "run finished",
            ok=report.ok,
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


async def _data_set_id(settings: ExtractorSettings, cdf: AsyncCogniteClient) -> int | None:
    if settings.cdf.data_set_id is not None:
        return settings.cdf.data_set_id
    xid = settings.cdf.data_set_external_id
    if xid is None:
        return None
    data_set = await cdf.data_sets.retrieve(external_id=xid)
    if data_set is None or data_set.id is None:
        raise ConfigurationError(
            f"data set {xid!r} does not exist in CDF project {settings.cdf.project}; create it or fix "
            "cdf.data_set_external_id",
            field="cdf.data_set_external_id",
        )
    return int(data_set.id)


async def _run_all(
    settings: ExtractorSettings,
    resources: RunResources,
    factories: Sequence[ExtractorFactory],
    store: StateStore,
    letters: DeadLetterStore,
    ids: ExternalIdScheme,
    data_set_id: int | None,
    on_progress: Callable[[StreamReport], None] | None,
    report: RunReport,
    metrics: ExtractorMetrics | None,
) -> None:
    extraction = settings.extraction

    async def run_pcn(pcn: str) -> None:
        context = ExtractorContext(
            pcn=pcn,
            state_store=store,
            dead_letters=letters,
            ids=ids,
            data_set_id=data_set_id,
            start=extraction.start,
            end=extraction.end or datetime.now(UTC),
            window=extraction.window,
            lookback=extraction.lookback,
            batch_size=extraction.batch_size,
            concurrency=extraction.sink_concurrency,
            on_progress=on_progress,
        )
        extractors = [factory(context, resources) for factory in factories]
        first = [e for e in extractors if not e.needs_assets]
        rest = [e for e in extractors if e.needs_assets]
        with bind_context(pcn=pcn):
            async with asyncio.TaskGroup() as group:
                for extractor in first:
                    group.create_task(_run_one(extractor, report, metrics))
            failed_first = [r.stream for r in report.streams if r.pcn == pcn and not r.ok]
            if failed_first:
                for extractor in rest:
                    skipped = StreamReport(pcn, extractor.stream, error=f"skipped: {', '.join(failed_first)} failed")
                    report.streams.append(skipped)
                return
            async with asyncio.TaskGroup() as group:
                for extractor in rest:
                    group.create_task(_run_one(extractor, report, metrics))

    async with asyncio.TaskGroup() as group:
        for pcn in settings.plex.pcns:
            group.create_task(run_pcn(pcn))


async def _run_one(extractor: Extractor, run: RunReport, metrics: ExtractorMetrics | None = None) -> None:
    with bind_context(stream=extractor.stream):
        _log.info("stream starting")
        report = StreamReport(extractor.pcn, extractor.stream)
        try:
            await extractor.run(report)
        except Exception as error:  # reported per stream; siblings go on
            report.error = one_line(error)
            _log.error("stream failed", error=report.error)
            _log.debug("stream failure traceback", exc_info=True)
            if metrics is not None:
                metrics.record_error(extractor.stream, report.error)
        else:
            if metrics is not None:
                metrics.record_success(extractor.stream)
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
