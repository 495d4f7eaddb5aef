"""`AsyncBaseExtractor`: the public base every extractor subclasses, the library's own and yours.

A subclass sets `stream` and writes `async def extract(self)`; everything it needs is on `self`:

| attribute | what it is |
|---|---|
| `self.plex` | the Plex client bound to this PCN (`PcnPlexClient`) |
| `self.cdf` | the `AsyncCogniteClient` |
| `self.sinks.assets`, `.events`, `.timeseries`, `.datapoints`, `.raw` | bound CDF sinks: `write(items)`, `put(items)` |
| `self.sinks.nodes`, `.node_datapoints` | the Core Data Model sinks when `cdf.sink` writes nodes, else None |
| `self.resolver`, `self.linker` | the asset-id resolver and the event-asset linker |
| `self.state`, `self.report` | the stream's state and report (during `run()`) |
| `self.pcn`, `self.settings`, `self.log`, `self.mapping` | the PCN, the settings, a bound logger, the mapping context |
| `self.node_mapping` | the node mapping context (`NodeContext`: PCN, id scheme, instance space) |
| `self.map_pair(...)`, `self.sinks.paired(...)` | records to classic items and nodes, written per `cdf.sink` |
| `self.windows(fetch)` | history in half-open windows, each committed only after its writes were acknowledged |
| `self.map_records(records, transform)` | records to items, rejects dead-lettered |

```python
class ToolingExtractor(AsyncBaseExtractor):
    stream = "tooling"

    async def extract(self) -> None:
        async for tools in self.plex.iter_list("/tooling/v1/tools", Tool, stream="tools"):
            await self.sinks.assets.write(self.map_records(tools, tool_asset))
```

Run it standalone (`async with ToolingExtractor.from_settings(settings, pcn="340884") as ex: await ex.run()`),
beside the built-ins (`run_extractors(settings, extractors=[ToolingExtractor])`), or register it under the
entry-point group `plex_cognite.extractors` and enable it by name in `extraction.streams`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar

import pydantic

from plex_cognite.cdf.datamodeling import MAX_NODES_PER_REQUEST, NodeItem
from plex_cognite.cdf.items import AssetItem, DatapointsItem, EventItem, RawRowItem, TimeSeriesItem
from plex_cognite.cdf.linker import EventAssetLinker, checked_policy
from plex_cognite.cdf.sinks import RawSink
from plex_cognite.core._deferred import HeldItem
from plex_cognite.core.bound_sink import BoundSink
from plex_cognite.core.context import ExtractorContext
from plex_cognite.core.extractor import BaseExtractor
from plex_cognite.extractors._paired import PairedItems, SinkPair
from plex_cognite.extractors._replay import record_from_letter
from plex_cognite.extractors._transforms import MappingContext
from plex_cognite.extractors.node_mapping import NodeContext
from plex_cognite.extractors.resources import ExtractorResources, context_for, open_resources
from plex_cognite.observability.logs import get_logger
from plex_cognite.plex.pcn_client import PcnPlexClient
from plex_cognite.typing import DeadLetter, JSONValue, KeyedItem, Pcn, StateStore

if TYPE_CHECKING:
    import structlog
    from cognite.client import AsyncCogniteClient

    from plex_cognite.cdf.resolver import AssetIDResolver, AsyncMode
    from plex_cognite.config import ExtractorSettings
    from plex_cognite.core.deadletters import DeadLetterStore

__all__ = ["AsyncBaseExtractor", "MappedExtractor", "Sinks"]

RecordT = TypeVar("RecordT")
ItemT = TypeVar("ItemT")
ClassicT = TypeVar("ClassicT", bound=KeyedItem)
NodeT = TypeVar("NodeT", bound=KeyedItem)

#: CDF accepts at most 100,000 datapoints and 10,000 series per insert request.
MAX_POINTS_PER_REQUEST = 100_000
MAX_SERIES_PER_REQUEST = 10_000


def _points(item: DatapointsItem) -> int:
    return len(item.datapoints)


# A full datapoints batch holds ~10 MB of points: at most two in flight; a live run ends with a flush anyway.
_DATAPOINTS_BATCHING: dict[str, Any] = {
    "weigh": _points,
    "max_batch_weight": MAX_POINTS_PER_REQUEST,
    "batch_size": MAX_SERIES_PER_REQUEST,
    "max_batch_age_s": 60.0,
    "concurrency": 2,
    "max_pending": 2,
}


class Sinks:
    """The CDF sinks of one extractor, bound to it (see `BoundSink`).

    Attributes:
        assets: Assets (hierarchies in any order: parents are written first).
        events: Events, linked to assets by external id.
        timeseries: Time series, linked to an asset by external id.
        datapoints: Datapoints by series external id (pipelined writes fill 100,000-point requests).
        raw: RAW rows in `cdf.raw_database`, table named after the stream (`raw_table(...)` for others).
        nodes: Core Data Model nodes in `cdf.datamodeling.instance_space` (parents are applied first), or None
            unless `cdf.sink` is `datamodeling` or `both`. Its content hashes are kept apart from the classic
            sinks' (a node and a classic asset share their external id).
        node_datapoints: Datapoints by the instance id of `CogniteTimeSeries` nodes, or None as `nodes`.
    """

    def __init__(self, extractor: AsyncBaseExtractor, resources: ExtractorResources) -> None:
        self._extractor = extractor
        self._resources = resources
        self.assets: BoundSink[AssetItem] = extractor.bind("assets", resources.assets)
        self.events: BoundSink[EventItem] = extractor.bind("events", resources.events)
        self.timeseries: BoundSink[TimeSeriesItem] = extractor.bind("timeseries", resources.timeseries)
        self.datapoints: BoundSink[DatapointsItem] = extractor.bind(
            "datapoints", resources.datapoints, **_DATAPOINTS_BATCHING
        )
        self.raw: BoundSink[RawRowItem] = self.raw_table(extractor.stream)
        self.nodes: BoundSink[NodeItem] | None = None
        self.node_datapoints: BoundSink[DatapointsItem] | None = None
        if resources.nodes is not None:
            # One apply request in flight per stream, as in NodeSink: CDF's data-modeling write budget is small.
            self.nodes = extractor.bind(
                "nodes", resources.nodes, hash_prefix="node:", batch_size=MAX_NODES_PER_REQUEST, concurrency=1
            )
        if resources.node_datapoints is not None:
            self.node_datapoints = extractor.bind("node_datapoints", resources.node_datapoints, **_DATAPOINTS_BATCHING)

    def paired(self, classic: BoundSink[ClassicT], nodes: BoundSink[NodeT] | None) -> SinkPair[ClassicT, NodeT]:
        """`classic` and `nodes` as one `SinkPair`, each kept only when `cdf.sink` writes it.

        ```python
        pair = self.sinks.paired(self.sinks.events, self.sinks.nodes)
        await pair.put(self.map_pair(jobs, self.transform, self.transform_activity))
        ```
        """
        writes_classic = self._resources.settings.cdf.writes_classic
        return SinkPair(classic if writes_classic else None, nodes)

    def raw_table(self, table: str, *, database: str | None = None) -> BoundSink[RawRowItem]:
        """A bound sink for one RAW table (database default `cdf.raw_database`), created on first use."""
        db = database or self._resources.settings.cdf.raw_database
        name = f"raw:{db}/{table}"
        existing = self._extractor.bound_sink(name)
        if existing is not None:
            return existing
        settings = self._resources.settings.cdf
        sink = RawSink(self._resources.cdf, db, table, concurrency=settings.write_concurrency)
        return self._extractor.bind(name, sink)


class AsyncBaseExtractor(BaseExtractor):
    """The base of every Plex -> CDF extractor (see the module docstring for what a subclass finds on `self`).

    Args:
        context: The PCN's context (state store, dead letters, history range, batching).
        resources: The run's shared clients and sinks.
    """

    def __init__(self, context: ExtractorContext, resources: ExtractorResources) -> None:
        super().__init__(context)
        self.resources = resources
        self.plex = PcnPlexClient(resources.plex, context.pcn)
        self.mapping = MappingContext(context.pcn, resources.ids, resources.data_set_id)
        self.node_mapping = NodeContext(context.pcn, resources.ids, resources.settings.cdf.datamodeling.instance_space)
        self.linker: EventAssetLinker[AsyncMode] = EventAssetLinker(
            resources.resolver, checked_policy(resources.settings.extraction.on_missing_asset)
        )
        self.log: structlog.stdlib.BoundLogger = get_logger(f"plex_cognite.extractors.{self.stream}").bind(
            pcn=context.pcn, stream=self.stream
        )
        self.sinks = Sinks(self, resources)

    @property
    def cdf(self) -> AsyncCogniteClient:
        """The CDF client."""
        return self.resources.cdf

    @property
    def resolver(self) -> AssetIDResolver[AsyncMode]:
        """The asset-id resolver (external id -> numeric id, batched and cached)."""
        return self.resources.resolver

    @property
    def settings(self) -> ExtractorSettings:
        """The run's settings."""
        return self.resources.settings

    @classmethod
    @asynccontextmanager
    async def from_settings(
        cls,
        settings: ExtractorSettings,
        *,
        pcn: Pcn,
        cognite_client: AsyncCogniteClient | None = None,
        state_store: StateStore | None = None,
        dead_letters: DeadLetterStore | None = None,
        **options: Any,
    ) -> AsyncIterator[Self]:
        """Open the clients and stores `settings` describe and build this extractor for one PCN.

        ```python
        async with ToolingExtractor.from_settings(settings, pcn="340884") as extractor:
            report = await extractor.run()
        ```

        Args:
            settings: Validated settings.
            pcn: The PCN to extract.
            cognite_client: An `AsyncCogniteClient` to use instead of one built from `settings.cdf`.
            state_store: A state store instead of the one `settings.state` describes.
            dead_letters: A dead-letter store instead of the one `settings.dead_letters` describes.
            **options: Passed to the extractor's constructor (for example a `transform=`).

        Yields:
            The extractor, ready to `run()`.
        """
        async with open_resources(
            settings, cognite_client=cognite_client, state_store=state_store, dead_letters=dead_letters
        ) as resources:
            yield cls(context_for(resources, pcn), resources, **options)
            await resources.dead_letters.flush()

    def map_pair(
        self,
        records: Sequence[RecordT],
        classic: Callable[[RecordT], ClassicT],
        node: Callable[[RecordT, ClassicT], NodeT],
        *,
        stream: str | None = None,
    ) -> PairedItems[ClassicT, NodeT]:
        """Map each record once to its classic item and, when `cdf.sink` writes nodes, to its node.

        `node` gets the record and its classic item, so a node can describe exactly what the classic mapping
        made of the record (a replaced classic mapping shows in the nodes too). A record either mapping rejects
        (`RecordValidationError`) is dead-lettered once, whatever `cdf.sink` says.

        Args:
            records: Records read from the source (counted in `report.read`).
            classic: Record -> classic item.
            node: (record, classic item) -> node.
            stream: The stream dead letters are filed under (see `map_records`).

        Returns:
            The classic items and the nodes (none unless nodes are written); write them with a `SinkPair`.
        """
        paired: PairedItems[ClassicT, NodeT] = PairedItems()
        for one in self.map_records(records, lambda record: self.pair_one(record, classic, node), stream=stream):
            paired += one
        return paired

    def pair_one(
        self, record: RecordT, classic: Callable[[RecordT], ClassicT], node: Callable[[RecordT, ClassicT], NodeT]
    ) -> PairedItems[ClassicT, NodeT]:
        """One record's classic item and (when `cdf.sink` writes nodes) its node; a mapping error propagates.

        For a replay (`replay_writes`), where a record that still fails must say why; `map_pair` maps batches.
        """
        item = classic(record)
        return PairedItems([item], [node(record, item)] if self.settings.cdf.writes_nodes else [])

    def bound_sink(self, name: str) -> BoundSink[Any] | None:
        """The sink bound under `name`, or None."""
        return self._bound.get(name)

    def restore_held(self, record: JSONValue) -> HeldItem:
        """Read a held item, including the format of version 0.1 (`{"kind": ..., "fields": ...}`)."""
        if isinstance(record, dict) and "kind" in record and "fields" in record:
            kinds: dict[str, tuple[str, Any]] = {
                "asset": ("assets", AssetItem),
                "event": ("events", EventItem),
                "timeseries": ("timeseries", TimeSeriesItem),
                "raw": (f"raw:{self.settings.cdf.raw_database}/{self.stream}", RawRowItem),
            }
            kind = kinds.get(str(record["kind"]))
            if kind is None:
                raise ValueError(f"unknown held item kind {record['kind']!r}")
            return HeldItem(kind[0], kind[1].from_json(record["fields"]), None)
        return super().restore_held(record)


class MappedExtractor(AsyncBaseExtractor, Generic[RecordT, ItemT]):
    """An extractor with one record -> item mapping, replaceable by argument or by overriding `transform`.

    Subclasses name their default mapping in `default_transform` (a pure function of record and `MappingContext`).

    Args:
        context: The PCN's context.
        resources: The run's shared clients and sinks.
        transform: Record -> item (default `default_transform`).
    """

    default_transform: Callable[[Any, MappingContext], Any]
    #: The Plex record type the transform takes (what a replay rebuilds from a dead letter's payload).
    record_model: type[pydantic.BaseModel]
    #: The bound sink the mapped items go to.
    item_sink: ClassVar[str] = "events"

    def __init__(
        self,
        context: ExtractorContext,
        resources: ExtractorResources,
        *,
        transform: Callable[[RecordT, MappingContext], ItemT] | None = None,
    ) -> None:
        super().__init__(context, resources)
        self._transform: Callable[[RecordT, MappingContext], ItemT] = transform or type(self).default_transform

    def transform(self, record: RecordT) -> ItemT:
        """Map one record (override to change the mapping in a subclass)."""
        return self._transform(record, self.mapping)

    def replay_writes(self, letter: DeadLetter) -> Sequence[tuple[BoundSink[Any], Sequence[KeyedItem]]]:
        """Rebuild the record from the letter's payload, map it with the current transform, write it to `item_sink`."""
        record: Any = record_from_letter(self.record_model, letter)  # an instance of RecordT, by `record_model`
        item: Any = self.transform(record)
        return [(self._bound[self.item_sink], [item])]
