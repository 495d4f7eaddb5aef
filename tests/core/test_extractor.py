from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar, Self

import pytest

from plex_cognite.cdf.items import AssetItem, DatapointsItem, EventItem, RawRowItem, TimeSeriesItem
from plex_cognite.core.context import ReadAheadBudget
from plex_cognite.core.deadletters import MemoryDeadLetterStore
from plex_cognite.core.extractor import BaseExtractor, ExtractorContext, StreamExtractor, StreamReport
from plex_cognite.core.state import LocalStateStore, MemoryStateStore
from plex_cognite.errors import CogniteWriteError, RecordValidationError
from plex_cognite.typing import ItemFailure, JSONValue, KeyedItem, Sink, Source, StateStore, TimeWindow, WriteResult

T0 = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass
class Reading:
    key: str
    value: int
    at: datetime = T0


class ListSource:
    """Snapshot: every record; windowed: the records inside the window."""

    def __init__(self, records: list[Reading]) -> None:
        self.records = records
        self.reads: list[TimeWindow | None] = []

    async def read(self, window: TimeWindow | None = None) -> AsyncIterator[Sequence[Reading]]:
        self.reads.append(window)
        chosen = [r for r in self.records if window is None or window[0] <= r.at < window[1]]
        for i in range(0, len(chosen), 3):
            yield chosen[i : i + 3]


class MemorySink:
    def __init__(self, defer: set[str] = frozenset(), fail: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.defer = set(defer)
        self.fail = set(fail)
        self.calls: list[list[EventItem]] = []
        self.stored: dict[str, EventItem] = {}

    async def write(self, items: Sequence[EventItem]) -> WriteResult:
        self.calls.append(list(items))
        result = WriteResult(requests=1)
        for item in items:
            if item.external_id in self.defer:
                result.failed.append(ItemFailure(item.external_id, "asset missing", deferred=True))
            elif item.external_id in self.fail:
                result.failed.append(ItemFailure(item.external_id, "503 after retries"))
            else:
                self.stored[item.external_id] = item
                result.created.append(item.external_id)
        return result

    def written(self) -> list[str]:
        return [item.external_id for call in self.calls for item in call]


def to_event(reading: Reading) -> list[EventItem]:
    if reading.value < 0:
        raise RecordValidationError(f"negative value {reading.value}", payload={"key": reading.key})
    return [
        EventItem(
            f"X_{reading.key}",
            type="reading",
            start_time=int(reading.at.timestamp() * 1000),
            metadata={"value": str(reading.value)},
            asset_external_ids=("A",),
        )
    ]


def context(store: StateStore, **kw: object) -> ExtractorContext:
    return ExtractorContext(pcn="1", state_store=store, dead_letters=MemoryDeadLetterStore(), batch_size=2, **kw)  # type: ignore[arg-type]


def snapshot(store: StateStore, records: list[Reading], sink: MemorySink) -> StreamExtractor[Reading, EventItem]:
    return StreamExtractor(context(store), stream="s", source=ListSource(records), transform=to_event, sink=sink)


def test_protocols_are_satisfied_structurally() -> None:
    assert isinstance(ListSource([]), Source)
    assert isinstance(MemorySink(), Sink)
    for item in (AssetItem("A", "a"), EventItem("E"), TimeSeriesItem("T", "t"), RawRowItem("k", {}), Tool("t", 1)):
        assert isinstance(item, KeyedItem)


async def test_snapshot_rerun_writes_nothing_and_changes_write_only_themselves() -> None:
    store = MemoryStateStore()
    records = [Reading(f"r{i}", i) for i in range(7)]
    sink = MemorySink()
    first = await snapshot(store, records, sink).run()
    assert (first.read, first.written, first.unchanged) == (7, 7, 0)

    sink.calls.clear()
    second = await snapshot(store, records, sink).run()
    assert sink.calls == []
    assert (second.written, second.unchanged, second.requests) == (0, 7, 0)

    records[3] = Reading("r3", 99)
    third = await snapshot(store, records, sink).run()
    assert sink.written() == ["X_r3"]
    assert (third.written, third.unchanged) == (1, 6)


async def test_snapshot_deferred_items_are_held_and_written_once_their_asset_exists() -> None:
    store = MemoryStateStore()
    records = [Reading("a", 1), Reading("b", 2)]
    sink = MemorySink(defer={"X_b"})
    report = await snapshot(store, records, sink).run()
    assert report.deferred == 1
    assert list((await store.load("1", "s")).deferred) == ["sink:X_b"]

    sink.defer.clear()
    sink.calls.clear()
    again = await snapshot(store, records, sink).run()
    assert sink.written() == ["X_b"]  # re-read and written once; the held copy is released, not written twice
    assert again.deferred == 0
    assert (await store.load("1", "s")).deferred == {}
    sink.calls.clear()
    await snapshot(store, records, sink).run()
    assert sink.calls == []  # its hash was stored when it landed


async def test_mapping_errors_become_dead_letters() -> None:
    ctx = context(MemoryStateStore())
    records = [Reading("a", 1), Reading("bad", -5)]
    report = await StreamExtractor(
        ctx, stream="s", source=ListSource(records), transform=to_event, sink=MemorySink()
    ).run()
    assert report.dead_lettered == 1
    letters = ctx.dead_letters.letters  # type: ignore[attr-defined]
    assert letters[0].payload == {"key": "bad"}
    assert "negative" in letters[0].reason


class PartNumbers(BaseExtractor):
    stream: ClassVar[str] = "parts"

    def __init__(self, ctx: ExtractorContext, records: list[dict[str, object]]) -> None:
        super().__init__(ctx)
        self.records = records
        self.mapped: list[object] = []

    async def extract(self) -> None:
        def part_number(record: dict[str, object]) -> object:
            if record.get("number") is None:
                raise RecordValidationError("no part number")  # no payload: the record itself is kept
            return record["number"]

        self.mapped = self.map_records(self.records, part_number)


async def test_map_records_counts_reads_and_dead_letters_a_rejected_record_as_read() -> None:
    ctx = context(MemoryStateStore())
    records: list[dict[str, object]] = [{"id": 1, "number": "P-1"}, {"id": 2, "number": None}]
    extractor = PartNumbers(ctx, records)
    report = await extractor.run()
    assert extractor.mapped == ["P-1"]
    assert report.read == 2
    [letter] = ctx.dead_letters.letters  # type: ignore[attr-defined]
    assert (letter.payload, letter.reason, letter.error_type) == (records[1], "no part number", "RecordValidationError")


def test_state_and_report_exist_only_while_running() -> None:
    extractor = PartNumbers(context(MemoryStateStore()), [])
    with pytest.raises(RuntimeError, match="while run"):
        _ = extractor.state


async def test_strict_mode_makes_a_dead_letter_fatal() -> None:
    ctx = context(MemoryStateStore())
    ctx.dead_letters.strict = True
    with pytest.raises(RecordValidationError, match="strict mode"):
        await StreamExtractor(
            ctx, stream="s", source=ListSource([Reading("bad", -1)]), transform=to_event, sink=MemorySink()
        ).run()


def windowed(
    store: StateStore, records: list[Reading], sink: MemorySink, *, lookback: timedelta = timedelta(0)
) -> StreamExtractor[Reading, EventItem]:
    ctx = context(store, start=T0, end=T0 + timedelta(hours=4), window=timedelta(hours=1), lookback=lookback)
    return StreamExtractor(ctx, stream="w", source=ListSource(records), transform=to_event, sink=sink, mode="windowed")


async def test_windows_are_done_after_ack_and_not_read_again() -> None:
    store = MemoryStateStore()
    records = [Reading(f"r{i}", i, T0 + timedelta(minutes=25 * i)) for i in range(9)]
    sink = MemorySink()
    report = await windowed(store, records, sink).run()
    assert (report.windows, report.windows_total, report.written) == (4, 4, 9)
    assert len(sink.calls) == 5  # pipelined: batches of 2 across windows, not one request per window
    state = await store.load("1", "w")
    assert state.windows.covers(T0, T0 + timedelta(hours=4))
    assert state.watermark == T0 + timedelta(hours=4)
    assert state.hash_count == 0  # history keeps no per-item hashes
    source = ListSource(records)
    again = windowed(store, records, sink)
    again.source = source
    await again.run()
    assert source.reads == []


async def test_lookback_reads_the_latest_done_windows_again_and_picks_up_late_rows() -> None:
    store = MemoryStateStore()
    records = [Reading(f"r{i}", i, T0 + timedelta(minutes=25 * i)) for i in range(9)]
    sink = MemorySink()
    assert (await windowed(store, records, sink).run()).ok
    late = [*records, Reading("late3", 1, T0 + timedelta(hours=3, minutes=59)), Reading("late0", 1, T0)]

    source = ListSource(late)
    without = windowed(store, late, sink)
    without.source = source
    await without.run()
    assert source.reads == []
    assert "X_late3" not in sink.stored

    source = ListSource(late)
    with_lookback = windowed(store, late, sink, lookback=timedelta(minutes=30))
    with_lookback.source = source
    report = await with_lookback.run()
    # 30 minutes back from the last done end (04:00), widened to the whole window [03:00, 04:00)
    assert source.reads == [(T0 + timedelta(hours=3), T0 + timedelta(hours=4))]
    assert report.windows == 1
    assert "X_late3" in sink.stored
    assert "X_late0" not in sink.stored  # older than the lookback
    state = await store.load("1", "w")
    assert list(state.windows) == [(T0, T0 + timedelta(hours=4))]
    assert state.watermark == T0 + timedelta(hours=4)


async def test_deferred_window_items_are_kept_in_state_and_retried_next_run() -> None:
    store = MemoryStateStore()
    records = [Reading(f"r{i}", i, T0 + timedelta(minutes=30 * i)) for i in range(6)]
    sink = MemorySink(defer={"X_r2"})
    report = await windowed(store, records, sink).run()
    assert report.deferred == 1
    state = await store.load("1", "w")
    assert list(state.deferred) == ["sink:X_r2"]
    assert state.windows.covers(T0, T0 + timedelta(hours=4))  # held items do not keep their window open

    sink.defer.clear()
    again = await windowed(store, records, sink).run()
    assert again.deferred == 0
    assert "X_r2" in sink.stored
    assert (await store.load("1", "w")).deferred == {}


async def test_a_failed_write_keeps_its_window_open_and_the_others_are_committed() -> None:
    store = MemoryStateStore()
    records = [Reading(f"r{i}", i, T0 + timedelta(minutes=30 * i)) for i in range(8)]
    sink = MemorySink(fail={"X_r5"})
    report = StreamReport("1", "w")
    with pytest.raises(CogniteWriteError, match="windows stay open"):
        await windowed(store, records, sink).run(report)
    assert report.failed == 1
    state = await store.load("1", "w")
    assert not state.windows.covers(T0 + timedelta(hours=2), T0 + timedelta(hours=3))
    assert state.windows.covers(T0, T0 + timedelta(hours=2))
    assert state.watermark == T0 + timedelta(hours=2)
    sink.fail.clear()
    source = ListSource(records)
    retry = windowed(store, records, sink)
    retry.source = source
    assert (await retry.run()).ok
    assert source.reads == [(T0 + timedelta(hours=2), T0 + timedelta(hours=3))]
    assert (await store.load("1", "w")).windows.covers(T0, T0 + timedelta(hours=4))


@pytest.mark.parametrize(
    "item",
    [
        AssetItem("A", "a", parent_external_id="P", metadata={"k": "v"}),
        EventItem("E", type="t", start_time=1, asset_external_ids=("A", "B"), metadata={"x": "1"}),
        TimeSeriesItem("T", "t", asset_external_id="A", unit="pcs"),
        DatapointsItem("T", ((1, 2.0), (3, 4.5))),
        RawRowItem("k", {"a": [1, 2], "b": {"c": None}}),
    ],
)
def test_item_json_round_trip(item: KeyedItem) -> None:
    assert type(item).from_json(json.loads(json.dumps(item.to_json()))) == item


def test_item_from_json_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="not a serialised EventItem"):
        EventItem.from_json({"kind": "nope"})


# -- a user's own item type and sink ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tool:
    """An item type of a user's own: not one of the library's."""

    tool_id: str
    uses: int

    @property
    def key(self) -> str:
        return f"TOOL@{self.tool_id}"  # an '@' in the key means nothing special

    def content_hash(self) -> bytes:
        return hashlib.blake2b(f"{self.tool_id}:{self.uses}".encode(), digest_size=8).digest()

    def to_json(self) -> JSONValue:
        return {"tool": self.tool_id, "uses": self.uses}

    @classmethod
    def from_json(cls, data: JSONValue) -> Self:
        if not isinstance(data, dict) or not isinstance(data.get("tool"), str) or not isinstance(data["uses"], int):
            raise ValueError(f"not a tool: {data!r}")
        return cls(data["tool"], data["uses"])


class ToolSink:
    """Defers tools until `known` holds them; fails the keys in `failing` transiently, rejects `rejected` for good."""

    def __init__(self) -> None:
        self.known: set[str] = set()
        self.failing: set[str] = set()
        self.rejected: set[str] = set()
        self.stored: dict[str, Tool] = {}
        self.requests = 0

    async def write(self, items: Sequence[Tool]) -> WriteResult:
        self.requests += 1
        result = WriteResult(requests=1)
        for tool in items:
            if tool.key in self.failing:
                result.failed.append(ItemFailure(tool.key, "503 after retries"))
            elif tool.key in self.rejected:
                result.failed.append(ItemFailure(tool.key, "uses out of range", permanent=True))
            elif tool.tool_id not in self.known:
                result.failed.append(ItemFailure(tool.key, "tool asset not in CDF yet", deferred=True))
            else:
                self.stored[tool.key] = tool
                result.created.append(tool.key)
        return result


class ToolUsage(BaseExtractor):
    stream: ClassVar[str] = "tool_usage"

    def __init__(self, ctx: ExtractorContext, sink: ToolSink, usage: dict[datetime, list[Tool]]) -> None:
        super().__init__(ctx)
        self.tools = self.bind("tools", sink)
        self.usage = usage

    async def read(self, window: TimeWindow) -> list[Tool]:
        return [tool for at, tools in self.usage.items() if window[0] <= at < window[1] for tool in tools]

    async def extract(self) -> None:
        async for window, tools in self.windows(self.read):
            await self.tools.put(tools, window=window)


def tool_usage(store: StateStore, sink: ToolSink) -> ToolUsage:
    ctx = context(store, start=T0, end=T0 + timedelta(hours=2), window=timedelta(hours=1))
    usage = {T0: [Tool("drill", 1), Tool("saw", 2)], T0 + timedelta(hours=1): [Tool("lathe", 3)]}
    return ToolUsage(ctx, sink, usage)


async def test_a_custom_item_held_in_windowed_mode_survives_in_a_state_file_and_lands_next_run(tmp_path: Path) -> None:
    sink = ToolSink()
    sink.known = {"drill", "lathe"}
    report = await tool_usage(LocalStateStore(tmp_path / "state.json"), sink).run()
    assert report.ok
    assert report.deferred == 1
    assert report.windows == 2
    assert set(sink.stored) == {"TOOL@drill", "TOOL@lathe"}

    sink.known.add("saw")
    store = LocalStateStore(tmp_path / "state.json")  # a new process: the held tool comes from the file
    again = await tool_usage(store, sink).run()
    assert again.deferred == 0
    assert again.windows == 0
    assert sink.stored["TOOL@saw"] == Tool("saw", 2)
    assert (await store.load("1", "tool_usage")).deferred == {}


async def test_a_custom_sink_failure_with_at_in_its_key_is_retried_not_dead_lettered() -> None:
    store = MemoryStateStore()
    sink = ToolSink()
    sink.known = {"drill", "saw", "lathe"}
    sink.failing = {"TOOL@saw"}
    extractor = tool_usage(store, sink)
    with pytest.raises(CogniteWriteError):
        await extractor.run()
    assert extractor.context.dead_letters.count() == 0
    state = await store.load("1", "tool_usage")
    assert list(state.windows) == [(T0 + timedelta(hours=1), T0 + timedelta(hours=2))]  # the saw's window is open

    sink.failing.clear()
    assert (await tool_usage(store, sink).run()).ok
    assert set(sink.stored) == {"TOOL@drill", "TOOL@saw", "TOOL@lathe"}


async def test_a_permanent_failure_is_dead_lettered_with_the_item_and_its_window_is_committed() -> None:
    store = MemoryStateStore()
    sink = ToolSink()
    sink.known = {"drill", "saw", "lathe"}
    sink.rejected = {"TOOL@saw"}
    extractor = tool_usage(store, sink)
    report = await extractor.run()
    assert report.ok
    assert report.dead_lettered == 1
    assert report.windows == 2
    [letter] = extractor.context.dead_letters.letters  # type: ignore[attr-defined]
    assert letter.payload == {"sink": "tools", "key": "TOOL@saw", "item": {"tool": "saw", "uses": 2}}
    assert letter.reason == "uses out of range"


class AssetsThenTools(BaseExtractor):
    """Writes assets and the events that link to them concurrently, as the Quick Start does."""

    stream: ClassVar[str] = "concurrent"

    def __init__(self, ctx: ExtractorContext, sink: ToolSink) -> None:
        super().__init__(ctx)
        self.sink = sink
        self.tools = self.bind("tools", sink)

    async def extract(self) -> None:
        import asyncio

        async def assets() -> None:
            await asyncio.sleep(0.01)
            self.sink.known.update({"drill", "saw"})

        async with asyncio.TaskGroup() as group:
            group.create_task(self.tools.write([Tool("drill", 1), Tool("saw", 1)]))
            group.create_task(assets())


async def test_items_deferred_by_a_concurrent_write_land_after_the_runs_other_writes() -> None:
    store = MemoryStateStore()
    sink = ToolSink()
    report = await AssetsThenTools(context(store), sink).run()
    assert report.ok
    assert report.deferred == 0
    assert set(sink.stored) == {"TOOL@drill", "TOOL@saw"}
    assert (await store.load("1", "concurrent")).deferred == {}


class HoldingExtractor(BaseExtractor):
    stream: ClassVar[str] = "holding"

    async def read(self, window: TimeWindow) -> list[int]:
        return [1]

    async def extract(self) -> None:
        async for window, _ in self.windows(self.read):
            if window[0] == T0:
                self.hold_window(window)


async def test_a_held_window_is_read_again_next_run_without_counting_a_failure() -> None:
    store = MemoryStateStore()
    ctx = context(store, start=T0, end=T0 + timedelta(hours=2), window=timedelta(hours=1))
    report = await HoldingExtractor(ctx).run()
    assert report.ok
    assert report.windows == 1
    assert report.failed == 0
    assert list((await store.load("1", "holding")).windows) == [(T0 + timedelta(hours=1), T0 + timedelta(hours=2))]


class BrokenToolSink(ToolSink):
    """Raises on every write (CDF down after the retries)."""

    async def write(self, items: Sequence[Tool]) -> WriteResult:
        raise CogniteWriteError("CDF is down", resource="tools")


async def test_held_items_stay_held_when_writing_them_again_fails() -> None:
    store = MemoryStateStore()
    sink = ToolSink()
    sink.known = {"drill", "lathe"}
    assert (await tool_usage(store, sink).run()).deferred == 1  # the saw is held

    with pytest.raises(CogniteWriteError, match="CDF is down"):
        await tool_usage(store, BrokenToolSink()).run()
    assert list((await store.load("1", "tool_usage")).deferred) == ["tools:TOOL@saw"]

    sink.known.add("saw")
    assert (await tool_usage(store, sink).run()).deferred == 0
    assert "TOOL@saw" in sink.stored


class ReadingAhead(BaseExtractor):
    """Reads 8 windows of 500 records (or `per_window`), slowly consumed; notes the most windows fetched ahead."""

    stream: ClassVar[str] = "ahead"

    def __init__(self, context: ExtractorContext, per_window: int = 500) -> None:
        super().__init__(context)
        self.per_window = per_window
        self.started = self.delivered = self.most_ahead = 0

    async def read(self, window: TimeWindow) -> list[int]:
        self.started += 1
        if self.delivered:
            self.most_ahead = max(self.most_ahead, self.started - self.delivered)
        await asyncio.sleep(0)
        return [0] * self.per_window

    async def extract(self) -> None:
        async for _window, _records in self.windows(self.read):
            self.delivered += 1
            await asyncio.sleep(0.002)


class ReadingAheadToo(ReadingAhead):
    stream: ClassVar[str] = "ahead-too"


async def _most_ahead(first: int | ReadAheadBudget, second: int | ReadAheadBudget) -> tuple[int, int]:
    span = {"start": T0, "end": T0 + timedelta(hours=8), "window": timedelta(hours=1)}
    store = MemoryStateStore()
    one = ReadingAhead(context(store, window_records_ahead=first, **span))
    two = ReadingAheadToo(context(store, window_records_ahead=second, **span))
    await asyncio.gather(one.run(), two.run())
    assert one.delivered == two.delivered == 8
    return one.most_ahead, two.most_ahead


async def test_streams_sharing_a_read_ahead_budget_split_it() -> None:
    # Two streams of 500-record windows: 1,000 records ahead each on their own, 1,000 between them when shared.
    assert await _most_ahead(1000, 1000) == (2, 2)
    shared = ReadAheadBudget(1000)
    assert await _most_ahead(shared, shared) == (1, 1)
    assert shared.readers == 0


async def test_a_shared_budget_goes_mostly_to_the_stream_with_the_most_records_left() -> None:
    # 1,100 records: equal shares of 550 would let neither read ahead more than one 500-record window; by what
    # they still expect (3,500 and 350 records after the first window), the dense stream may hold 1,000.
    span = {"start": T0, "end": T0 + timedelta(hours=8), "window": timedelta(hours=1)}
    store, shared = MemoryStateStore(), ReadAheadBudget(1100)
    dense = ReadingAhead(context(store, window_records_ahead=shared, **span))
    sparse = ReadingAheadToo(context(store, window_records_ahead=shared, **span), per_window=50)
    await asyncio.gather(dense.run(), sparse.run())
    assert (dense.most_ahead, dense.delivered) == (2, 8)
    with shared.reading() as one, shared.reading() as other:
        assert one.share() == other.share() == 550  # neither expects anything yet
        one.records_left = 3_000
        assert (one.share(), other.share()) == (550, 550)  # the other counts as expecting the same
        other.records_left = 0
        assert (one.share(), other.share()) == (1100, 1)


def test_a_read_ahead_budget_is_shared_equally_between_its_readers() -> None:
    budget = ReadAheadBudget(1000)
    assert budget.share() == 1000
    with budget.reading(), budget.reading(), budget.reading():
        assert (budget.readers, budget.share()) == (3, 333)
    assert (budget.readers, budget.share()) == (0, 1000)
    assert ReadAheadBudget(2).share() == 2
    with pytest.raises(ValueError, match="at least one record"):
        ReadAheadBudget(0)


class SparseWindowed(StreamExtractor[Reading, EventItem]):
    """Sparse history: consecutive windows read with one fetch while they hold about 4 records together."""

    span_records: ClassVar[int] = 4


def sparse(store: StateStore, source: ListSource, sink: MemorySink) -> SparseWindowed:
    ctx = context(store, start=T0, end=T0 + timedelta(hours=12), window=timedelta(hours=1))
    return SparseWindowed(ctx, stream="w", source=source, transform=to_event, sink=sink, mode="windowed")


def hours_read(source: ListSource) -> list[tuple[int, int]]:
    """The windows the source was asked for, as (start, end) hours after T0."""
    return [(int((w[0] - T0) / HOUR), int((w[1] - T0) / HOUR)) for w in source.reads if w is not None]


HOUR = timedelta(hours=1)
HOURLY = [Reading(f"r{i}", i, T0 + timedelta(hours=i, minutes=5)) for i in range(12)]  # one record an hour


async def test_sparse_history_is_read_in_spans_counted_and_committed_as_its_windows() -> None:
    store = MemoryStateStore()
    source = ListSource(HOURLY)
    report = await sparse(store, source, MemorySink()).run()
    # One hour first, then up to twice as many windows each time, while they are expected to hold 4 records.
    assert hours_read(source) == [(0, 1), (1, 3), (3, 7), (7, 11), (11, 12)]
    assert (report.windows, report.windows_total, report.written) == (12, 12, 12)
    assert list((await store.load("1", "w")).windows) == [(T0, T0 + 12 * HOUR)]


async def test_a_failed_write_leaves_its_whole_span_open_and_a_rerun_reads_only_that_span() -> None:
    store = MemoryStateStore()
    with pytest.raises(CogniteWriteError):
        await sparse(store, ListSource(HOURLY), MemorySink(fail={"X_r4"})).run()
    assert list((await store.load("1", "w")).windows) == [(T0, T0 + 3 * HOUR), (T0 + 7 * HOUR, T0 + 12 * HOUR)]

    source, sink = ListSource(HOURLY), MemorySink()
    report = await sparse(store, source, sink).run()
    assert hours_read(source) == [(3, 4), (4, 6), (6, 7)]
    assert (report.windows, report.windows_total) == (4, 4)
    assert sorted(sink.stored) == sorted(f"X_r{i}" for i in (3, 4, 5, 6))
    assert list((await store.load("1", "w")).windows) == [(T0, T0 + 12 * HOUR)]
