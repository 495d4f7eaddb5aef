"""Production and scrap quantities: datapoints on one time series per workcenter.

First the time series (`..._PRODUCED_QTY` / `..._SCRAP_QTY`, linked to their workcenter asset) are upserted, as a
snapshot with change detection; then history is read in half-open windows of `transactionDate`. All entries of a
window are summed per (series, millisecond) before writing, because CDF keeps one value per timestamp and entries
sharing a millisecond would otherwise overwrite each other. A window is marked done once its datapoints are
acknowledged; a window with entries on a workcenter that has no series stays open (read again next run).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import ClassVar

from plex_cognite.cdf.items import DatapointsItem, TimeSeriesItem
from plex_cognite.core.extractor import Chunk, Extractor, ExtractorContext, StreamReport
from plex_cognite.core.state import StreamState
from plex_cognite.extractors._transforms import (
    MappingContext,
    QuantitySums,
    check_quantity,
    production_series,
    scrap_series,
)
from plex_cognite.plex.client import AsyncPlexClient, WindowBatch
from plex_cognite.plex.models import ProductionEntry, ScrapEntry, Workcenter
from plex_cognite.typing import Sink

__all__ = ["ProductionExtractor", "ScrapExtractor"]

#: CDF accepts at most 100,000 datapoints and 10,000 series per insert request.
MAX_POINTS_PER_REQUEST = 100_000
MAX_SERIES_PER_REQUEST = 10_000

Entry = ProductionEntry | ScrapEntry


class ProductionExtractor(Extractor):
    """Produced quantities as datapoints on `PCN{pcn}_WC_{workcenterId}_PRODUCED_QTY`.

    Args:
        context: The PCN's context (`start`, `end`, `window` set the history read).
        plex: An open `AsyncPlexClient`.
        timeseries_sink: The time series sink (links the workcenter asset).
        datapoints_sink: The datapoints sink.
        series_transform: Workcenter -> time series (default `production_series`).
    """

    stream: ClassVar[str] = "production"

    def __init__(
        self,
        context: ExtractorContext,
        plex: AsyncPlexClient,
        timeseries_sink: Sink[TimeSeriesItem],
        datapoints_sink: Sink[DatapointsItem],
        *,
        series_transform: Callable[[Workcenter, MappingContext], TimeSeriesItem] | None = None,
    ) -> None:
        super().__init__(context)
        self.plex = plex
        self.timeseries_sink = timeseries_sink
        self.datapoints_sink = datapoints_sink
        self.mapping = MappingContext(context.pcn, context.ids, context.data_set_id)
        self._series = series_transform or self.default_series_transform

    @staticmethod
    def default_series_transform(workcenter: Workcenter, mapping: MappingContext) -> TimeSeriesItem:
        """The series of this stream for a workcenter."""
        return production_series(workcenter, mapping)

    def entries(self, begin: datetime, end: datetime) -> AsyncIterator[WindowBatch[Entry]]:
        """The history windows of this stream."""
        return self.plex.iter_production_windows(self.pcn, begin, end, self.context.window)  # type: ignore[return-value]

    def transform_series(self, workcenter: Workcenter) -> TimeSeriesItem:
        """Map one workcenter to its series."""
        return self._series(workcenter, self.mapping)

    def window_sums(self, series_of: dict[str, str]) -> QuantitySums:
        """The accumulator for one window's entries (override to map entries differently)."""
        return QuantitySums(series_of)

    async def extract(self, state: StreamState, report: StreamReport) -> None:
        """Upsert the series, then write every window not yet done (plus the lookback tail, summed per window)."""
        series_of: dict[str, str] = {}

        async def series() -> AsyncIterator[Sequence[TimeSeriesItem]]:
            async for workcenters in self.plex.iter_workcenters(self.pcn):
                items = [self.transform_series(wc) for wc in workcenters]
                series_of.update(
                    (wc.workcenter_id, item.external_id) for wc, item in zip(workcenters, items, strict=True)
                )
                yield items

        await self.write_snapshot(series(), self.timeseries_sink, state, report)
        held = report.deferred + report.failed
        await self.write_windows(
            self._chunks(state, report, series_of),
            self.datapoints_sink,
            state,
            report,
            weigh=lambda item: len(item.datapoints),
            max_batch_weight=MAX_POINTS_PER_REQUEST,
            batch_size=MAX_SERIES_PER_REQUEST,
            # Backfills fill 100k-point requests; a live run (small windows) ends with a flush anyway. A full batch
            # holds ~10 MB of points, so at most two are in flight per stream.
            max_batch_age_s=60.0,
            concurrency=2,
            max_pending=2,
        )
        report.deferred += held

    async def _chunks(
        self, state: StreamState, report: StreamReport, series_of: dict[str, str]
    ) -> AsyncIterator[Chunk[DatapointsItem]]:
        sums = self.window_sums(series_of)
        for gap_start, gap_end in self.planned_ranges(state):
            async for batch in self.entries(gap_start, gap_end):
                for entry in self.map_records(batch.records, _checked, report):
                    sums.add(entry)
                if not batch.complete:
                    continue
                items, orphans = sums.items(), len(sums.orphans)
                sums = self.window_sums(series_of)
                if orphans:
                    report.deferred += orphans
                    yield Chunk(items)  # the window stays open: its orphans are read again next run
                else:
                    yield Chunk(items, (batch.window.start, batch.window.end))


class ScrapExtractor(ProductionExtractor):
    """Scrapped quantities as datapoints on `PCN{pcn}_WC_{workcenterId}_SCRAP_QTY`."""

    stream: ClassVar[str] = "scrap"

    @staticmethod
    def default_series_transform(workcenter: Workcenter, mapping: MappingContext) -> TimeSeriesItem:
        """The scrap series of a workcenter."""
        return scrap_series(workcenter, mapping)

    def entries(self, begin: datetime, end: datetime) -> AsyncIterator[WindowBatch[Entry]]:
        """The scrap history windows."""
        return self.plex.iter_scrap_windows(self.pcn, begin, end, self.context.window)  # type: ignore[return-value]


def _checked(entry: Entry) -> Entry:
    check_quantity(entry)
    return entry
