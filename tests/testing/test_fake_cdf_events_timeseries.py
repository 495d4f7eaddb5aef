"""FakeCDF events and time series through the real cognite-sdk: numeric asset links, 409/400, list, update, delete."""

from __future__ import annotations

import pytest
from cognite.client import CogniteClient
from cognite.client.data_classes import EventUpdate, EventWrite, TimeSeriesUpdate, TimeSeriesWrite
from cognite.client.exceptions import CogniteAPIError, CogniteDuplicatedError, CogniteNotFoundError

from plex_cognite.testing.fake_cdf import FakeCDF
from tests.testing._support import api


@pytest.fixture
def asset_ids(fake_cdf: FakeCDF) -> list[int]:
    return [
        a["id"]
        for a in fake_cdf.preload(
            "assets", [{"externalId": "wc1", "name": "wc1"}, {"externalId": "wc2", "name": "wc2"}]
        )
    ]


def test_event_with_numeric_asset_ids_round_trips(
    fake_cdf: FakeCDF, cognite_client: CogniteClient, asset_ids: list[int]
) -> None:
    event = cognite_client.events.create(
        EventWrite(
            external_id="job:1", type="job", start_time=10, end_time=20, asset_ids=asset_ids, metadata={"a": "b"}
        )
    )
    assert event.id > 0
    assert event.asset_ids == asset_ids
    assert fake_cdf.event_by_xid("job:1")["assetIds"] == asset_ids  # type: ignore[index]
    assert cognite_client.events.retrieve(external_id="job:1").metadata == {"a": "b"}  # type: ignore[union-attr]


def test_unknown_asset_id_is_400_missing_and_atomic(
    fake_cdf: FakeCDF, cognite_client: CogniteClient, asset_ids: list[int]
) -> None:
    with pytest.raises(CogniteNotFoundError) as caught:
        cognite_client.events.create(
            [EventWrite(external_id="ok", asset_ids=asset_ids), EventWrite(external_id="bad", asset_ids=[123])]
        )
    assert caught.value.code == 400
    assert caught.value.not_found == [{"id": 123}]
    assert fake_cdf.events == []


def test_string_asset_ids_are_rejected(fake_cdf: FakeCDF, asset_ids: list[int]) -> None:
    response = api(fake_cdf, "POST", "/events", {"items": [{"externalId": "e", "assetIds": ["wc1"]}]})
    assert response.status_code == 400
    assert "numeric" in response.json()["error"]["message"]
    ts = api(fake_cdf, "POST", "/timeseries", {"items": [{"externalId": "t", "assetId": "wc1"}]})
    assert ts.status_code == 400
    assert fake_cdf.events == []
    assert fake_cdf.timeseries == []


def test_duplicate_events_are_409(cognite_client: CogniteClient) -> None:
    cognite_client.events.create(EventWrite(external_id="e1"))
    with pytest.raises(CogniteDuplicatedError) as caught:
        cognite_client.events.create([EventWrite(external_id="e2"), EventWrite(external_id="e1")])
    assert caught.value.duplicated == [{"externalId": "e1"}]
    assert [e.external_id for e in cognite_client.events.list(limit=None)] == ["e1"]


def test_events_without_external_id_are_allowed(fake_cdf: FakeCDF, cognite_client: CogniteClient) -> None:
    cognite_client.events.create([EventWrite(type="a"), EventWrite(type="a")])
    assert len(fake_cdf.events) == 2


def test_end_before_start_is_400(cognite_client: CogniteClient) -> None:
    with pytest.raises(CogniteAPIError) as caught:
        cognite_client.events.create(EventWrite(external_id="e", start_time=20, end_time=10))
    assert caught.value.code == 400


def test_event_list_filters_and_paging(fake_cdf: FakeCDF, cognite_client: CogniteClient, asset_ids: list[int]) -> None:
    fake_cdf.preload(
        "events",
        [
            {
                "externalId": f"e{i:04d}",
                "type": "job" if i % 3 else "scrap",
                "startTime": i,
                "endTime": i + 5,
                "assetIds": [asset_ids[i % 2]],
            }
            for i in range(2500)
        ],
    )
    assert len(cognite_client.events.list(limit=None)) == 2500
    assert len(cognite_client.events.list(type="scrap", limit=None)) == 834
    assert len(cognite_client.events.list(asset_external_ids=["wc1"], limit=None)) == 1250
    assert len(cognite_client.events.list(asset_ids=[asset_ids[1]], limit=None)) == 1250
    assert len(cognite_client.events.list(start_time={"min": 100, "max": 199}, limit=None)) == 100
    assert len(cognite_client.events.list(external_id_prefix="e00", limit=None)) == 100
    assert len(cognite_client.events.list(limit=1200)) == 1200
    assert cognite_client.events.aggregate_count() == 2500


def test_event_update_asset_ids_and_fields(cognite_client: CogniteClient, asset_ids: list[int]) -> None:
    cognite_client.events.create(EventWrite(external_id="e", asset_ids=[asset_ids[0]], description="d", subtype="s"))
    updated = cognite_client.events.update(
        EventUpdate(external_id="e").asset_ids.add([asset_ids[1]]).description.set(None).subtype.set("t")
    )
    assert updated.asset_ids == asset_ids
    assert updated.description is None
    assert updated.subtype == "t"
    with pytest.raises(CogniteNotFoundError) as caught:
        cognite_client.events.update(EventUpdate(external_id="e").asset_ids.add([999]))
    assert caught.value.not_found == [{"id": 999}]


def test_event_upsert_and_delete(fake_cdf: FakeCDF, cognite_client: CogniteClient) -> None:
    cognite_client.events.create(EventWrite(external_id="e1", type="old"))
    cognite_client.events.upsert(
        [EventWrite(external_id="e1", type="new"), EventWrite(external_id="e2", type="x")], mode="replace"
    )
    assert {e["externalId"]: e["type"] for e in fake_cdf.events} == {"e1": "new", "e2": "x"}
    cognite_client.events.delete(external_id=["e1", "e2"])
    assert fake_cdf.events == []
    with pytest.raises(CogniteNotFoundError):
        cognite_client.events.delete(external_id="e1")


def test_time_series_create_defaults_and_asset_link(
    fake_cdf: FakeCDF, cognite_client: CogniteClient, asset_ids: list[int]
) -> None:
    ts = cognite_client.time_series.create(
        TimeSeriesWrite(external_id="t1", name="T1", unit="pcs", asset_id=asset_ids[0])
    )
    assert (ts.is_string, ts.is_step, ts.asset_id) == (False, False, asset_ids[0])
    assert fake_cdf.timeseries_by_xid("t1")["type"] == "numeric"  # type: ignore[index]
    with pytest.raises(CogniteNotFoundError) as caught:
        cognite_client.time_series.create(TimeSeriesWrite(external_id="t2", asset_id=42))
    assert caught.value.not_found == [{"id": 42}]
    with pytest.raises(CogniteDuplicatedError):
        cognite_client.time_series.create(TimeSeriesWrite(external_id="t1"))


def test_time_series_update_list_and_delete(
    fake_cdf: FakeCDF, cognite_client: CogniteClient, asset_ids: list[int]
) -> None:
    cognite_client.time_series.create(
        [
            TimeSeriesWrite(external_id=f"t{i}", name=f"T{i}", asset_id=asset_ids[i % 2], is_step=bool(i % 2))
            for i in range(4)
        ]
    )
    updated = cognite_client.time_series.update(TimeSeriesUpdate(external_id="t0").asset_id.set(None).unit.set("kg"))
    assert updated.asset_id is None
    assert updated.unit == "kg"
    assert len(cognite_client.time_series.list(asset_external_ids=["wc2"])) == 2
    assert len(cognite_client.time_series.list(is_step=True)) == 2
    cognite_client.time_series.data.insert([(1, 1.0)], external_id="t1")
    cognite_client.time_series.delete(external_id="t1")
    assert fake_cdf.timeseries_by_xid("t1") is None
    with pytest.raises(KeyError):
        fake_cdf.datapoints("t1")


def test_external_id_rename_collision_is_409(cognite_client: CogniteClient) -> None:
    cognite_client.events.create([EventWrite(external_id="a"), EventWrite(external_id="b")])
    with pytest.raises(CogniteDuplicatedError) as caught:
        cognite_client.events.update(EventUpdate(external_id="a").external_id.set("b"))
    assert caught.value.duplicated == [{"externalId": "b"}]
