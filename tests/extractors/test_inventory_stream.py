"""The `inventory` stream's deletes are complete and safe when CDF misbehaves.

A container row CDF stored without acknowledging it is still deleted once the container leaves the snapshot; a
delete that fails is retried on the next run; rows of another PCN or another writer in the same table are never
touched.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cognite.client import global_config
from cognite.client.data_classes import RowWrite

from plex_cognite.config import ExtractorSettings
from plex_cognite.errors import CogniteWriteError
from plex_cognite.extractors import InventoryExtractor
from plex_cognite.resilience import RetryPolicy
from plex_cognite.runner import RunReport, run_extractors
from plex_cognite.testing import FakeCDF, FakePlex, Fault, SimulatedPlant
from plex_cognite.testing.demo import demo_settings
from tests.e2e.conftest import E2E_SIZE

PLANT = SimulatedPlant(seed=11, pcn="340884", size=E2E_SIZE)
TABLE = "inventory_containers"
ROWS = rf"^/raw/dbs/plex/tables/{TABLE}/rows"


@pytest.fixture
def fakes() -> Iterator[tuple[FakePlex, FakeCDF]]:
    with FakePlex(PLANT) as plex, FakeCDF() as cdf:
        yield plex, cdf


def settings(plex: FakePlex, cdf: FakeCDF, workdir: Path, streams: list[str]) -> ExtractorSettings:
    return demo_settings(plex.base_url, cdf, PLANT, workdir, streams=streams)


async def run(
    plex: FakePlex, cdf: FakeCDF, workdir: Path, streams: tuple[str, ...] = ("master_data", "inventory")
) -> RunReport:
    return await run_extractors(settings(plex, cdf, workdir, list(streams)))


async def test_a_row_stored_without_acknowledgement_is_deleted_once_its_container_is_gone(
    fakes: tuple[FakePlex, FakeCDF], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plex, cdf = fakes
    assert (await run(plex, cdf, tmp_path, streams=("master_data",))).ok
    monkeypatch.setattr(global_config, "max_retries", 0)  # one attempt per request: the fault decides
    cdf.inject(Fault("commit_then_fail", method="POST", path=ROWS + "$", times=1))
    config = settings(plex, cdf, tmp_path, streams=["inventory"])
    async with InventoryExtractor.from_settings(config, pcn=PLANT.pcn) as extractor:
        extractor.container_sink.retry = RetryPolicy(max_attempts=1)
        with pytest.raises(CogniteWriteError):  # CDF stored the rows but never said so
            await extractor.run()
    stored = cdf.raw_rows("plex", TABLE)
    assert len(stored) == len(list(PLANT.containers()))
    monkeypatch.undo()

    serials = [row["serialNo"] for row in PLANT.containers()]
    plex.set_plant(PLANT.mutate_inventory(consume=serials[:3]))
    second = await run(plex, cdf, tmp_path)

    assert second.ok, second.format_table()
    assert set(stored) - set(cdf.raw_rows("plex", TABLE)) == {f"PCN340884_{serial}" for serial in serials[:3]}


async def test_a_failed_delete_is_retried_and_foreign_rows_are_never_deleted(
    fakes: tuple[FakePlex, FakeCDF], tmp_path: Path
) -> None:
    plex, cdf = fakes
    assert (await run(plex, cdf, tmp_path)).ok
    foreign = [RowWrite("PCN310507_X1", {"pcn": "310507"}), RowWrite("manual-note", {"by": "a user"})]
    await cdf.async_cognite_client().raw.rows.insert("plex", TABLE, foreign)
    serials = [row["serialNo"] for row in PLANT.containers()]
    plex.set_plant(PLANT.mutate_inventory(consume=serials[:2]))
    cdf.inject(Fault("status", status=400, method="POST", path=ROWS + "/delete$", times=1))

    failed = await run(plex, cdf, tmp_path)

    (stream,) = [r for r in failed.streams if r.stream == "inventory"]
    assert stream.error is not None
    assert stream.deleted == 0
    cdf.clear_faults()
    retried = await run(plex, cdf, tmp_path)
    assert retried.ok, retried.format_table()
    (stream,) = [r for r in retried.streams if r.stream == "inventory"]
    assert stream.deleted == 2
    rows = cdf.raw_rows("plex", TABLE)
    assert {"PCN310507_X1", "manual-note"} <= set(rows)
    assert not {f"PCN340884_{serial}" for serial in serials[:2]} & set(rows)
