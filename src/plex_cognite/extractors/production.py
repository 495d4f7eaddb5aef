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

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar

from plex_cognite.cdf.datamodeling import NodeItem
from plex_cognite.cdf.items import TimeSeriesItem
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
from plex_cognite.plex.models import ProductionEntry, ScrapEntry, Workcenter
from plex_cognite.typing import DeadLetter, KeyedItem, TimeWindow

__all__ = ["ProductionExtractor", "ScrapExtractor"]

Entry = ProductionEntry | ScrapEntry


class ProductionExtractor(AsyncBaseExtractor):
    """Produced quantities as datapoints on `PCN{pcn}_WC_{workcenterId}_PRODUCED_QTY`.

    Args:
        context: The PCN's context (`start`, `end`, `window` set the history read).
        resources: The run's shared clients and sinks.
        series_transform: Workcenter -> time series (default `production_series`).
    """

    stream: ClassVar[str] = "production"

    def __init__(
        self,
        context: ExtractorContext,
        resources: ExtractorResources,
        *,
        series_transform: Callable[[Workcenter, MappingContext], TimeSeriesItem] | None = None,
    ) -> None:
        super().__init__(context, resources)
        self._series = series_transform or self.default_series_transform

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
        """Upsert the series, then write every window not yet done (plus the lookback tail), summed per window."""
        series = self.sinks.paired(self.sinks.timeseries, self.sinks.nodes)
        points = self.sinks.paired(self.sinks.datapoints, self.sinks.node_datapoints)
        series_of: dict[str, str] = {}
        ctx = self.node_mapping
        async for workcenters in self.plex.iter_workcenters():
            items = [self.transform_series(wc) for wc in workcenters]
            series_of.update((wc.workcenter_id, item.external_id) for wc, item in zip(workcenters, items, strict=True))
            nodes: list[NodeItem] = []
            if series.nodes is not None:
                nodes += (series_node(item, wc, ctx) for wc, item in zip(workcenters, items, strict=True))
            await series.write(PairedItems(items, nodes))
        async for window, entries in self.windows(self.read_entries):
            sums = self.window_sums(series_of)
            for entry in self.map_records(entries, _checked):
                sums.add(entry)
            if sums.orphans:
                # Entries on a workcenter without a series: the window stays open and is read again next run.
                self.report.deferred += len(sums.orphans)
                self.hold_window(window)
            # A node series has its classic series' external id: the same items go to both sinks.
            await points.put(PairedItems.same(sums.items()), window=window)


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


def _checked(entry: Entry) -> Entry:
    check_quantity(entry)
    return entry
