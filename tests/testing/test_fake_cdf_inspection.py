"""FakeCDF's inspection API: objects, request log and counts, preload, reset, save/load; data sets and extpipes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cognite.client import CogniteClient
from cognite.client.data_classes import DataSetWrite, EventWrite
from cognite.client.data_classes.extractionpipelines import ExtractionPipelineRunWrite, ExtractionPipelineWrite
from cognite.client.exceptions import CogniteNotFoundError

from plex_cognite.testing.fake_cdf import FakeCDF


def test_request_log_records_method_path_status_and_items(fake_cdf: FakeCDF, cognite_client: CogniteClient) -> None:
    cognite_client.events.create([EventWrite(external_id=f"e{i}") for i in range(2500)])
    cognite_client.events.list(limit=5)
    creates = [r for r in fake_cdf.request_log if r.path == "/events"]
    assert sorted(r.items or 0 for r in creates) == [500, 1000, 1000]
    assert {r.status for r in creates} == {201}
    assert fake_cdf.request_counts("POST", "/events") == 3
    assert fake_cdf.request_counts(path=re.compile(r"/events.*")) == 4
    assert fake_cdf.request_counter() == {"POST /events": 3, "POST /events/list": 1}
    fake_cdf.reset_request_log()
    assert fake_cdf.request_log == []


def test_objects_are_copies_shaped_like_the_api(fake_cdf: FakeCDF, cognite_client: CogniteClient) -> None:
    cognite_client.events.create(EventWrite(external_id="e", metadata={"k": "v"}))
    event = fake_cdf.event_by_xid("e")
    assert event is not None
    assert {"id", "createdTime", "lastUpdatedTime", "externalId"} <= set(event)
    event["metadata"]["k"] = "changed"
    assert fake_cdf.get("events", "e")["metadata"] == {"k": "v"}  # type: ignore[index]
    assert fake_cdf.get("events", "nope") is None


def test_preload_validates_like_the_api(fake_cdf: FakeCDF) -> None:
    created = fake_cdf.preload(
        "assets", [{"externalId": "p", "name": "P"}, {"externalId": "c", "name": "C", "parentExternalId": "p"}]
    )
    assert created[1]["parentId"] == created[0]["id"]
    from plex_cognite.testing._cdf_errors import CDFError

    with pytest.raises(CDFError):
        fake_cdf.preload("assets", [{"externalId": "p", "name": "again"}])
    assert fake_cdf.request_log == []


def test_reset_empties_everything(fake_cdf: FakeCDF, cognite_client: CogniteClient) -> None:
    cognite_client.events.create(EventWrite(external_id="e"))
    fake_cdf.reset()
    assert fake_cdf.events == []
    assert fake_cdf.request_log == []
    cognite_client.events.create(EventWrite(external_id="e"))  # no 409 after a reset


def test_save_and_load_round_trip(tmp_path: Path, fake_cdf: FakeCDF, cognite_client: CogniteClient) -> None:
    fake_cdf.preload(
        "assets", [{"externalId": "p", "name": "P"}, {"externalId": "c", "name": "C", "parentExternalId": "p"}]
    )
    fake_cdf.preload("timeseries", [{"externalId": "t"}])
    cognite_client.time_series.data.insert([(1, 1.5)], external_id="t")
    fake_cdf.save(tmp_path / "state.json")
    with FakeCDF() as other:
        other.load(tmp_path / "state.json")
        assert other.assets == fake_cdf.assets
        assert other.datapoints("t") == [(1, 1.5)]


def test_data_sets_and_extraction_pipeline_runs(fake_cdf: FakeCDF, cognite_client: CogniteClient) -> None:
    data_set = cognite_client.data_sets.create(DataSetWrite(external_id="plex", name="Plex"))
    cognite_client.extraction_pipelines.create(
        ExtractionPipelineWrite(external_id="ep", name="EP", data_set_id=data_set.id)
    )
    cognite_client.extraction_pipelines.runs.create(ExtractionPipelineRunWrite(extpipe_external_id="ep", status="seen"))
    cognite_client.extraction_pipelines.runs.create(
        ExtractionPipelineRunWrite(extpipe_external_id="ep", status="failure", message="boom")
    )
    assert [(r["status"], r.get("message")) for r in fake_cdf.extpipe_runs] == [("seen", None), ("failure", "boom")]
    runs = cognite_client.extraction_pipelines.runs.list(external_id="ep")
    assert [r.status for r in runs] == ["failure", "seen"]
    assert fake_cdf.get("extpipes", "ep")["lastMessage"] == "boom"  # type: ignore[index]
    with pytest.raises(CogniteNotFoundError):
        cognite_client.extraction_pipelines.runs.create(
            ExtractionPipelineRunWrite(extpipe_external_id="nope", status="seen")
        )
    with pytest.raises(CogniteNotFoundError) as caught:
        cognite_client.events.create(EventWrite(external_id="e", data_set_id=12345))
    assert caught.value.not_found == [{"id": 12345}]
