from __future__ import annotations

import json
from pathlib import Path

import pytest
from cognite.client import AsyncCogniteClient

from plex_cognite.core.deadletters import LocalDeadLetterStore, MemoryDeadLetterStore, RawDeadLetterStore
from plex_cognite.core.results import DeadLetter
from plex_cognite.errors import RecordValidationError
from plex_cognite.testing.fake_cdf import FakeCDF


def letter(stream: str = "jobs", payload: object = None) -> DeadLetter:
    return DeadLetter(
        stream=stream, pcn="1", reason="bad date", payload=payload or {"id": "x"}, error_type="ValueError"
    )


async def test_local_store_appends_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "dl" / "letters.jsonl"
    store = LocalDeadLetterStore(path)
    store.add(letter())
    store(letter("production", {"q": "12,5"}))
    await store.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [x["stream"] for x in lines] == ["jobs", "production"]
    assert lines[1]["payload"] == {"q": "12,5"}
    assert lines[0]["reason"] == "bad date"
    assert store.count() == 2
    assert store.count(stream="jobs") == 1
    assert store.count(pcn="2") == 0


def test_add_never_raises_even_when_the_file_cannot_be_written(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    store = LocalDeadLetterStore(blocker / "sub" / "letters.jsonl")
    store.add(letter())
    assert store.count() == 1
    assert store.write_errors == 1


def test_strict_mode_raises_at_the_check_point() -> None:
    store = MemoryDeadLetterStore(strict=True)
    store.raise_if_strict()
    store.add(letter())
    with pytest.raises(RecordValidationError, match="strict mode: a jobs record of PCN 1 was rejected: bad date"):
        store.raise_if_strict()


async def test_raw_store_writes_idempotent_rows(fake_cdf: FakeCDF, async_cognite_client: AsyncCogniteClient) -> None:
    store = RawDeadLetterStore(async_cognite_client, "db", "dead")
    store.add(letter())
    store.add(letter())  # the same record rejected again: same row key
    store.add(letter("scrap", {"other": 1}))
    await store.close()
    rows = fake_cdf.raw_rows("db", "dead")
    assert len(rows) == 2
    assert {row["stream"] for row in rows.values()} == {"jobs", "scrap"}
