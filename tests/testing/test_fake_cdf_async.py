"""FakeCDF with the real AsyncCogniteClient."""

from __future__ import annotations

import asyncio

import pytest
from cognite.client import AsyncCogniteClient
from cognite.client.data_classes import AssetWrite, EventWrite, TimeSeriesWrite
from cognite.client.exceptions import CogniteDuplicatedError, CogniteNotFoundError

from plex_cognite.testing.fake_cdf import FakeCDF


async def test_async_create_list_and_retrieve(fake_cdf: FakeCDF, async_cognite_client: AsyncCogniteClient) -> None:
    assets = await async_cognite_client.assets.create(
        [
            AssetWrite(external_id="line", name="line", parent_external_id="plant"),
            AssetWrite(external_id="plant", name="plant"),
        ]
    )
    events = [EventWrite(external_id=f"e{i}", asset_ids=[assets[0].id], start_time=i) for i in range(2500)]
    await async_cognite_client.events.create(events)
    listed = await async_cognite_client.events.list(asset_external_ids=["line"], limit=None)
    assert len(listed) == 2500
    assert fake_cdf.request_counts("POST", "/events") == 3
    found = await async_cognite_client.events.retrieve_multiple(external_ids=["e1", "zz"], ignore_unknown_ids=True)
    assert [e.external_id for e in found] == ["e1"]


async def test_async_errors_carry_ids(async_cognite_client: AsyncCogniteClient) -> None:
    await async_cognite_client.events.create(EventWrite(external_id="dup"))
    with pytest.raises(CogniteDuplicatedError) as duplicated:
        await async_cognite_client.events.create(EventWrite(external_id="dup"))
    assert duplicated.value.duplicated == [{"externalId": "dup"}]
    with pytest.raises(CogniteNotFoundError) as missing:
        await async_cognite_client.time_series.create(TimeSeriesWrite(external_id="t", asset_id=7))
    assert missing.value.not_found == [{"id": 7}]


async def test_concurrent_async_writers_get_unique_ids(
    fake_cdf: FakeCDF, async_cognite_client: AsyncCogniteClient
) -> None:
    async def write(batch: int) -> None:
        await async_cognite_client.events.create([EventWrite(external_id=f"b{batch}-{i}") for i in range(300)])

    await asyncio.gather(*(write(batch) for batch in range(8)))
    ids = [e["id"] for e in fake_cdf.events]
    assert len(ids) == len(set(ids)) == 2400


async def test_async_datapoints_and_raw(fake_cdf: FakeCDF, async_cognite_client: AsyncCogniteClient) -> None:
    await async_cognite_client.time_series.create(TimeSeriesWrite(external_id="t"))
    await async_cognite_client.time_series.data.insert([(1, 1.0), (2, 2.0)], external_id="t")
    await async_cognite_client.raw.rows.insert("db", "t", {"k": {"v": 1}}, ensure_parent=True)
    assert fake_cdf.datapoints("t") == [(1, 1.0), (2, 2.0)]
    assert fake_cdf.raw_rows("db", "t") == {"k": {"v": 1}}
    rows = await async_cognite_client.raw.rows.list("db", "t", limit=None)
    assert [row.key for row in rows] == ["k"]
