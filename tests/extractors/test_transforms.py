from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plex_cognite.cdf.ids import ExternalIdScheme
from plex_cognite.errors import RecordValidationError
from plex_cognite.extractors._transforms import (
    MappingContext,
    building_asset,
    check_quantity,
    epoch_ms,
    job_event,
    part_asset,
    parts_catalog_asset,
    plant_asset,
    production_series,
    quantity_datapoints,
    scrap_series,
    workcenter_asset,
    workcenter_status_event,
)
from plex_cognite.plex.models import (
    Building,
    Job,
    Part,
    ProductionEntry,
    Workcenter,
    WorkcenterStatusEntry,
)
from plex_cognite.testing._plant_expected import dead_letter_reason
from plex_cognite.testing.plant import SimulatedPlant

CTX = MappingContext("340884")
PLANT = SimulatedPlant(seed=3, pcn="340884")
EXPECTED = PLANT.expected_cdf(on_missing_asset="skip_link")


def test_master_data_matches_the_plant_oracle() -> None:
    items = [plant_asset(CTX), parts_catalog_asset(CTX)]
    items += [building_asset(Building.model_validate(row), CTX) for row in PLANT.buildings()]
    items += [workcenter_asset(Workcenter.model_validate(row), CTX) for row in PLANT.workcenters()]
    items += [part_asset(Part.model_validate(row), CTX) for row in PLANT.parts()]
    assert {i.external_id for i in items} == set(EXPECTED.assets)
    for item in items:
        want = EXPECTED.assets[item.external_id]
        assert (item.name, item.parent_external_id, item.description) == (
            want.name,
            want.parent_external_id,
            want.description,
        )
        assert item.metadata["pcn"] == "340884"
        assert item.metadata["source"] == "plex"
        assert item.source == "plex"


def test_jobs_match_the_plant_oracle() -> None:
    checked = 0
    for row in PLANT.jobs():
        if dead_letter_reason("jobs", row) is not None:
            continue
        event = job_event(Job.model_validate(row), CTX)
        want = EXPECTED.events[event.external_id]
        assert (event.type, event.subtype, event.start_time, event.end_time) == (
            want.type,
            want.subtype,
            want.start_time,
            want.end_time,
        )
        assert set(event.asset_external_ids) >= want.asset_external_ids
        assert event.metadata["plexJobId"] == row["id"]
        checked += 1
    assert checked > 100


def test_status_entries_match_the_plant_oracle() -> None:
    for row in PLANT.workcenter_status_entries():
        if dead_letter_reason("workcenter_status", row) is not None:
            continue
        event = workcenter_status_event(WorkcenterStatusEntry.model_validate(row), CTX)
        want = EXPECTED.events[event.external_id]
        assert (event.subtype, event.start_time, event.end_time) == (want.subtype, want.start_time, want.end_time)


def test_production_sums_match_the_plant_oracle_including_same_millisecond_twins() -> None:
    entries = []
    for row in PLANT.production_entries():
        if dead_letter_reason("production", row) is None:
            entries.append(ProductionEntry.model_validate(row))
    series_of = {
        wc["workcenterId"]: CTX.ids.production_series("340884", wc["workcenterId"]) for wc in PLANT.workcenters()
    }
    items, orphans = quantity_datapoints(entries, series_of)
    assert orphans == []
    got = {item.external_id: dict(item.datapoints) for item in items}
    want = {xid: points for xid, points in EXPECTED.datapoints.items() if points and xid.endswith("PRODUCED_QTY")}
    assert got == want
    assert PLANT.twin_rows("production")  # the awkward case is really there


@settings(max_examples=100, deadline=None)
@given(
    quantities=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 5), st.floats(0, 1e6, allow_nan=False)), min_size=0, max_size=40
    )
)
def test_quantities_sharing_a_millisecond_are_summed(quantities: list[tuple[int, int, float]]) -> None:
    base = datetime(2025, 1, 6, tzinfo=UTC)
    entries = [
        ProductionEntry(workcenter_id=f"wc{wc}", transaction_date=base + timedelta(milliseconds=ms), quantity=q)
        for wc, ms, q in quantities
    ]
    items, _ = quantity_datapoints(entries, {f"wc{i}": f"S{i}" for i in range(4)})
    got = {(item.external_id, ts): value for item in items for ts, value in item.datapoints}
    want: dict[tuple[str, int], float] = {}
    for wc, ms, q in quantities:
        key = (f"S{wc}", epoch_ms(base) + ms)
        want[key] = want.get(key, 0.0) + q
    assert got == pytest.approx(want)
    for item in items:
        stamps = [ts for ts, _ in item.datapoints]
        assert stamps == sorted(set(stamps))


def test_entries_on_unknown_workcenters_are_returned_as_orphans() -> None:
    entry = ProductionEntry(workcenter_id="ghost", transaction_date=datetime(2025, 1, 6, tzinfo=UTC), quantity=1)
    items, orphans = quantity_datapoints([entry], {})
    assert items == []
    assert orphans == [entry]


def test_negative_quantity_and_duration_are_rejected() -> None:
    entry = ProductionEntry.model_construct(
        workcenter_id="w", transaction_date=datetime(2025, 1, 6, tzinfo=UTC), quantity=-1.0
    )
    with pytest.raises(RecordValidationError, match="negative"):
        check_quantity(entry)
    status = WorkcenterStatusEntry.model_construct(
        workcenter_id="w", log_date=datetime(2025, 1, 6, tzinfo=UTC), duration=-3, part_id=None
    )
    with pytest.raises(RecordValidationError, match="negative duration"):
        workcenter_status_event(status, CTX)


def test_time_series_link_their_workcenter_and_have_no_name_dependence() -> None:
    wc = Workcenter(workcenter_id="w1", workcenter_code="879", name="Mill A")
    renamed = Workcenter(workcenter_id="w1", workcenter_code="879", name="Mill B")
    series = production_series(wc, CTX)
    assert series.external_id == "PCN340884_WC_w1_PRODUCED_QTY"
    assert series.asset_external_id == "PCN340884_WC_w1"
    assert series.content_hash() == production_series(renamed, CTX).content_hash()
    assert scrap_series(wc, CTX).external_id == "PCN340884_WC_w1_SCRAP_QTY"


def test_epoch_ms_is_exact() -> None:
    moment = datetime(2025, 10, 3, 14, 5, 12, 523999, tzinfo=UTC)
    assert epoch_ms(moment) == 1759500312523


def test_a_custom_id_scheme_flows_through_every_mapping() -> None:
    class Dotted(ExternalIdScheme):
        def part(self, pcn: str, part_id: str) -> str:
            return f"plex.{pcn}.part.{part_id}"

    ctx = MappingContext("7", Dotted())
    job = Job(id="j1", part_id="p1")
    assert job_event(job, ctx).asset_external_ids == ("plex.7.part.p1",)
    assert plant_asset(MappingContext("7", ExternalIdScheme("ACME"))).external_id == "ACME7_PLANT"
