"""Any Plex Data Source into a CDF RAW table: one stream `datasource:<name>` per `extraction.datasources` entry.

- **Windowed** (the entry has `window: {begin_input, end_input}`): the data source is executed once per history
  window, with the window's start and end as the two date inputs, in the same half-open windows, with the same state
  and commit rules as the other history streams (a window is committed only once its rows were acknowledged; a
  re-run reads only windows not done yet, plus `extraction.lookback`). A window Plex cut at the data source's row
  limit is halved until no part is cut (down to one minute; a part still cut then is logged).
- **Snapshot** (no `window`): executed once per run; a row whose content is unchanged since its last acknowledged
  write is not rewritten.

Rows go to `cdf.raw_database`, table `raw_table` (default the name), key `PCN{pcn}_{key column values joined by _}`,
columns the row as returned plus `pcn`. A row without a key column value is dead-lettered. An `errors[]` answer (or
an error status after retries) stops the stream with the error and its code; windows before it stay committed and
the failed window is read again on the next run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from plex_cognite.cdf.items import RawRowItem
from plex_cognite.config import DATASOURCE_STREAM_PREFIX, DataSourceStream
from plex_cognite.core.context import ExtractorContext
from plex_cognite.errors import ConfigurationError
from plex_cognite.extractors._inventory import datasource_row
from plex_cognite.extractors._transforms import MappingContext
from plex_cognite.extractors.base import AsyncBaseExtractor
from plex_cognite.extractors.resources import ExtractorResources
from plex_cognite.plex.datasource import DataSourceClient
from plex_cognite.typing import TimeWindow

__all__ = ["DataSourceExtractor", "datasource_factory"]

Row = Mapping[str, Any]


class DataSourceExtractor(AsyncBaseExtractor):
    """One configured Plex Data Source into RAW (see the module docstring).

    Args:
        context: The PCN's context.
        resources: The run's shared clients and sinks.
        source: The `extraction.datasources` entry, or its name.
        transform: Row, key columns, mapping context -> RAW row (default `datasource_row`).

    Raises:
        ConfigurationError: `source` names no configured data source.
    """

    stream: ClassVar[str] = "datasource"
    # Its rows link to no asset, but it runs with the streams that do: the runner skips those when a stream of the
    # first group fails, and a failing data source must never stop the others.
    needs_assets: ClassVar[bool] = True

    def __init__(
        self,
        context: ExtractorContext,
        resources: ExtractorResources,
        *,
        source: DataSourceStream | str,
        transform: Callable[[Row, list[str], MappingContext], RawRowItem] | None = None,
    ) -> None:
        self.source = _configured(resources, source) if isinstance(source, str) else source
        self.stream = self.source.stream  # type: ignore[misc]  # one class, a stream per configured data source
        super().__init__(context, resources)
        self._transform = transform or datasource_row
        self.rows = self.sinks.raw_table(self.source.table)

    def transform(self, row: Row) -> RawRowItem:
        """Map one row (override to change the mapping in a subclass)."""
        return self._transform(row, self.source.key_columns, self.mapping)

    async def client(self) -> DataSourceClient:
        """The Data Source API client of this PCN's account."""
        return await self.plex.datasource_for_pcn()

    async def read_window(self, window: TimeWindow) -> list[dict[str, Any]]:
        """The rows of one history window (halved while Plex cuts it at the row limit)."""
        source = self.source
        assert source.window is not None  # only windowed sources are read by window
        client = await self.client()
        rows: list[dict[str, Any]] = []
        async for part in client.execute_windowed(
            source.id,
            source.inputs,
            window[0],
            window[1],
            begin_input=source.window.begin_input,
            end_input=source.window.end_input,
            format=source.format,
        ):
            if part.result.row_limit_exceeded:
                self.log.warning(
                    "data source rows cut at the row limit even in the smallest window", window=str(part.window)
                )
            rows += part.result.rows
        return rows

    async def extract(self) -> None:
        """Windowed: every window not done yet; snapshot: one execution, changed rows only."""
        if self.source.window is None:
            client = await self.client()
            result = await client.execute(self.source.id, self.source.inputs, format=self.source.format)
            if result.row_limit_exceeded:
                self.log.warning("data source rows cut at the row limit; give it date-window inputs to read it all")
            await self.rows.write(self.map_records(result.rows, self.transform))
            return
        async for window, rows in self.windows(self.read_window):
            await self.rows.put(self.map_records(rows, self.transform), window=window)


def _configured(resources: ExtractorResources, name: str) -> DataSourceStream:
    name = name.removeprefix(DATASOURCE_STREAM_PREFIX)
    for source in resources.settings.extraction.datasources:
        if source.name == name:
            return source
    configured = ", ".join(s.name for s in resources.settings.extraction.datasources) or "none"
    raise ConfigurationError(
        f"no data source named {name!r} in extraction.datasources (configured: {configured})",
        field="extraction.datasources",
    )


def datasource_factory(stream: str) -> Callable[[ExtractorContext, ExtractorResources], DataSourceExtractor]:
    """The extractor factory of stream `datasource:<name>` (the entry is looked up in the run's settings)."""

    def build(context: ExtractorContext, resources: ExtractorResources) -> DataSourceExtractor:
        return DataSourceExtractor(context, resources, source=stream)

    build.__name__ = build.__qualname__ = f"DataSourceExtractor[{stream}]"
    return build
