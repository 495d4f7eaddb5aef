from __future__ import annotations

import json
import multiprocessing as mp
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest
from cognite.client import AsyncCogniteClient

from plex_cognite.core.deadletters import (
    DeadLetterStoreError,
    LocalDeadLetterStore,
    MemoryDeadLetterStore,
    RawDeadLetterStore,
)
from plex_cognite.core.extractor import BaseExtractor, ExtractorContext
from plex_cognite.core.state import MemoryStateStore
from plex_cognite.errors import RecordValidationError
from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.typing import DeadLetter, TimeWindow

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def letter(stream: str = "jobs", payload: object = None, reason: str = "bad date") -> DeadLetter:
    return DeadLetter(stream=stream, pcn="1", reason=reason, payload=payload or {"id": "x"}, error_type="ValueError")


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_letter_key_is_stable_and_ignores_reason_and_time() -> None:
    first = letter(reason="one")
    again = DeadLetter("jobs", "1", "two", {"id": "x"}, at=T0)
    assert first.key == again.key
    assert first.key.startswith("1:jobs:")
    assert letter(payload={"id": "y"}).key != first.key
    assert DeadLetter.from_json(first.to_json()) == first


async def test_local_store_keeps_one_line_per_record(tmp_path: Path) -> None:
    path = tmp_path / "dl" / "letters.jsonl"
    store = LocalDeadLetterStore(path)
    store.add(letter())
    store(letter("production", {"q": "12,5"}))
    store.add(letter())  # the same record again, before the flush
    await store.flush()
    store.add(letter())  # and after it
    await store.close()
    assert [x["stream"] for x in lines(path)] == ["jobs", "production"]
    assert lines(path)[1]["payload"] == {"q": "12,5"}
    assert store.count() == 4
    assert store.count_new() == 2
    assert store.count_new(stream="jobs") == 1
    assert store.count(pcn="2") == 0

    restarted = LocalDeadLetterStore(path)  # a new process reads the same records again
    restarted.add(letter())
    restarted.add(letter("production", {"q": "12,5"}))
    await restarted.close()
    assert len(lines(path)) == 2
    assert restarted.count_new() == 0


async def test_a_new_reason_replaces_the_letter(tmp_path: Path) -> None:
    path = tmp_path / "letters.jsonl"
    store = LocalDeadLetterStore(path)
    store.add(letter(reason="old"))
    store.add(letter("scrap", {"id": 2}))
    await store.flush()
    store.add(letter(reason="new"))
    await store.flush()
    assert [(x["stream"], x["reason"]) for x in lines(path)] == [("jobs", "new"), ("scrap", "bad date")]


async def test_a_store_that_cannot_write_raises_on_flush_and_keeps_the_letter(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    store = LocalDeadLetterStore(blocker / "sub" / "letters.jsonl")
    store.add(letter())  # add never raises (it runs inside the Plex client's parser)
    with pytest.raises(DeadLetterStoreError, match="could not be stored"):
        await store.flush()
    assert store.pending == 1
    blocker.unlink()
    await store.flush()
    assert store.pending == 0
    assert len(lines(blocker / "sub" / "letters.jsonl")) == 1


def _write_letters(path: str, worker: int) -> None:
    import asyncio

    async def main() -> None:
        store = LocalDeadLetterStore(path)
        for round_ in range(20):
            for record in range(10):  # every worker rejects the same ten records, repeatedly
                store.add(DeadLetter("production", "1", f"w{worker}", {"row": record}))
            store.add(DeadLetter("production", "1", "own", {"worker": worker, "round": round_}))
            await store.flush()

    asyncio.run(main())


def test_processes_sharing_the_local_file_store_each_record_once(tmp_path: Path) -> None:
    path = tmp_path / "letters.jsonl"
    context = mp.get_context("spawn")
    workers = [context.Process(target=_write_letters, args=(str(path), n)) for n in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    keys = [x["key"] for x in lines(path)]
    assert len(keys) == len(set(keys)) == 10 + 3 * 20


async def test_read_filters_by_stream_pcn_and_time(tmp_path: Path) -> None:
    store = LocalDeadLetterStore(tmp_path / "letters.jsonl")
    store.add(DeadLetter("jobs", "1", "r", {"a": 1}, at=T0))
    store.add(DeadLetter("jobs", "2", "r", {"a": 2}, at=T0 + timedelta(days=1)))
    store.add(DeadLetter("scrap", "1", "r", {"a": 3}, at=T0 + timedelta(days=2)))
    assert [x.payload for x in await store.read()] == [{"a": 1}, {"a": 2}, {"a": 3}]
    assert [x.payload for x in await store.read(stream="jobs", pcn="1")] == [{"a": 1}]
    assert [x.payload for x in await store.read(since=T0 + timedelta(days=1))] == [{"a": 2}, {"a": 3}]
    assert await store.remove([letter.key for letter in await store.read(stream="jobs")]) == 2
    assert [x.payload for x in await store.read()] == [{"a": 3}]


def test_strict_mode_raises_at_the_check_point() -> None:
    store = MemoryDeadLetterStore(strict=True)
    store.raise_if_strict()
    store.add(letter())
    with pytest.raises(RecordValidationError, match="strict mode: a jobs record of PCN 1 was rejected: bad date"):
        store.raise_if_strict()


async def test_raw_store_keeps_one_row_per_record(fake_cdf: FakeCDF, async_cognite_client: AsyncCogniteClient) -> None:
    store = RawDeadLetterStore(async_cognite_client, "db", "dead")
    store.add(letter())
    store.add(letter())  # the same record rejected again: same row key
    store.add(letter("scrap", {"other": 1}))
    await store.close()
    rows = fake_cdf.raw_rows("db", "dead")
    assert len(rows) == 2
    assert {row["stream"] for row in rows.values()} == {"jobs", "scrap"}
    assert store.count_new() == 2

    other_worker = RawDeadLetterStore(async_cognite_client, "db", "dead")
    other_worker.add(letter(reason="still bad"))
    await other_worker.close()
    assert other_worker.count_new() == 0
    assert len(fake_cdf.raw_rows("db", "dead")) == 2
    assert [x.reason for x in await other_worker.read(stream="jobs")] == ["still bad"]
    assert await other_worker.remove([letter().key]) == 1
    assert [x.stream for x in await other_worker.read()] == ["scrap"]


async def test_raw_store_reads_an_absent_table_as_empty(
    fake_cdf: FakeCDF, async_cognite_client: AsyncCogniteClient
) -> None:
    assert await RawDeadLetterStore(async_cognite_client, "nothing", "here").read() == []


class RejectsOneRow(BaseExtractor):
    stream: ClassVar[str] = "rows"

    async def read(self, window: TimeWindow) -> list[int]:
        return [1, -1] if window[0] == T0 else [2]

    async def extract(self) -> None:
        def positive(value: int) -> int:
            if value < 0:
                raise RecordValidationError("negative")
            return value

        async for _, values in self.windows(self.read):
            self.map_records(values, positive)


async def test_a_window_whose_letter_cannot_be_stored_is_not_committed_until_it_can(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    state = MemoryStateStore()

    def extractor() -> RejectsOneRow:
        letters = LocalDeadLetterStore(blocker / "letters.jsonl")
        return RejectsOneRow(
            ExtractorContext("1", state, letters, start=T0, end=T0 + timedelta(hours=2), window=timedelta(hours=1))
        )

    with pytest.raises(DeadLetterStoreError):
        await extractor().run()
    assert list((await state.load("1", "rows")).windows) == []  # nothing committed: the letter would be lost

    blocker.unlink()
    blocker.mkdir()
    report = await extractor().run()
    assert report.dead_lettered == 1
    assert report.windows == 2
    assert len(lines(blocker / "letters.jsonl")) == 1
