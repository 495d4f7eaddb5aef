from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from plex_cognite.cdf.items import AssetItem, EventItem, TimeSeriesItem
from plex_cognite.core.deadletters import MemoryDeadLetterStore
from plex_cognite.core.extractor import (
    ExtractorContext,
    StreamExtractor,
    StreamReport,
    item_from_json,
    item_to_json,
)
from plex_cognite.core.results import ItemFailure, WriteResult
from plex_cognite.core.state import MemoryStateStore
from plex_cognite.errors import CogniteWriteError, ValidationError
from plex_cognite.typing import Sink, Source, TimeWindow

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


def to_event(reading: Reading) -> list[EventItem]:
    if reading.value < 0:
        raise ValidationError(f"negative value {reading.value}", payload={"key": reading.key})
    return [
        EventItem(
            f"X_{reading.key}",
            type="reading",
            start_time=int(reading.at.timestamp() * 1000),
            metadata={"value": str(reading.value)},
            asset_external_ids=("A",),
        )
    ]


def context(store: MemoryStateStore, **kw: object) -> ExtractorContext:
    return ExtractorContext(pcn="1", state_store=store, dead_letters=MemoryDeadLetterStore(), batch_size=2, **kw)  # type: ignore[arg-type]


def test_protocols_are_satisfied_structurally() -> None:
    assert isinstance(ListSource([]), Source)
    assert isinstance(MemorySink(), Sink)


async def test_snapshot_rerun_writes_nothing_and_changes_write_only_themselves() -> None:
    store = MemoryStateStore()
    records = [Reading(f"r{i}", i) for i in range(7)]
    sink = MemorySink()
    first = await StreamExtractor(
        context(store), stream="s", source=ListSource(records), transform=to_event, sink=sink
    ).run()
    assert (first.read, first.written, first.unchanged) == (7, 7, 0)

    sink.calls.clear()
    second = await StreamExtractor(
        context(store), stream="s", source=ListSource(records), transform=to_event, sink=sink
    ).run()
    assert sink.calls == []
    assert (second.written, second.unchanged, second.requests) == (0, 7, 0)

    records[3] = Reading("r3", 99)
    third = await StreamExtractor(
        context(store), stream="s", source=ListSource(records), transform=to_event, sink=sink
    ).run()
    assert [i.external_id for call in sink.calls for i in call] == ["X_r3"]
    assert (third.written, third.unchanged) == (1, 6)


async def test_snapshot_deferred_items_are_not_hashed_so_the_next_run_retries_them() -> None:
    store = MemoryStateStore()
    records = [Reading("a", 1), Reading("b", 2)]
    sink = MemorySink(defer={"X_b"})
    report = await StreamExtractor(
        context(store), stream="s", source=ListSource(records), transform=to_event, sink=sink
    ).run()
    assert report.deferred == 1
    sink.defer.clear()
    sink.calls.clear()
    await StreamExtractor(context(store), stream="s", source=ListSource(records), transform=to_event, sink=sink).run()
    assert [i.external_id for call in sink.calls for i in call] == ["X_b"]


async def test_mapping_errors_become_dead_letters() -> None:
    store = MemoryStateStore()
    ctx = context(store)
    records = [Reading("a", 1), Reading("bad", -5)]
    report = await StreamExtractor(
        ctx, stream="s", source=ListSource(records), transform=to_event, sink=MemorySink()
    ).run()
    assert report.dead_lettered == 1
    letters = ctx.dead_letters.letters  # type: ignore[attr-defined]
    assert letters[0].payload == {"key": "bad"}
    assert "negative" in letters[0].reason


def test_map_records_counts_reads_and_dead_letters_a_rejected_record_as_read() -> None:
    ctx = context(MemoryStateStore())
    extractor = StreamExtractor(ctx, stream="s", source=ListSource([]), transform=to_event, sink=MemorySink())
    report = StreamReport("1", "s")

    def part_number(record: dict[str, object]) -> object:
        if record.get("number") is None:
            raise ValidationError("no part number")  # no payload: the record itself is kept
        return record["number"]

    records: list[dict[str, object]] = [{"id": 1, "number": "P-1"}, {"id": 2, "number": None}]
    assert extractor.map_records(records, part_number, report) == ["P-1"]
    assert report.read == 2
    [letter] = ctx.dead_letters.letters  # type: ignore[attr-defined]
    assert (letter.payload, letter.reason, letter.error_type) == (
        records[1],
        "no part number",
        "ValidationError",
    )


async def test_strict_mode_makes_a_dead_letter_fatal() -> None:
    store = MemoryStateStore()
    ctx = context(store)
    ctx.dead_letters.strict = True
    with pytest.raises(ValidationError, match="strict mode"):
        await StreamExtractor(
            ctx, stream="s", source=ListSource([Reading("bad", -1)]), transform=to_event, sink=MemorySink()
        ).run()


def windowed(
    store: MemoryStateStore, records: list[Reading], sink: MemorySink, *, lookback: timedelta = timedelta(0)
) -> StreamExtractor[Reading, EventItem]:
    ctx = context(store, start=T0, end=T0 + timedelta(hours=4), window=timedelta(hours=1), lookback=lookback)
    return StreamExtractor(ctx, stream="w", source=ListSource(records), transform=to_event, sink=sink, mode="windowed")


async def test_windows_are_done_after_ack_and_not_read_again() -> None:
    store = MemoryStateStore()
    records = [Reading(f"r{i}", i, T0 + timedelta(minutes=25 * i)) for i in range(9)]
    sink = MemorySink()
    report = await windowed(store, records, sink).run()
    assert report.windows == 4
    assert report.written == 9
    state = await store.load("1", "w")
    assert state.windows.covers(T0, T0 + timedelta(hours=4))
    assert state.watermark == T0 + timedelta(hours=4)
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
    assert list(state.deferred) == ["X_r2"]
    assert state.windows.covers(T0, T0 + timedelta(hours=4))

    sink.defer.clear()
    again = await windowed(store, records, sink).run()
    assert again.deferred == 0
    assert "X_r2" in sink.stored
    assert (await store.load("1", "w")).deferred == {}


async def test_a_failed_write_keeps_its_window_open() -> None:
    store = MemoryStateStore()
    records = [Reading(f"r{i}", i, T0 + timedelta(minutes=30 * i)) for i in range(8)]
    sink = MemorySink(fail={"X_r5"})
    report = StreamReport("1", "w")
    with pytest.raises(CogniteWriteError, match="window stays open"):
        await windowed(store, records, sink).run(report)
    state = await store.load("1", "w")
    assert not state.windows.covers(T0 + timedelta(hours=2), T0 + timedelta(hours=3))
    sink.fail.clear()
    assert (await windowed(store, records, sink).run()).ok
    assert (await store.load("1", "w")).windows.covers(T0, T0 + timedelta(hours=4))


@pytest.mark.parametrize(
    "item",
    [
        AssetItem("A", "a", parent_external_id="P", metadata={"k": "v"}),
        EventItem("E", type="t", start_time=1, asset_external_ids=("A", "B"), metadata={"x": "1"}),
        TimeSeriesItem("T", "t", asset_external_id="A", unit="pcs"),
    ],
)
def test_item_json_round_trip(item: object) -> None:
    assert item_from_json(item_to_json(item)) == item


def test_item_from_json_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="not a serialised item"):
        item_from_json({"kind": "nope"})
