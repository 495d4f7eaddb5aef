"""RawSink.delete against FakeCDF: batched, idempotent, and surfacing what it could not delete."""

from __future__ import annotations

from cognite.client import AsyncCogniteClient

from plex_cognite.cdf import RawRowItem, RawSink
from plex_cognite.resilience import RetryPolicy
from plex_cognite.testing._faults import Fault
from plex_cognite.testing.fake_cdf import FakeCDF

FAST_RETRY = RetryPolicy(max_attempts=3, initial_wait_s=0.01, min_wait_s=0.01, max_wait_s=0.05, name="cdf-test")


async def test_delete_removes_exactly_the_given_keys_in_batches_of_1000(
    aclient: AsyncCogniteClient, fake_cdf: FakeCDF
) -> None:
    sink = RawSink(aclient, "plex", "inventory_containers", retry=FAST_RETRY)
    await sink.write([RawRowItem(f"PCN1_C{i}", {"i": i}) for i in range(2_500)])
    doomed = [f"PCN1_C{i}" for i in range(0, 2_500, 2)] + ["PCN1_C0"]  # a duplicate is sent once

    result = await sink.delete(doomed)

    assert sorted(result.deleted) == sorted(set(doomed))
    assert result.failed == []
    assert result.requests == 2
    assert fake_cdf.request_counts("POST", "/raw/dbs/plex/tables/inventory_containers/rows/delete") == 2
    assert set(fake_cdf.raw_rows("plex", "inventory_containers")) == {f"PCN1_C{i}" for i in range(1, 2_500, 2)}


async def test_deleting_absent_keys_or_from_a_missing_table_is_not_an_error(
    aclient: AsyncCogniteClient, fake_cdf: FakeCDF
) -> None:
    sink = RawSink(aclient, "plex", "inventory_containers", retry=FAST_RETRY)
    assert (await sink.delete(["PCN1_gone"])).deleted == ["PCN1_gone"]
    await sink.write([RawRowItem("PCN1_kept", {"a": 1})])
    result = await sink.delete(["PCN1_gone"])
    assert (result.deleted, result.failed) == (["PCN1_gone"], [])
    assert set(fake_cdf.raw_rows("plex", "inventory_containers")) == {"PCN1_kept"}


async def test_nothing_to_delete_sends_nothing(aclient: AsyncCogniteClient, fake_cdf: FakeCDF) -> None:
    result = await RawSink(aclient, "plex", "t", retry=FAST_RETRY).delete([])
    assert (result.deleted, result.failed, result.requests) == ([], [], 0)
    assert fake_cdf.request_counts("POST", "/raw/dbs/plex/tables/t/rows/delete") == 0


async def test_a_delete_batch_that_keeps_failing_is_reported_and_the_rows_stay(
    aclient: AsyncCogniteClient, fake_cdf: FakeCDF
) -> None:
    sink = RawSink(aclient, "plex", "t", retry=FAST_RETRY)
    await sink.write([RawRowItem("PCN1_a", {}), RawRowItem("PCN1_b", {})])
    # A status neither the SDK nor our batch retry retries: the batch fails at once (a 5xx would be retried first).
    fake_cdf.inject(Fault("status", status=400, method="POST", path=r"/rows/delete$"))

    result = await sink.delete(["PCN1_a"])

    assert result.deleted == []
    assert [failure.key for failure in result.failed] == ["PCN1_a"]
    assert set(fake_cdf.raw_rows("plex", "t")) == {"PCN1_a", "PCN1_b"}
