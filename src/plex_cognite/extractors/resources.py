"""The shared clients and sinks of a run, built from settings: what every extractor of the run finds on `self`.

`open_resources(settings)` opens them (the Plex client, the CDF client, the asset-id resolver, the CDF sinks, the
state and dead-letter stores) and closes what it opened on exit. The CDF sinks are the classic ones, plus the Core
Data Model ones when `cdf.sink` asks for nodes. `run_extractors` opens one set per run and shares it across PCNs
and streams; `AsyncBaseExtractor.from_settings` opens one for a single extractor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from plex_cognite.cdf.ids import ExternalIdScheme
from plex_cognite.core.context import ExtractorContext, ReadAheadBudget
from plex_cognite.core.deadletters import DeadLetterStore, LocalDeadLetterStore, RawDeadLetterStore
from plex_cognite.core.report import StreamReport
from plex_cognite.core.state import LocalStateStore, RawStateStore, RedisStateStore
from plex_cognite.errors import ConfigurationError
from plex_cognite.typing import Pcn, RateLimiter, StateStore

if TYPE_CHECKING:
    from cognite.client import AsyncCogniteClient

    from plex_cognite.cdf.datamodeling import InstanceDatapointsSink, NodeSink
    from plex_cognite.cdf.resolver import AssetIDResolver, AsyncMode
    from plex_cognite.cdf.sinks import AssetSink, DatapointsSink, EventSink, TimeSeriesSink
    from plex_cognite.config import ExtractorSettings
    from plex_cognite.observability.metrics import ExtractorMetrics
    from plex_cognite.plex.client import AsyncPlexClient

__all__ = [
    "ExtractorResources",
    "build_dead_letter_store",
    "build_state_store",
    "context_for",
    "open_resources",
]


@dataclass
class ExtractorResources:
    """The shared clients and sinks of one run.

    Attributes:
        settings: The run's settings.
        plex: The open Plex client (all PCNs; extractors see it bound to theirs as `self.plex`).
        cdf: The CDF client.
        resolver: The asset-id resolver every sink links through.
        assets: Asset sink.
        events: Event sink (links `asset_external_ids`).
        timeseries: Time series sink (links `asset_external_id`).
        datapoints: Datapoints sink.
        state_store: Where extraction state is kept.
        dead_letters: Where rejected records go.
        ids: The external-id scheme.
        data_set_id: The data set every item goes to (None: none).
        metrics: Prometheus metrics, when the run has them.
        nodes: Core Data Model node sink into `cdf.datamodeling.instance_space` (None unless `cdf.sink` is
            `datamodeling` or `both`).
        node_datapoints: Datapoints by the instance id of `CogniteTimeSeries` nodes (None as `nodes`).
        read_ahead: The history read-ahead every extractor of the run shares (`ExtractorContext.window_records_ahead`),
            so the records held ahead stay about the same however many history streams run at once.
    """

    settings: ExtractorSettings
    plex: AsyncPlexClient
    cdf: AsyncCogniteClient
    resolver: AssetIDResolver[AsyncMode]
    assets: AssetSink
    events: EventSink
    timeseries: TimeSeriesSink
    datapoints: DatapointsSink
    state_store: StateStore
    dead_letters: DeadLetterStore
    ids: ExternalIdScheme
    data_set_id: int | None = None
    metrics: ExtractorMetrics | None = None
    nodes: NodeSink | None = None
    node_datapoints: InstanceDatapointsSink | None = None
    read_ahead: ReadAheadBudget = field(default_factory=ReadAheadBudget)


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


def build_dead_letter_store(settings: ExtractorSettings, cdf: AsyncCogniteClient | None = None) -> DeadLetterStore:
    """The dead-letter store `settings.dead_letters` describes (strict per `extraction.strict`).

    Raises:
        ConfigurationError: For the RAW backend without a CDF client.
    """
    config = settings.dead_letters
    strict = settings.extraction.strict
    if config.backend == "raw":
        if cdf is None:
            raise ConfigurationError("the raw dead-letter backend needs a CDF client", field="dead_letters.backend")
        return RawDeadLetterStore(cdf, config.raw_db, config.raw_table, strict=strict)
    return LocalDeadLetterStore(config.path, strict=strict)


async def data_set_id(settings: ExtractorSettings, cdf: AsyncCogniteClient) -> int | None:
    """The numeric id of the configured data set (None when none is configured).

    Raises:
        ConfigurationError: The data set does not exist.
    """
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


@asynccontextmanager
async def open_resources(
    settings: ExtractorSettings,
    *,
    cognite_client: AsyncCogniteClient | None = None,
    state_store: StateStore | None = None,
    dead_letters: DeadLetterStore | None = None,
    metrics: ExtractorMetrics | None = None,
    rate_limiter: RateLimiter | None = None,
) -> AsyncIterator[ExtractorResources]:
    """Open the clients, sinks and stores `settings` describe; close what was opened here on exit.

    Args:
        settings: Validated settings.
        cognite_client: An `AsyncCogniteClient` to use instead of one built from `settings.cdf`.
        state_store: A state store to use instead of the one `settings.state` describes (not closed here).
        dead_letters: A dead-letter store to use instead of the one `settings.dead_letters` describes (not closed
            here).
        metrics: Prometheus metrics to update.
        rate_limiter: A `RateLimiter` for Plex calls instead of the per-process default.

    Yields:
        The resources.

    Raises:
        ConfigurationError: When settings cannot work (for example an unknown data set).
    """
    from plex_cognite.cache.factory import build_cache
    from plex_cognite.cdf.client import build_async_cognite_client
    from plex_cognite.cdf.datamodeling import InstanceDatapointsSink, NodeSink
    from plex_cognite.cdf.resolver import AssetIDResolver
    from plex_cognite.cdf.sinks import AssetSink, DatapointsSink, EventSink, TimeSeriesSink
    from plex_cognite.plex.client import AsyncPlexClient

    cdf = cognite_client if cognite_client is not None else build_async_cognite_client(settings.cdf)
    async with AsyncExitStack() as stack:
        store = state_store
        if store is None:
            store = build_state_store(settings, cdf)
            stack.push_async_callback(store.close)
        letters = dead_letters
        if letters is None:
            letters = build_dead_letter_store(settings, cdf)
            stack.push_async_callback(letters.close)
        if metrics is not None and letters.on_new is None:
            letters.on_new = metrics.record_new_dead_letter
        data_set = await data_set_id(settings, cdf)
        resolver = AssetIDResolver(cdf, build_cache(settings.cache, namespace=settings.cdf.project))
        if metrics is not None:
            metrics.watch_resolver(resolver)
        write = settings.cdf.write_concurrency
        policy = settings.extraction.on_missing_asset
        options: dict[str, Any] = {"data_set_id": data_set, "concurrency": write, "metrics": metrics}
        plex = await stack.enter_async_context(
            AsyncPlexClient(
                settings.plex,
                rate_limiter=rate_limiter,
                on_dead_letter=letters.add,
                strict=settings.extraction.strict,
                metrics=metrics,
            )
        )
        space = settings.cdf.datamodeling.instance_space
        writes_nodes = settings.cdf.writes_nodes
        yield ExtractorResources(
            settings=settings,
            plex=plex,
            cdf=cdf,
            resolver=resolver,
            assets=AssetSink(cdf, resolver=resolver, **options),
            events=EventSink(cdf, resolver=resolver, on_missing_asset=policy, **options),
            timeseries=TimeSeriesSink(cdf, resolver=resolver, on_missing_asset=policy, **options),
            datapoints=DatapointsSink(cdf, concurrency=write, metrics=metrics),
            state_store=store,
            dead_letters=letters,
            ids=ExternalIdScheme(settings.extraction.external_id_prefix),
            data_set_id=data_set,
            metrics=metrics,
            nodes=NodeSink(cdf, instance_space=space, metrics=metrics) if writes_nodes else None,
            node_datapoints=(
                InstanceDatapointsSink(cdf, instance_space=space, concurrency=write, metrics=metrics)
                if writes_nodes
                else None
            ),
        )


def context_for(
    resources: ExtractorResources,
    pcn: Pcn,
    *,
    end: datetime | None = None,
    on_progress: Callable[[StreamReport], None] | None = None,
) -> ExtractorContext:
    """The context of one PCN's extractors, from the run's settings and stores.

    Args:
        resources: The run's resources.
        pcn: The PCN.
        end: History end for this run (default `extraction.end`, else now: fixed once, so every stream of the run
            reads to the same moment).
        on_progress: Called with a stream's report whenever it commits.
    """
    extraction = resources.settings.extraction
    return ExtractorContext(
        pcn=pcn,
        state_store=resources.state_store,
        dead_letters=resources.dead_letters,
        start=extraction.start,
        end=end or extraction.end or datetime.now(UTC),
        window=extraction.window,
        lookback=extraction.lookback,
        batch_size=extraction.batch_size,
        concurrency=extraction.sink_concurrency,
        window_concurrency=resources.settings.plex.max_concurrency,
        window_records_ahead=resources.read_ahead,
        on_progress=on_progress,
    )
