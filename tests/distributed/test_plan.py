"""plan_backfill: deterministic aligned units per PCN x windowed stream, minus what is already complete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from plex_cognite.config import ExtractorSettings
from plex_cognite.core.state import LocalStateStore, StreamState
from plex_cognite.core.sync import run_sync
from plex_cognite.distributed import WINDOWED_STREAMS, WorkUnit, plan_backfill
from plex_cognite.distributed._ledger import LocalLedger, completion_record
from plex_cognite.errors import ConfigurationError

T0 = datetime(2025, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def settings(tmp_path: Path) -> ExtractorSettings:
    return ExtractorSettings.model_validate(
        {
            "plex": {"api_key": "k", "pcns": ["111", "222"]},
            "cdf": {"base_url": "http://127.0.0.1:9", "project": "p", "token": "t"},
            "extraction": {"start": T0, "end": T0 + 10 * DAY, "window": "1d"},
            "state": {"backend": "local", "path": tmp_path / "state.json"},
        }
    )


def test_units_cover_the_range_per_pcn_and_windowed_stream(settings: ExtractorSettings) -> None:
    units = plan_backfill(settings, unit_window=4 * DAY)

    assert len(units) == 2 * 3 * 3  # PCNs x windowed streams x ceil(10 / 4) windows
    assert {u.stream for u in units} == set(WINDOWED_STREAMS)
    assert [(u.start, u.end) for u in units if u.pcn == "111" and u.stream == "scrap"] == [
        (T0, T0 + 4 * DAY),
        (T0 + 4 * DAY, T0 + 8 * DAY),
        (T0 + 8 * DAY, T0 + 10 * DAY),
    ]
    assert units == sorted(units, key=lambda u: (u.pcn, WINDOWED_STREAMS.index(u.stream), u.start))
    assert plan_backfill(settings, unit_window=4 * DAY) == units  # deterministic: index it from a K8s Indexed Job


def test_arguments_narrow_the_plan(settings: ExtractorSettings) -> None:
    units = plan_backfill(settings, start=T0 + DAY, end=T0 + 3 * DAY, unit_window=DAY, streams=["scrap"], pcns=["222"])
    assert [u.id for u in units] == [
        "222:scrap:20250102T000000Z:20250103T000000Z",
        "222:scrap:20250103T000000Z:20250104T000000Z",
    ]


def test_completed_units_and_live_windows_are_left_out(settings: ExtractorSettings, tmp_path: Path) -> None:
    done = WorkUnit("111", "production", T0, T0 + 4 * DAY)
    run_sync(lambda: LocalLedger(tmp_path / "state.backfill.json").record(done, completion_record(done, {}, {})))
    live = StreamState()
    live.windows.add(T0 + 4 * DAY, T0 + 6 * DAY)  # the normal runner already extracted these two days
    run_sync(lambda: LocalStateStore(tmp_path / "state.json").commit("111", "production", live))

    units = plan_backfill(settings, unit_window=4 * DAY, streams=["production"], pcns=["111"])

    assert [(u.start, u.end) for u in units] == [(T0 + 6 * DAY, T0 + 8 * DAY), (T0 + 8 * DAY, T0 + 10 * DAY)]


def test_units_holding_deferred_items_are_planned_again_on_request(settings: ExtractorSettings, tmp_path: Path) -> None:
    unit = WorkUnit("111", "workcenter_status", T0, T0 + 5 * DAY)
    record = completion_record(unit, {"deferred": 1}, {"PCN111_WCS_x_1": {"kind": "event", "fields": {}}})
    run_sync(lambda: LocalLedger(tmp_path / "state.backfill.json").record(unit, record))
    plan = {"unit_window": 5 * DAY, "streams": ["workcenter_status"], "pcns": ["111"]}

    assert plan_backfill(settings, **plan) == [WorkUnit("111", "workcenter_status", T0 + 5 * DAY, T0 + 10 * DAY)]  # type: ignore[arg-type]
    assert plan_backfill(settings, retry_deferred=True, **plan)[0] == unit  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"streams": ["jobs"]}, "streams", "snapshot stream"),
        ({"streams": ["master_data"]}, "streams", "normal runner"),
        ({"streams": ["containers"]}, "streams", "unknown stream"),
        ({"pcns": ["999"]}, "plex.pcns", "not configured"),
        ({"unit_window": timedelta(0)}, "unit_window", "positive"),
        ({"start": T0 + 20 * DAY}, "start", "not before"),
        ({"start": datetime(2025, 1, 1)}, "start", "timezone-aware"),
    ],
)
def test_impossible_plans_fail_naming_the_argument(
    settings: ExtractorSettings, kwargs: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        plan_backfill(settings, **kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_snapshot_streams_in_the_settings_are_not_planned(settings: ExtractorSettings) -> None:
    narrowed = settings.model_copy(
        update={"extraction": settings.extraction.model_copy(update={"streams": ["master_data", "jobs", "scrap"]})}
    )
    assert {u.stream for u in plan_backfill(narrowed)} == {"scrap"}
