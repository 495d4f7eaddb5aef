"""FakeCDF datapoints: insert by id / externalId, last write wins, limits, retrieve (protobuf and JSON), latest."""

from __future__ import annotations

import math

import pytest
from cognite.client import CogniteClient
from cognite.client.data_classes import TimeSeriesWrite
from cognite.client.exceptions import CogniteAPIError, CogniteNotFoundError

from plex_cognite.testing.fake_cdf import FakeCDF
from tests.testing._support import api


@pytest.fixture
def series(cognite_client: CogniteClient) -> int:
    created = cognite_client.time_series.create(
        [TimeSeriesWrite(external_id="num", name="num"), TimeSeriesWrite(external_id="txt", is_string=True)]
    )
    return created[0].id


def test_insert_by_external_id_and_id_last_write_wins(
    fake_cdf: FakeCDF, cognite_client: CogniteClient, series: int
) -> None:
    cognite_client.time_series.data.insert([(1000, 1.0), (2000, 2.0)], external_id="num")
    cognite_client.time_series.data.insert([(2000, 5.5), (3000, 3)], id=series)
    assert fake_cdf.datapoints("num") == [(1000, 1.0), (2000, 5.5), (3000, 3.0)]


def test_one_value_per_timestamp_within_a_request(fake_cdf: FakeCDF, series: int) -> None:
    body = {
        "items": [{"externalId": "num", "datapoints": [{"timestamp": 1, "value": 1}, {"timestamp": 1, "value": 2}]}]
    }
    assert api(fake_cdf, "POST", "/timeseries/data", body).status_code == 200
    assert fake_cdf.datapoints("num") == [(1, 2.0)]


def test_string_series(fake_cdf: FakeCDF, cognite_client: CogniteClient, series: int) -> None:
    cognite_client.time_series.data.insert([(1, "running"), (2, "idle")], external_id="txt")
    assert fake_cdf.string_datapoints("txt") == [(1, "running"), (2, "idle")]
    retrieved = cognite_client.time_series.data.retrieve(external_id="txt", start=0, end=10)
    assert list(retrieved.value) == ["running", "idle"]  # type: ignore[union-attr,arg-type]


def test_unknown_series_is_400_missing_and_nothing_written(
    fake_cdf: FakeCDF, cognite_client: CogniteClient, series: int
) -> None:
    with pytest.raises(CogniteNotFoundError) as caught:
        cognite_client.time_series.data.insert_multiple(
            [{"external_id": "num", "datapoints": [(1, 1.0)]}, {"external_id": "ghost", "datapoints": [(1, 1.0)]}]
        )
    assert caught.value.not_found == [{"externalId": "ghost"}]
    assert fake_cdf.datapoints("num") == []


@pytest.mark.parametrize(
    "point",
    [
        {"timestamp": 1, "value": "abc"},
        {"timestamp": "x", "value": 1},
        {"timestamp": 1, "value": 1e101},
        {"timestamp": 5_000_000_000_000, "value": 1},
    ],
)
def test_invalid_datapoints_are_400(fake_cdf: FakeCDF, series: int, point: dict[str, object]) -> None:
    response = api(fake_cdf, "POST", "/timeseries/data", {"items": [{"externalId": "num", "datapoints": [point]}]})
    assert response.status_code == 400
    assert fake_cdf.datapoints("num") == []


def test_100k_datapoints_per_request_limit(fake_cdf: FakeCDF, cognite_client: CogniteClient, series: int) -> None:
    too_many = [{"timestamp": i, "value": 1.0} for i in range(100_001)]
    response = api(fake_cdf, "POST", "/timeseries/data", {"items": [{"externalId": "num", "datapoints": too_many}]})
    assert response.status_code == 400
    cognite_client.time_series.data.insert([(i, float(i)) for i in range(120_000)], external_id="num")
    assert fake_cdf.request_counts("POST", "/timeseries/data") == 3  # the rejected call + 100k + 20k
    assert len(fake_cdf.datapoints("num")) == 120_000


def test_retrieve_through_the_sdk_protobuf_path(cognite_client: CogniteClient, series: int) -> None:
    cognite_client.time_series.data.insert([(t, t / 10) for t in range(1, 2001)], external_id="num")
    retrieved = cognite_client.time_series.data.retrieve(external_id="num", start=1, end=2001)
    assert len(retrieved) == 2000  # type: ignore[arg-type]
    assert retrieved.value[-1] == 200.0  # type: ignore[union-attr,index]
    window = cognite_client.time_series.data.retrieve(external_id="num", start=100, end=200)
    assert list(window.timestamp) == list(range(100, 200))  # type: ignore[union-attr]
    latest = cognite_client.time_series.data.retrieve_latest(external_id="num")
    assert latest is not None
    assert latest.value == 200.0
    assert latest.timestamp.timestamp() == 2.0  # type: ignore[union-attr]


def test_retrieve_json_with_cursor(fake_cdf: FakeCDF, cognite_client: CogniteClient, series: int) -> None:
    cognite_client.time_series.data.insert([(t, 1.0) for t in range(10)], external_id="num")
    first = api(
        fake_cdf,
        "POST",
        "/timeseries/data/list",
        {"items": [{"externalId": "num", "start": 0, "end": 100, "limit": 6}]},
    )
    item = first.json()["items"][0]
    assert [p["timestamp"] for p in item["datapoints"]] == [0, 1, 2, 3, 4, 5]
    assert item["isString"] is False
    assert item["externalId"] == "num"
    body = {"items": [{"externalId": "num", "start": 0, "end": 100, "limit": 6, "cursor": item["nextCursor"]}]}
    second = api(fake_cdf, "POST", "/timeseries/data/list", body).json()["items"][0]
    assert [p["timestamp"] for p in second["datapoints"]] == [6, 7, 8, 9]
    assert "nextCursor" not in second
    aggregates = {"items": [{"externalId": "num", "aggregates": ["average"], "granularity": "1h"}]}
    assert api(fake_cdf, "POST", "/timeseries/data/list", aggregates).status_code == 400


def test_non_finite_values_and_delete_range(fake_cdf: FakeCDF, cognite_client: CogniteClient, series: int) -> None:
    cognite_client.time_series.data.insert([(1, math.inf), (2, 2.0), (3, 3.0)], external_id="num")
    assert fake_cdf.datapoints("num")[0] == (1, math.inf)
    cognite_client.time_series.data.delete_range(start=2, end=3, external_id="num")
    assert [ts for ts, _ in fake_cdf.datapoints("num")] == [1, 3]


def test_numeric_series_refuses_strings_through_the_sdk(cognite_client: CogniteClient, series: int) -> None:
    with pytest.raises(CogniteAPIError) as caught:
        cognite_client.time_series.data.insert([(1, "on")], external_id="num")
    assert caught.value.code == 400
