"""Production and scrap quantities: datapoints on one time series per workcenter.

First the time series (`..._PRODUCED_QTY` / `..._SCRAP_QTY`, linked to their workcenter asset) are upserted, as a
snapshot with change detection; then history is read in half-open windows of `transactionDate`. All entries of a
window are summed per (series, millisecond) before writing, because CDF keeps one value per timestamp and entries
sharing a millisecond would otherwise overwrite each other. A window is marked done once its datapoints are
acknowledged; a window with entries on a workcenter that has no series stays open (read again next run).

When `cdf.sink` writes nodes, each series is also (or only) a `CogniteTimeSeries` node with the same external id,
and its datapoints are inserted by the node's instance id; a window is then committed only after both the classic
and the node datapoints were acknowledged.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from plex_cognite.cdf.datamodeling import NodeItem
from plex_cognite.cdf.items import TimeSeriesItem
from plex_cognite.core._together import in_order
from plex_cognite.core.bound_sink import BoundSink
from plex_cognite.core.context import ExtractorContext
from plex_cognite.core.extractor import ReplayUnsupportedError
from plex_cognite.extractors._paired import PairedItems
from plex_cognite.extractors._transforms import (
    MappingContext,
    QuantitySums,
    check_quantity,
    production_series,
    scrap_series,
)
from plex_cognite.extractors.base import AsyncBaseExtractor
from plex_cognite.extractors.node_mapping import series_node
from plex_cognite.extractors.resources import ExtractorResources
from plex_cognite.plex.client import PATHS, AsyncPlexClient
from plex_cognite.plex.models import ProductionEntry, ScrapEntry, Workcenter
from plex_cognite.plex.pcn_client import PcnPlexClient
from plex_cognite.typing import DeadLetter, KeyedItem, TimeWindow

__all__ = ["ProductionExtractor", "ScrapExtractor"]

Entry = ProductionEntry | ScrapEntry


class ProductionExtractor(AsyncBaseExtractor):
    """Produced quantities as datapoints on `PCN{pcn}_WC_{workcenterId}_PRODUCED_QTY`.

    Its series link to workcenter assets only (`needs_parts = False`), so the stream starts as soon as master data
    has written the workcenters, while parts are still being written; a subclass whose series link to parts sets
    `needs_parts = True` (passing `series_transform` does so).

    Args:
        context: The PCN's context (`start`, `end`, `window` set the history read).
        resources: The run's shared clients and sinks.
        series_transform: Workcenter -> time series (default `production_series`).
    """

    stream: ClassVar[str] = "production"
    span_records: ClassVar[int] = 5_000
    needs_parts: ClassVar[bool] = False  # the series link to workcenters: the stream starts before parts are written

    def __init__(
        self,
        context: ExtractorContext,
        resources: ExtractorResources,
        *,
        series_transform: Callable[[Workcenter, MappingContext], TimeSeriesItem] | None = None,
    ) -> None:
        super().__init__(context, resources)
        self._series = series_transform or self.default_series_transform
        if series_transform is not None:
            self.needs_parts = True  # type: ignore[misc]  # it may link a series to a part

    @staticmethod
    def default_series_transform(workcenter: Workcenter, mapping: MappingContext) -> TimeSeriesItem:
        """The series of this stream for a workcenter."""
        return production_series(workcenter, mapping)

    def read_entries(self, window: TimeWindow) -> Awaitable[list[Entry]]:
        """The entries of one history window of this stream."""
        return self.plex.read_production_entries(window)  # type: ignore[return-value]

    def transform_series(self, workcenter: Workcenter) -> TimeSeriesItem:
        """Map one workcenter to its series."""
        return self._series(workcenter, self.mapping)

    def replay_writes(self, letter: DeadLetter) -> Sequence[tuple[BoundSink[Any], Sequence[KeyedItem]]]:
        """Not from the payload: quantities are summed over a whole window, so one entry cannot be written alone.

        A fixed row is picked up by reading its window again (`extraction.lookback`, or a backfill).
        """
        raise ReplayUnsupportedError(
            f"{self.stream} quantities are summed per window; read the window of this entry again (lookback or "
            "backfill) once the row or the mapping is fixed"
        )

    def window_sums(self, series_of: dict[str, str]) -> QuantitySums:
        """The accumulator for one window's entries (override to map entries differently)."""
        return QuantitySums(series_of)

    async def extract(self) -> None:
        """Upsert the series and write every window not yet done (plus the lookback tail), summed per window.

        A series takes its unit from the entries (`unit`, where Plex sends one). The units are kept in state, so
        a series is written with its unit from then on and a re-run over unchanged data writes nothing.
        """
        series = self.sinks.paired(self.sinks.timeseries, self.sinks.nodes)
        points = self.sinks.paired(self.sinks.datapoints, self.sinks.node_datapoints)
        known_units = self.state.extra.get("units")
        units: dict[str, str] = dict(known_units) if isinstance(known_units, dict) else {}  # type: ignore[arg-type]
        workcenters_by_id: dict[str, Workcenter] = {}
        series_of: dict[str, str] = {}

        async def write_series() -> None:
            async for workcenters in self.plex.iter_workcenters():
                workcenters_by_id.update((wc.workcenter_id, wc) for wc in workcenters)
                series_of.update((wc.workcenter_id, self.transform_series(wc).external_id) for wc in workcenters)
                await series.write(self._series_items(workcenters, units))

        new_units: dict[str, str] = {}

        def add(sums: QuantitySums, workcenter_id: str, moment: datetime, quantity: float, unit: str | None) -> int:
            if unit and units.get(workcenter_id) != unit:
                new_units[workcenter_id] = unit
            return 0 if sums.add_quantity(workcenter_id, moment, quantity) else 1

        async def write_windows(series_written: Awaitable[None]) -> None:
            async for window, rows in self.windows(self._entry_reader()):
                await series_written  # a series exists before its datapoints are sent
                sums = self.window_sums(series_of)
                orphans = 0
                entries: list[Any] = []
                for row in rows:
                    if type(row) is tuple:
                        # Its fields, checked as the entry would be: the quantity is finite (msgspec refuses a
                        # number out of range) and not negative.
                        orphans += add(sums, row[0], row[1], row[2], row[3] if len(row) > 3 else None)
                    else:
                        entries.append(row)
                self.report.read += len(rows) - len(entries)
                for entry in self.map_records(entries, _checked):
                    orphans += add(
                        sums, entry.workcenter_id, entry.transaction_date, entry.quantity, getattr(entry, "unit", None)
                    )
                if orphans:
                    # Entries on a workcenter without a series: the window stays open and is read again next run.
                    self.report.deferred += orphans
                    self.hold_window(window)
                # A node series has its classic series' external id: the same items go to both sinks.
                await points.put(PairedItems.same(sums.items()), window=window)

        # The first windows are read while the series are written (an error of the series is the one raised).
        series_written = asyncio.ensure_future(write_series())
        await in_order(series_written, write_windows(series_written))
        if new_units:
            units.update(new_units)
            relabelled = [workcenters_by_id[wc] for wc in new_units if wc in workcenters_by_id]
            await series.write(self._series_items(relabelled, units))
            self.state.extra["units"] = dict(units)

    def _entry_reader(self) -> Callable[[TimeWindow], Awaitable[Sequence[Entry | tuple[Any, ...]]]]:
        """`read_entries`, or a read of just the fields summed where it and the other record hooks are built-in.

        The projected read gets the same rows, checked the same way, most of them as tuples instead of records (see
        `_PROJECTED`): building the records was most of this stream's CPU.
        """
        cls = type(self)
        projected = _PROJECTED.get(cls.read_entries)
        if (
            projected is None
            or cls.window_sums is not ProductionExtractor.window_sums
            or cls.map_records is not AsyncBaseExtractor.map_records
            or type(self.plex) is not PcnPlexClient
        ):
            return self.read_entries
        key, bypassed, model, stream, fields = projected
        client, pcn = self.plex.client, self.plex.pcn
        # A client whose read of these entries (or of history) is its own gets to read them.
        client_type = type(client)
        if getattr(client_type, bypassed.__name__) is not bypassed or client_type.read_history is not (
            AsyncPlexClient.read_history
        ):
            return self.read_entries

        def read(window: TimeWindow) -> Awaitable[list[Entry | tuple[Any, ...]]]:
            return client._read_history_fields(  # the client's reader for built-in extractors
                pcn, PATHS[key], model, window, fields, stream=stream, time_of=_moment
            )

        return read

    def _series_items(
        self, workcenters: Sequence[Workcenter], units: Mapping[str, str]
    ) -> PairedItems[TimeSeriesItem, NodeItem]:
        """The classic series (with the unit known for the workcenter) and, when nodes are written, their nodes."""
        items = []
        for wc in workcenters:
            item = self.transform_series(wc)
            unit = units.get(wc.workcenter_id)
            items.append(dataclasses.replace(item, unit=unit) if unit and not item.unit else item)
        nodes: list[NodeItem] = []
        if self.sinks.nodes is not None:
            ctx = self.node_mapping
            nodes += (series_node(item, wc, ctx) for wc, item in zip(workcenters, items, strict=True))
        return PairedItems(items, nodes)


class ScrapExtractor(ProductionExtractor):
    """Scrapped quantities as datapoints on `PCN{pcn}_WC_{workcenterId}_SCRAP_QTY`."""

    stream: ClassVar[str] = "scrap"

    @staticmethod
    def default_series_transform(workcenter: Workcenter, mapping: MappingContext) -> TimeSeriesItem:
        """The scrap series of a workcenter."""
        return scrap_series(workcenter, mapping)

    def read_entries(self, window: TimeWindow) -> Awaitable[list[Entry]]:
        """The scrap entries of one history window."""
        return self.plex.read_scrap_entries(window)  # type: ignore[return-value]


# The built-in `read_entries` of each class -> what its projected read asks for: the endpoint (a `PATHS` key), the
# client method it stands in for, the model whose checks the rows pass, the stream its dead letters are filed under,
# and the fields summed.
_PROJECTED: dict[Callable[..., Any], tuple[str, Callable[..., Any], type[Entry], str, tuple[str, ...]]] = {
    ProductionExtractor.read_entries: (
        "production_entries",
        AsyncPlexClient.read_production_entries,
        ProductionEntry,
        "production",
        ("workcenter_id", "transaction_date", "quantity", "unit"),
    ),
    ScrapExtractor.read_entries: (
        "scrap_entries",
        AsyncPlexClient.read_scrap_entries,
        ScrapEntry,
        "scrap",
        ("workcenter_id", "transaction_date", "quantity"),
    ),
}


def _moment(row: Entry | tuple[Any, ...]) -> datetime:
    return row[1] if type(row) is tuple else row.transaction_date  # type: ignore[union-attr]


def _checked(entry: Entry) -> Entry:
    check_quantity(entry)
    return entry
