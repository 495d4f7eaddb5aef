"""`extraction.lookback`: rows Plex receives late, inside an already-completed window, are picked up (and only then).

After a full run, the plant is served with rows back-dated into its last day (a new entry in the same millisecond as
an existing one, a new entry, a corrected quantity, a corrected status, a new status entry). A run without lookback
reads nothing (those windows are done); a run with `lookback: 1d` reads the last day again and CDF then equals the
new expected content, with same-millisecond quantities summed in full.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from plex_cognite.plex import format_plex_datetime
from plex_cognite.testing._plant_expected import dead_letter_reason, plex_ms
from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import SimulatedPlant

from .conftest import mismatches, run, write_requests

Row = dict[str, Any]
_TIME_FIELD = {"production": "transactionDate", "scrap": "transactionDate", "workcenter_status": "logDate"}


def _shift(text: str, ms: int) -> str:
    return format_plex_datetime(datetime.fromtimestamp((plex_ms(text) + ms) / 1000, tz=UTC))


class LatePlant(SimulatedPlant):
    """`base` with rows entered late: `extra` rows added and `changes` applied to rows matched by `_identity`."""

    def __init__(
        self, base: SimulatedPlant, extra: dict[str, list[Row]], changes: dict[str, dict[tuple[object, ...], Row]]
    ) -> None:
        super().__init__(base.seed, base.pcn, base.size)
        self._extra = extra
        self._changes = changes

    def _late(self, stream: str, rows: Iterator[Row], begin: datetime | None, end: datetime | None) -> Iterator[Row]:
        lo = None if begin is None else int(begin.timestamp() * 1000)
        hi = None if end is None else int(end.timestamp() * 1000)
        field = _TIME_FIELD[stream]
        changes = self._changes.get(stream, {})
        out = [{**row, **changes.get(_identity(row), {})} for row in rows]
        out += [
            row
            for row in self._extra.get(stream, [])
            if (lo is None or plex_ms(row[field]) >= lo) and (hi is None or plex_ms(row[field]) < hi)
        ]
        return iter(out)  # late rows come last, as a query without ORDER BY may return them

    def production_entries(self, begin: datetime | None = None, end: datetime | None = None) -> Iterator[Row]:
        return self._late("production", super().production_entries(begin, end), begin, end)

    def scrap_entries(self, begin: datetime | None = None, end: datetime | None = None) -> Iterator[Row]:
        return self._late("scrap", super().scrap_entries(begin, end), begin, end)

    def workcenter_status_entries(self, begin: datetime | None = None, end: datetime | None = None) -> Iterator[Row]:
        return self._late("workcenter_status", super().workcenter_status_entries(begin, end), begin, end)


def _identity(row: Row) -> tuple[object, ...]:
    return (row.get("serialNo"), row.get("transactionDate"), row.get("logDate"), row.get("workcenterId"))


def _valid(plant: SimulatedPlant, stream: str, rows: Iterator[Row]) -> list[Row]:
    parts = {part["id"] for part in plant.parts()}
    return [
        row
        for row in rows
        if dead_letter_reason(stream, row) is None and (row.get("partId") is None or row["partId"] in parts)
    ]


def late_rows(plant: SimulatedPlant) -> tuple[LatePlant, str, int, float]:
    """The late plant, plus one series, millisecond and the old sum there that a late same-ms entry adds to."""
    begin, end = plant.end - timedelta(hours=12), plant.end
    production = _valid(plant, "production", plant.production_entries(begin, end))
    scrap = _valid(plant, "scrap", plant.scrap_entries(begin, end))
    status = _valid(plant, "workcenter_status", plant.workcenter_status_entries(begin, end))
    twin_of, corrected, moved = production[0], production[1], production[2]
    extra = {
        "production": [
            {**twin_of, "serialNo": "LATE-1", "quantity": 2.0},  # same millisecond as an existing entry
            {**moved, "serialNo": "LATE-2", "quantity": 7.0, "transactionDate": _shift(moved["transactionDate"], 1234)},
        ],
        "scrap": [{**scrap[0], "serialNo": "LATE-3", "quantity": 3.0}],
        "workcenter_status": [{**status[1], "logDate": _shift(status[1]["logDate"], 60_000)}],
    }
    changes: dict[str, dict[tuple[object, ...], Row]] = {
        "production": {_identity(corrected): {"quantity": float(corrected["quantity"]) + 10}},
        "workcenter_status": {_identity(status[0]): {"workcenterStatus": "Maintenance (corrected)"}},
    }
    series = f"PCN{plant.pcn}_WC_{twin_of['workcenterId']}_PRODUCED_QTY"
    moment = plex_ms(twin_of["transactionDate"])
    old_sum = sum(
        float(row["quantity"])
        for row in plant.production_entries(begin, end)
        if dead_letter_reason("production", row) is None
        and row["workcenterId"] == twin_of["workcenterId"]
        and plex_ms(row["transactionDate"]) == moment
    )
    return LatePlant(plant, extra, changes), series, moment, old_sum


def history_reads(plex: FakePlex) -> int:
    return sum(1 for r in plex.request_log if r.path.endswith(("-entries", "workcenter-status-history", "-history")))


async def test_lookback_picks_up_rows_entered_late_in_a_completed_window(
    fakes: tuple[FakePlex, FakeCDF], plant: SimulatedPlant, tmp_path: Path
) -> None:
    plex, cdf = fakes
    assert (await run(plex, cdf, plant, tmp_path)).ok
    assert mismatches(cdf, plant, tmp_path, plex) == []

    late, series, moment, old_sum = late_rows(plant)
    plex.set_plant(late)
    stale = mismatches(cdf, late, tmp_path, plex)
    assert stale, "the late rows must change the expected CDF content"

    # Without lookback the completed windows are not read again: nothing is read, written or picked up.
    cdf.reset_request_log()
    plex.reset_request_log()
    without = await run(plex, cdf, late, tmp_path)
    assert without.ok, without.format_table()
    assert history_reads(plex) == 0
    assert write_requests(cdf) == []
    assert mismatches(cdf, late, tmp_path, plex) == stale

    # With lookback the last day is read again and CDF matches the late plant exactly.
    with_lookback = await run(plex, cdf, late, tmp_path, lookback="1d")
    assert with_lookback.ok, with_lookback.format_table()
    assert history_reads(plex) > 0
    assert mismatches(cdf, late, tmp_path, plex) == []
    # the late same-millisecond entry is summed with the existing ones, never written as a partial value
    assert dict(cdf.datapoints(series))[moment] == old_sum + 2.0
    windows = {r.stream: r.windows for r in with_lookback.streams}
    assert windows["production"] == windows["scrap"] == windows["workcenter_status"] == 1

    # Another lookback run over the same data rewrites the same values: CDF is unchanged.
    cdf.reset_request_log()
    again = await run(plex, cdf, late, tmp_path, lookback="1d")
    assert again.ok, again.format_table()
    assert mismatches(cdf, late, tmp_path, plex) == []
    assert not [w for w in write_requests(cdf) if "/assets" in w or w.endswith("/timeseries")]
