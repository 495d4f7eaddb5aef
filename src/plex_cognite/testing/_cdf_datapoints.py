"""Datapoints in FakeCDF: insert (one value per timestamp, last write wins), retrieve, latest, delete.

Limits follow the API: at most 10 000 time series items and 100 000 datapoints in total per insert request; there is
no per-series cap (the SDK packs up to 100 000 points of one series into a request).
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from plex_cognite.testing._cdf_errors import CDFError, Identifier, bad_request, unique_identifiers
from plex_cognite.testing._cdf_table import (
    Record,
    Table,
    as_identifier,
    as_object,
    body_items,
    decode_cursor,
    encode_cursor,
    parse_identifier,
)

MAX_INSERT_ITEMS = 10_000
MAX_INSERT_DATAPOINTS = 100_000
MAX_RETRIEVE_ITEMS = 100
MAX_RETRIEVE_LIMIT = 100_000
MIN_TIMESTAMP = -2_208_988_800_000  # 1900-01-01
MAX_TIMESTAMP = 4_102_444_799_999  # 2099-12-31T23:59:59.999
MAX_STRING_BYTES = 1023
MAX_ABS_VALUE = 1e100
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}

Value = float | str | None


@dataclass
class SeriesPoints:
    """A page of datapoints of one series, ready to be encoded as JSON or protobuf."""

    series: Record
    points: list[tuple[int, Value]]
    next_cursor: str | None


class DatapointStore:
    """Datapoints per time series id: `{timestamp_ms: value}`."""

    def __init__(self) -> None:
        self.series: dict[int, dict[int, Value]] = {}

    def clear(self) -> None:
        """Delete all datapoints."""
        self.series.clear()

    def drop(self, series_id: int) -> None:
        """Delete the datapoints of one series (when the series is deleted)."""
        self.series.pop(series_id, None)

    def sorted_points(self, series_id: int) -> list[tuple[int, Value]]:
        """All points of one series, by timestamp."""
        return sorted(self.series.get(series_id, {}).items())

    # -- insert ----------------------------------------------------------------------------------------------------

    def insert(self, table: Table, body: object) -> int:
        """`POST /timeseries/data`: validate the whole request, then store; returns the datapoint count."""
        items = body_items(body, limit=MAX_INSERT_ITEMS)
        total = sum(len(item.get("datapoints") or ()) for item in items)
        if total > MAX_INSERT_DATAPOINTS:
            raise bad_request(f"At most {MAX_INSERT_DATAPOINTS} datapoints per request, got {total}")
        lookup = _SeriesLookup(table)
        prepared: list[tuple[int, list[tuple[int, Value]]]] = []
        for item in items:
            series_id = lookup.id_of(item)
            if series_id is None:
                continue
            record = table.by_id[series_id]
            prepared.append((series_id, _check_points(record, item.get("datapoints"))))
        lookup.raise_missing()
        for series_id, points in prepared:
            self.series.setdefault(series_id, {}).update(points)
        return total

    # -- read ------------------------------------------------------------------------------------------------------

    def retrieve(self, table: Table, body: object) -> list[SeriesPoints]:
        """`POST /timeseries/data/list` (raw datapoints only): per item start/end/limit/cursor."""
        items = body_items(body, limit=MAX_RETRIEVE_ITEMS)
        defaults = as_object(body)
        ignore_unknown = bool(defaults.get("ignoreUnknownIds", False))
        now = time.time_ns() // 1_000_000
        out: list[SeriesPoints] = []
        lookup = _SeriesLookup(table)
        for item in items:
            query = {**{k: v for k, v in defaults.items() if k not in ("items", "ignoreUnknownIds")}, **item}
            if query.get("aggregates"):
                raise bad_request("FakeCDF serves raw datapoints only; aggregates are not supported")
            series_id = lookup.id_of(item)
            if series_id is None:
                continue
            out.append(self._page(table.by_id[series_id], query, now))
        if not ignore_unknown:
            lookup.raise_missing()
        return out

    def _page(self, series: Record, query: Mapping[str, Any], now: int) -> SeriesPoints:
        """One series' points in [start, end), at most `limit` of them, from `cursor` on when given."""
        start = _time_of(query.get("start", 0), now, "start")
        end = _time_of(query.get("end", "now"), now, "end")
        limit = query.get("limit", 100)
        if limit is None or limit == -1:
            limit = MAX_RETRIEVE_LIMIT
        if not isinstance(limit, int) or not 0 <= limit <= MAX_RETRIEVE_LIMIT:
            raise bad_request(f"limit must be within 0..{MAX_RETRIEVE_LIMIT}, got {limit!r}")
        if query.get("cursor"):
            start = int(decode_cursor(query["cursor"])["start"])
        points = self.sorted_points(series["id"])
        low = bisect.bisect_left(points, (start,))
        high = bisect.bisect_left(points, (end,))
        more = low + limit < high
        cursor = encode_cursor({"start": points[low + limit][0]}) if more else None
        return SeriesPoints(series, points[low : min(high, low + limit)], cursor)

    def latest(self, table: Table, body: object) -> list[Record]:
        """`POST /timeseries/data/latest`: the last point before `before` (default now) per series."""
        items = body_items(body, limit=MAX_RETRIEVE_ITEMS)
        ignore_unknown = bool(as_object(body).get("ignoreUnknownIds", False))
        now = time.time_ns() // 1_000_000
        out: list[Record] = []
        lookup = _SeriesLookup(table)
        for item in items:
            series_id = lookup.id_of(item)
            if series_id is None:
                continue
            before = _time_of(item.get("before", "now"), now, "before")
            candidates = [ts for ts in self.series.get(series_id, {}) if ts < before]
            points = []
            if candidates:
                newest = max(candidates)
                points = [_point_json(newest, self.series[series_id][newest])]
            out.append({**series_header(table.by_id[series_id]), "datapoints": points})
        if not ignore_unknown:
            lookup.raise_missing()
        return out

    def delete(self, table: Table, body: object) -> None:
        """`POST /timeseries/data/delete`: remove points in [inclusiveBegin, exclusiveEnd) per series."""
        items = body_items(body, limit=MAX_INSERT_ITEMS)
        ranges: list[tuple[int, int, int]] = []
        lookup = _SeriesLookup(table)
        for item in items:
            series_id = lookup.id_of(item)
            if series_id is None:
                continue
            begin, end = item.get("inclusiveBegin"), item.get("exclusiveEnd", MAX_TIMESTAMP + 1)
            if not isinstance(begin, int) or not isinstance(end, int):
                raise bad_request("inclusiveBegin (and exclusiveEnd when given) must be integer timestamps")
            ranges.append((series_id, begin, end))
        lookup.raise_missing()
        for series_id, begin, end in ranges:
            points = self.series.get(series_id, {})
            for ts in [ts for ts in points if begin <= ts < end]:
                del points[ts]

    # -- persistence -----------------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, list[list[Any]]]:
        """`{series_id: [[ts, value], ...]}` with non-finite floats as strings."""
        return {str(sid): [[ts, _encode(v)] for ts, v in sorted(p.items())] for sid, p in self.series.items()}

    def restore(self, state: Mapping[str, Sequence[Sequence[Any]]]) -> None:
        """Load a `snapshot()`."""
        for series_id, points in state.items():
            self.series[int(series_id)] = {int(ts): _decode(v) for ts, v in points}


class _SeriesLookup:
    """Resolves request items to time series ids, remembering the unknown ones so one 400 can name them all."""

    def __init__(self, table: Table) -> None:
        self._table = table
        self._missing: list[Identifier] = []

    def id_of(self, item: Mapping[str, Any]) -> int | None:
        """The id of the series `item` names, or None (and it is remembered) when there is no such series."""
        identifier = parse_identifier(item)
        series_id = self._table.lookup(identifier)
        if series_id is None:
            self._missing.append(as_identifier(identifier))
        return series_id

    def raise_missing(self) -> None:
        """Raise 400 `missing` naming every unknown series seen so far, if any."""
        if self._missing:
            raise CDFError(400, "Time series not found", missing=unique_identifiers(self._missing))


def series_header(series: Record) -> Record:
    """The series fields datapoint responses repeat."""
    header: Record = {
        "id": series["id"],
        "isString": series.get("isString", False),
        "isStep": series.get("isStep", False),
        "type": "string" if series.get("isString") else "numeric",
    }
    for name in ("externalId", "instanceId", "unit", "unitExternalId"):
        if series.get(name) is not None:
            header[name] = series[name]
    return header


def points_json(page: SeriesPoints) -> Record:
    """One `/data/list` response item in JSON form."""
    item = {**series_header(page.series), "datapoints": [_point_json(ts, value) for ts, value in page.points]}
    if page.next_cursor:
        item["nextCursor"] = page.next_cursor
    return item


def _point_json(ts: int, value: Value) -> dict[str, Any]:
    if value is None:
        return {"timestamp": ts, "status": {"code": 2147483648}}
    return {"timestamp": ts, "value": _encode(value)}


def _encode(value: Value) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def _decode(value: Any) -> Value:
    if isinstance(value, str) and value in _NON_FINITE:
        return _NON_FINITE[value]
    return value  # type: ignore[no-any-return]


def _time_of(value: Any, now: int, name: str) -> int:
    if value == "now":
        return now
    if not isinstance(value, int) or isinstance(value, bool):
        raise bad_request(f"{name} must be epoch milliseconds or 'now' in FakeCDF, got {value!r}")
    return value


def _check_points(series: Record, points: Any) -> list[tuple[int, Value]]:
    if not isinstance(points, list):
        raise bad_request("datapoints must be a list")
    is_string = bool(series.get("isString"))
    where = series.get("externalId") or series["id"]
    out: list[tuple[int, Value]] = []
    for point in points:
        if not isinstance(point, dict):
            raise bad_request(f"Datapoints of {where!r} must be objects with timestamp and value")
        ts = point.get("timestamp")
        if not isinstance(ts, int) or isinstance(ts, bool) or not MIN_TIMESTAMP <= ts <= MAX_TIMESTAMP:
            raise bad_request(f"Invalid timestamp {ts!r} for {where!r}: epoch ms between 1900 and 2099")
        if "value" not in point or point["value"] is None:
            if "status" not in point:
                raise bad_request(f"Datapoint at {ts} of {where!r} has no value")
            out.append((ts, None))
            continue
        out.append((ts, _check_value(point["value"], is_string, where, ts)))
    return out


def _check_value(value: Any, is_string: bool, where: object, ts: int) -> Value:
    if is_string:
        if not isinstance(value, str):
            raise bad_request(f"String time series {where!r} got non-string value {value!r} at {ts}")
        if len(value.encode("utf-8")) > MAX_STRING_BYTES:
            raise bad_request(f"String value at {ts} of {where!r} is longer than {MAX_STRING_BYTES} bytes")
        return value
    if isinstance(value, str):
        if value not in _NON_FINITE:
            raise bad_request(f"Numeric time series {where!r} got string value {value!r} at {ts}")
        return _NON_FINITE[value]
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise bad_request(f"Numeric time series {where!r} got non-numeric value {value!r} at {ts}")
    if abs(value) > MAX_ABS_VALUE:
        raise bad_request(f"Value {value!r} at {ts} of {where!r} is outside +-1e100")
    return float(value)
