"""The backfill ledger on each backend (a local file, a real redis-server, CDF RAW on FakeCDF): one record per unit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cognite.client import AsyncCogniteClient

from plex_cognite.distributed import WorkUnit
from plex_cognite.distributed._ledger import Ledger, LocalLedger, RawLedger, RedisLedger, completion_record
from plex_cognite.errors import StateError

T0 = datetime(2025, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
UNIT = WorkUnit("111", "production", T0, T0 + DAY)
OTHER = WorkUnit("111", "production", T0 + DAY, T0 + 2 * DAY)


async def assert_records_one_unit(ledger: Ledger) -> None:
    try:
        assert await ledger.entries() == []
        assert not await ledger.is_done(UNIT)

        deferred = {"PCN111_WC_7_PRODUCED_QTY": {"kind": "event", "fields": {}}}
        await ledger.record(UNIT, completion_record(UNIT, {"read": 3, "written": 2}, deferred))

        assert await ledger.is_done(UNIT)
        assert not await ledger.is_done(OTHER)
        assert await ledger.entries() == [(UNIT, 1)]  # the unit and how many of its items are deferred
    finally:
        await ledger.close()


async def test_local_ledger_records_a_unit_in_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "state" / "state.backfill.json"
    await assert_records_one_unit(LocalLedger(path))
    assert path.exists()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind


async def test_redis_ledger_records_a_unit_in_one_hash(redis_url: str) -> None:
    await assert_records_one_unit(RedisLedger(redis_url, key="test-ledger:backfill"))


async def test_raw_ledger_records_a_unit_in_one_row(async_cognite_client: AsyncCogniteClient) -> None:
    await assert_records_one_unit(RawLedger(async_cognite_client, "plex_cognite", "state_backfill"))


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "unreadable or corrupt"), ("[]", "not a JSON object"), ('{"x": {"pcn": "1"}}', "corrupt")],
)
async def test_a_damaged_local_ledger_is_a_clear_error_not_a_reset(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "state.backfill.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(StateError, match=message):
        await LocalLedger(path).entries()
    assert path.read_text(encoding="utf-8") == content  # never silently reset
