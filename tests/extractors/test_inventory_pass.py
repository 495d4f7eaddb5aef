"""One inventory pass composed from the parts (client, mappings, RawSink), as the `inventory` extractor will run it.

FakePlex serves the plant, FakeCDF takes the rows; state is a dict here. It proves the parts fit: the first pass
writes every container row and an on-hand point per part; an unchanged pass writes nothing; after containers are
consumed and quantities change, exactly the consumed rows are deleted, the changed rows rewritten, and only the parts
whose sum changed get a point; a failed or empty snapshot deletes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from plex_cognite.cdf import RawSink
from plex_cognite.extractors._inventory import (
    CONTAINERS_TABLE,
    ContainerSnapshot,
    on_hand_points,
    raw_keys_to_delete,
)
from plex_cognite.extractors._transforms import MappingContext
from plex_cognite.plex import AsyncPlexClient
from plex_cognite.resilience import RetryPolicy
from plex_cognite.testing import Fault
from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import INVENTORY_STREAMS, SimulatedPlant, on_hand_changes
from tests.plex.conftest import settings_for

PCN = "340884"
PLANT = SimulatedPlant(seed=21, pcn=PCN)
CTX = MappingContext(pcn=PCN)
ROWS_PATH = f"/raw/dbs/plex/tables/{CONTAINERS_TABLE}/rows"


@dataclass
class State:
    """What the extractor keeps between passes."""

    hashes: dict[str, bytes] = field(default_factory=dict)  # container row key -> content hash written
    on_hand: dict[str, float] = field(default_factory=dict)  # partId -> last sum written


@dataclass
class PassResult:
    written: list[str]
    deleted: list[str]
    points: dict[str, float]


async def inventory_pass(plex: AsyncPlexClient, sink: RawSink, state: State, at_ms: int) -> PassResult:
    snapshot = ContainerSnapshot()
    try:
        async for batch in plex.iter_containers(PCN):
            snapshot.add(batch)
        snapshot.mark_complete()
    except Exception:
        return PassResult([], [], {})  # nothing written, nothing deleted, state untouched
    rows = [row for row in snapshot.rows(CTX) if state.hashes.get(row.key) != row.content_hash()]
    written = await sink.write(rows) if rows else None
    keys = snapshot.keys(CTX)
    doomed = raw_keys_to_delete(
        state.hashes, keys, complete=snapshot.complete, owned_prefix=CTX.ids.raw_row_prefix(PCN)
    )
    deleted = await sink.delete(doomed) if doomed else None
    known_parts = {part["id"] for part in PLANT.parts()}
    update = on_hand_points(snapshot.on_hand(), state.on_hand, at_ms, CTX, known_parts=known_parts)
    # Commit state only for what CDF acknowledged.
    for row in rows:
        state.hashes[row.key] = row.content_hash()
    for key in deleted.deleted if deleted else []:
        state.hashes.pop(key, None)
    if keys:
        state.on_hand = update.sums
    return PassResult(
        written=written.created if written else [],
        deleted=deleted.deleted if deleted else [],
        points={item.external_id: item.datapoints[0][1] for item in update.points},
    )


@pytest.fixture
def fakes() -> Iterator[tuple[FakePlex, FakeCDF]]:
    with FakePlex([PLANT]) as plex, FakeCDF(project="p") as cdf:
        yield plex, cdf


def _client(plex: FakePlex) -> AsyncPlexClient:
    retry = RetryPolicy(max_attempts=2, initial_wait_s=0.01, min_wait_s=0.01, max_wait_s=0.01)
    return AsyncPlexClient(settings_for(plex, pcns=[PCN]), retry=retry)


async def test_consumed_rows_are_deleted_changed_rows_rewritten_and_only_changed_sums_get_a_point(
    fakes: tuple[FakePlex, FakeCDF],
) -> None:
    plex, cdf = fakes
    sink = RawSink(cdf.async_cognite_client(), "plex", CONTAINERS_TABLE)
    state = State()
    expected = PLANT.expected_cdf(streams=INVENTORY_STREAMS)
    async with _client(plex) as client:
        first = await inventory_pass(client, sink, state, 1_000)
        assert cdf.raw_rows("plex", CONTAINERS_TABLE) == expected.raw[CONTAINERS_TABLE]
        assert first.points == expected.on_hand

        cdf.reset_request_log()
        unchanged = await inventory_pass(client, sink, state, 2_000)
        assert (unchanged.written, unchanged.deleted, unchanged.points) == ([], [], {})
        assert cdf.request_counts(path=ROWS_PATH) == cdf.request_counts(path=f"{ROWS_PATH}/delete") == 0

        containers = list(PLANT.containers())
        consumed = [row["serialNo"] for row in containers[:4]]
        changed = containers[10]["serialNo"]
        after = PLANT.mutate_inventory(consume=consumed, quantities={changed: 4321.0})
        plex.set_plant(after)
        third = await inventory_pass(client, sink, state, 3_000)

    assert sorted(third.deleted) == sorted(f"PCN{PCN}_{serial}" for serial in consumed)
    assert third.written == [f"PCN{PCN}_{changed}"]
    assert third.points == on_hand_changes(PLANT, after)
    assert cdf.raw_rows("plex", CONTAINERS_TABLE) == after.expected_cdf(streams=INVENTORY_STREAMS).raw[CONTAINERS_TABLE]


@pytest.mark.parametrize("failure", ["error", "empty"])
async def test_a_failed_or_empty_snapshot_deletes_nothing(fakes: tuple[FakePlex, FakeCDF], failure: str) -> None:
    plex, cdf = fakes
    sink = RawSink(cdf.async_cognite_client(), "plex", CONTAINERS_TABLE)
    state = State()
    async with _client(plex) as client:
        await inventory_pass(client, sink, state, 1_000)
        before = cdf.raw_rows("plex", CONTAINERS_TABLE)
        if failure == "error":
            plex.inject(Fault("status", status=500, path=r"/inventory-tracking/containers$"))
        else:
            serials = [row["serialNo"] for row in PLANT.containers()]
            plex.set_plant(PLANT.mutate_inventory(consume=serials))
        cdf.reset_request_log()
        result = await inventory_pass(client, sink, state, 2_000)
    assert result.deleted == []
    assert cdf.request_counts(path=f"{ROWS_PATH}/delete") == 0
    assert cdf.raw_rows("plex", CONTAINERS_TABLE) == before
