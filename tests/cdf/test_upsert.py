from __future__ import annotations

from plex_cognite.cdf._upsert import diff_update
from plex_cognite.cdf.sinks import ASSET_SPEC, EVENT_SPEC, TIMESERIES_SPEC, _depth_order


def test_diff_is_empty_when_nothing_changed() -> None:
    wanted = {"externalId": "e", "type": "job", "assetIds": [2, 1], "metadata": {"a": "1"}}
    current = {"id": 9, "externalId": "e", "type": "job", "assetIds": [1, 2], "metadata": {"a": "1"}, "createdTime": 1}
    assert diff_update(EVENT_SPEC, wanted, current) == {}


def test_diff_sends_only_changed_fields_and_clears_managed_ones() -> None:
    wanted = {"externalId": "e", "type": "job", "subtype": "Done", "metadata": {"a": "2"}}
    current = {"externalId": "e", "type": "job", "subtype": "Open", "description": "old", "metadata": {"a": "1"}}
    assert diff_update(EVENT_SPEC, wanted, current) == {
        "subtype": {"set": "Done"},
        "metadata": {"set": {"a": "2"}},
        "description": {"setNull": True},
    }


def test_diff_reparents_an_asset_and_never_touches_unmanaged_fields() -> None:
    wanted = {"externalId": "a", "name": "A", "parentExternalId": "new"}
    current = {"externalId": "a", "name": "A", "parentExternalId": "old", "parentId": 1, "dataSetId": 5}
    assert diff_update(ASSET_SPEC, wanted, current) == {"parentExternalId": {"set": "new"}}


def test_diff_time_series_asset_link() -> None:
    wanted = {"externalId": "t", "name": "T", "isStep": False, "isString": False}
    current = {"externalId": "t", "name": "T", "isStep": False, "isString": False, "assetId": 3}
    assert diff_update(TIMESERIES_SPEC, wanted, current) == {"assetId": {"setNull": True}}


def test_depth_order_puts_parents_first_and_reports_cycles() -> None:
    bodies = [
        {"externalId": "leaf", "parentExternalId": "mid"},
        {"externalId": "mid", "parentExternalId": "root"},
        {"externalId": "root"},
        {"externalId": "outside-child", "parentExternalId": "exists-in-cdf"},
        {"externalId": "c1", "parentExternalId": "c2"},
        {"externalId": "c2", "parentExternalId": "c1"},
        {"externalId": "under-cycle", "parentExternalId": "c1"},
    ]
    levels, cyclic = _depth_order(bodies)
    assert [sorted(b["externalId"] for b in level) for level in levels] == [
        ["outside-child", "root"],
        ["mid"],
        ["leaf"],
    ]
    assert cyclic == ["c1", "c2", "under-cycle"]
