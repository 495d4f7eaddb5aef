"""SimulatedPlant.expected_cdf (the default mapping as an oracle) and mutate (change detection)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plex_cognite.testing.plant import ExpectedCdf, SimulatedPlant, parse_plex_datetime

if TYPE_CHECKING:
    from cognite.client import CogniteClient

    from plex_cognite.testing.fake_cdf import FakeCDF

PLANT = SimulatedPlant(seed=5)
PCN = PLANT.pcn
EXPECTED = PLANT.expected_cdf()


def ms(text: str) -> int:
    return int(parse_plex_datetime(text).timestamp() * 1000)


def test_asset_hierarchy() -> None:
    assets = EXPECTED.assets
    n_parts, n_wc, n_bldg = PLANT.size.parts, PLANT.size.workcenters, PLANT.size.buildings
    assert len(assets) == 1 + n_bldg + n_wc + 1 + n_parts
    assert assets[f"PCN{PCN}_PLANT"].parent_external_id is None
    assert assets[f"PCN{PCN}_PARTS"].parent_external_id == f"PCN{PCN}_PLANT"
    for wc in PLANT.workcenters():
        asset = assets[f"PCN{PCN}_WC_{wc['workcenterId']}"]
        expected_parent = f"PCN{PCN}_BLDG_{wc['buildingId']}" if wc["buildingId"] else f"PCN{PCN}_PLANT"
        assert (asset.name, asset.parent_external_id, asset.description) == (
            wc["workcenterCode"],
            expected_parent,
            wc["name"],
        )
    part = next(PLANT.parts())
    asset = assets[f"PCN{PCN}_PART_{part['id']}"]
    assert asset.parent_external_id == f"PCN{PCN}_PARTS"
    assert asset.name == (f"{part['number']}-{part['revision']}" if part["revision"] else part["number"])
    # every parent exists
    assert all(a.parent_external_id in assets for a in assets.values() if a.parent_external_id)


def test_job_events() -> None:
    unknown = set(PLANT.unknown_part_job_ids())
    malformed = {row.index for row in PLANT.malformed_rows("jobs")}
    valid_jobs = [job for i, job in enumerate(PLANT.jobs()) if i not in malformed]
    job_events = {xid: e for xid, e in EXPECTED.events.items() if e.type == "job"}
    assert len(job_events) == len([job for job in valid_jobs if job["id"] not in unknown])
    for job in valid_jobs:
        xid = f"PCN{PCN}_JOB_{job['id']}"
        if job["id"] in unknown:
            assert EXPECTED.deferred[xid] == {f"PCN{PCN}_PART_{job['partId']}"}
            continue
        event = job_events[xid]
        assert event.subtype == job["jobStatus"]
        assert event.start_time == ms(job["earliestStartDateTime"] or job["createdDate"])
        assert event.end_time == (None if job["completedDate"] is None else ms(job["completedDate"]))
        links = {f"PCN{PCN}_PART_{job['partId']}"} | (
            {f"PCN{PCN}_BLDG_{job['buildingId']}"} if job["buildingId"] else set()
        )
        assert event.asset_external_ids == links
    assert any(e.end_time is None for e in job_events.values())


def test_skip_link_writes_jobs_without_the_missing_part() -> None:
    expected = PLANT.expected_cdf(on_missing_asset="skip_link")
    assert not expected.deferred
    for xid in EXPECTED.deferred:
        event = expected.events[xid]
        assert all(link in EXPECTED.assets for link in event.asset_external_ids)


def test_status_events_span_log_date_plus_duration() -> None:
    status_events = [e for e in EXPECTED.events.values() if e.type == "workcenter_status"]
    malformed = {row.index for row in PLANT.malformed_rows("workcenter_status")}
    rows = [row for i, row in enumerate(PLANT.workcenter_status_entries()) if i not in malformed]
    assert len(status_events) + sum(1 for xid in EXPECTED.deferred if "_WCS_" in xid) == len(rows)
    row = rows[0]
    event = EXPECTED.events.get(f"PCN{PCN}_WCS_{row['workcenterId']}_{ms(row['logDate'])}")
    assert event is not None
    assert event.subtype == row["workcenterStatus"]
    assert event.end_time == event.start_time + row["duration"] * 1000
    assert f"PCN{PCN}_WC_{row['workcenterId']}" in event.asset_external_ids


def test_datapoints_sum_entries_sharing_a_millisecond() -> None:
    first, second = PLANT.twin_rows("production")[0]
    series = f"PCN{PCN}_WC_{first['workcenterId']}_PRODUCED_QTY"
    assert EXPECTED.datapoints[series][ms(first["transactionDate"])] == first["quantity"] + second["quantity"]
    malformed = {m.index for m in PLANT.malformed_rows("production")}
    valid = [row for i, row in enumerate(PLANT.production_entries()) if i not in malformed]
    assert sum(
        sum(points.values()) for xid, points in EXPECTED.datapoints.items() if xid.endswith("_PRODUCED_QTY")
    ) == sum(row["quantity"] for row in valid)
    assert len(EXPECTED.timeseries) == 2 * PLANT.size.workcenters
    assert all(ts.asset_external_id in EXPECTED.assets for ts in EXPECTED.timeseries.values())


def test_dead_letters_by_stream_and_reason() -> None:
    counts = EXPECTED.dead_letter_counts()
    for stream in ("jobs", "production", "scrap", "workcenter_status"):
        assert sum(n for (s, _), n in counts.items() if s == stream) == len(PLANT.malformed_rows(stream))
    assert counts[("production", "negative_number")] >= 1
    assert all(letter.payload for letter in EXPECTED.dead_letters)


HISTORY_STREAMS = ("production", "scrap", "workcenter_status")
FULL_HISTORY = PLANT.expected_cdf(streams=HISTORY_STREAMS)


@settings(max_examples=5, deadline=None)
@given(cut_s=st.integers(min_value=1, max_value=7 * 86400 - 1))
def test_windows_compose(cut_s: int) -> None:
    cut = PLANT.start + timedelta(seconds=cut_s)
    first = PLANT.expected_cdf(PLANT.start, cut, streams=HISTORY_STREAMS)
    second = PLANT.expected_cdf(cut, PLANT.end, streams=HISTORY_STREAMS)
    full = FULL_HISTORY
    merged = {xid: {**first.datapoints[xid], **second.datapoints[xid]} for xid in full.datapoints}
    for xid, points in merged.items():  # a twin pair never straddles the cut, so nothing sums across windows
        assert points == full.datapoints[xid]
    assert first.events.keys() | second.events.keys() == full.events.keys()
    assert Counter(first.dead_letter_counts()) + Counter(second.dead_letter_counts()) == full.dead_letter_counts()


def test_streams_select_what_is_expected() -> None:
    only_jobs = PLANT.expected_cdf(streams=["jobs"])
    assert not only_jobs.assets
    assert not only_jobs.timeseries
    assert not only_jobs.events  # every job links a part, which is missing without master data: all deferred
    assert len(only_jobs.deferred) > 0


def as_cdf(expected: ExpectedCdf) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    ids = {xid: n for n, xid in enumerate(expected.assets, start=1)}
    assets = [
        {
            "id": ids[a.external_id],
            "externalId": a.external_id,
            "name": a.name,
            "parentId": ids.get(a.parent_external_id or ""),
            "description": a.description,
        }
        for a in expected.assets.values()
    ]
    events = [
        {
            "externalId": e.external_id,
            "type": e.type,
            "subtype": e.subtype,
            "startTime": e.start_time,
            "endTime": e.end_time,
            "assetIds": [ids[x] for x in e.asset_external_ids],
        }
        for e in expected.events.values()
    ]
    series = [{"externalId": t.external_id, "assetId": ids[t.asset_external_id]} for t in expected.timeseries.values()]
    return assets, events, series


def test_mismatches_is_empty_for_matching_content_and_names_each_difference() -> None:
    assets, events, series = as_cdf(EXPECTED)
    points = {xid: sorted(p.items()) for xid, p in EXPECTED.datapoints.items()}
    foreign = {"id": 10**9, "externalId": "OTHER_ASSET", "name": "not ours"}
    assert EXPECTED.mismatches([*assets, foreign], events, series, points) == []
    events[0] = {**events[0], "subtype": "Wrong"}
    del assets[-1]
    problems = EXPECTED.mismatches(assets, events, series, None)
    assert any(p.startswith("missing asset") for p in problems)
    assert any("differs" in p and events[0]["externalId"] in p for p in problems)


def test_expectations_of_two_plants_merge() -> None:
    other = SimulatedPlant(seed=5, pcn="300757").expected_cdf(streams=["master_data"])
    merged = EXPECTED | other
    assert merged.pcns == {PCN, "300757"}
    assert len(merged.assets) == len(EXPECTED.assets) + len(other.assets)


def test_mutate_by_ids_changes_exactly_those_records() -> None:
    part = next(PLANT.parts())
    job = next(j for j in PLANT.jobs() if j["completedDate"] is None and j["id"] not in PLANT.unknown_part_job_ids())
    wc = PLANT.workcenters()[0]
    changed = PLANT.mutate(ids=[part["id"], job["id"], wc["workcenterId"]])
    assert changed.revision == 1
    assert PLANT.revision == 0
    assert changed.mutated_ids() == {part["id"], job["id"], wc["workcenterId"]}
    after = changed.expected_cdf()
    differing = {x for x in EXPECTED.assets if EXPECTED.assets[x] != after.assets[x]} | {
        x for x in EXPECTED.events if EXPECTED.events[x] != after.events[x]
    }
    assert differing == {
        f"PCN{PCN}_PART_{part['id']}",
        f"PCN{PCN}_JOB_{job['id']}",
        f"PCN{PCN}_WC_{wc['workcenterId']}",
    }
    new_job = changed.job(job["id"])
    assert new_job is not None
    assert new_job["jobStatus"] == "Complete"
    assert new_job["completedDate"] is not None
    unchanged = ("jobStatus", "completedDate", "quantityCompleted")
    assert {k: v for k, v in new_job.items() if k not in unchanged} == {
        k: v for k, v in job.items() if k not in unchanged
    }
    assert list(PLANT.production_entries()) == list(changed.production_entries())


@pytest.mark.parametrize("fraction", [0.0, 0.1, 1.0])
def test_mutate_by_fraction(fraction: float) -> None:
    changed = PLANT.mutate(fraction, seed=1)
    ids = changed.mutated_ids()
    total = PLANT.size.parts + PLANT.size.workcenters + PLANT.size.jobs
    assert (len(ids) == 0) == (fraction == 0.0)
    assert len(ids) <= total
    if fraction == 1.0:
        assert len(ids) == total - 1  # all but the malformed job without an id
    again = changed.mutate(fraction, seed=1)
    assert again.revision == 2
    assert list(changed.jobs()) == list(PLANT.mutate(fraction, seed=1).jobs())  # deterministic


def test_mismatches_reads_fake_cdf_content_written_by_the_sdk(cognite_client: CogniteClient, fake_cdf: FakeCDF) -> None:
    from cognite.client.data_classes import AssetWrite, EventWrite, TimeSeriesWrite

    expected = SimulatedPlant(seed=5).expected_cdf()
    cognite_client.assets.create_hierarchy(
        [
            AssetWrite(
                external_id=a.external_id,
                name=a.name,
                parent_external_id=a.parent_external_id,
                description=a.description,
            )
            for a in expected.assets.values()
        ]
    )
    ids = {a.external_id: a.id for a in cognite_client.assets.list(limit=None)}
    cognite_client.events.create(
        [
            EventWrite(
                external_id=e.external_id,
                type=e.type,
                subtype=e.subtype,
                start_time=e.start_time,
                end_time=e.end_time,
                asset_ids=[ids[x] for x in sorted(e.asset_external_ids)],
            )
            for e in expected.events.values()
        ]
    )
    cognite_client.time_series.create(
        [
            TimeSeriesWrite(external_id=t.external_id, asset_id=ids[t.asset_external_id])
            for t in expected.timeseries.values()
        ]
    )
    cognite_client.time_series.data.insert_multiple(
        [
            {"external_id": xid, "datapoints": sorted(points.items())}
            for xid, points in expected.datapoints.items()
            if points
        ]
    )
    points = {xid: fake_cdf.datapoints(xid) for xid in expected.datapoints}
    assert expected.mismatches(fake_cdf.assets, fake_cdf.events, fake_cdf.timeseries, points) == []
    cognite_client.events.delete(external_id=next(iter(expected.events)))
    problems = expected.mismatches(fake_cdf.assets, fake_cdf.events, fake_cdf.timeseries, points)
    assert problems == [f"missing event {next(iter(expected.events))}"]
