from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plex_cognite.core.results import DeadLetter
from plex_cognite.errors import RecordValidationError, SourceError
from plex_cognite.plex import Building
from plex_cognite.plex._stream import RowValidator, iter_array_batches, iter_bytes

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
)
rows = st.lists(st.dictionaries(st.text(min_size=1, max_size=8), json_scalars, max_size=5), max_size=60)


async def _chunks(body: bytes, cuts: list[int]) -> AsyncIterator[bytes]:
    previous = 0
    for cut in sorted({min(c, len(body)) for c in cuts}):
        yield body[previous:cut]
        previous = cut
    yield body[previous:]


async def _collect(body: bytes, cuts: list[int], batch_size: int) -> list[list[Any]]:
    return [batch async for batch in iter_array_batches(_chunks(body, cuts), batch_size)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows, st.lists(st.integers(0, 4000), max_size=12), st.integers(1, 25))
async def test_any_chunking_gives_the_same_rows_in_bounded_batches(
    data: list[dict[str, Any]], cuts: list[int], batch_size: int
) -> None:
    body = json.dumps(data, indent=1).encode()
    batches = await _collect(body, cuts, batch_size)
    assert all(0 < len(batch) <= batch_size for batch in batches)
    assert all(len(batch) == batch_size for batch in batches[:-1])
    assert [row for batch in batches for row in batch] == json.loads(body)


async def test_floats_are_floats_not_decimals() -> None:
    [[row]] = await _collect(b'[{"q": 25.5, "n": 3}]', [], 10)
    assert type(row["q"]) is float
    assert type(row["n"]) is int


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"code": "X"}', "expected a JSON array"),
        (b"", "empty body"),
        (b'[{"a": 1}, {"a": ', "truncated"),
        (b"[1, 2,, 3]", "malformed"),
    ],
)
async def test_bodies_that_are_not_arrays_raise_source_error(body: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        await _collect(body, [3], 10)


async def test_memory_is_bounded_by_the_batch_not_the_body() -> None:
    seen = 0
    async for batch in iter_array_batches(iter_bytes(b"[" + b",".join([b'{"id": "x"}'] * 50_000) + b"]", 4096), 100):
        assert len(batch) <= 100
        seen += len(batch)
    assert seen == 50_000


def test_validator_dead_letters_non_objects_and_survives_a_broken_callback() -> None:
    letters: list[DeadLetter] = []

    def broken(letter: DeadLetter) -> None:
        letters.append(letter)
        raise RuntimeError("callback bug")

    validator = RowValidator("buildings", "340884", on_dead_letter=broken)
    records = validator.validate(Building, [{"id": "b1"}, 42, {"buildingCode": "no id"}, {"id": "b2"}])
    assert [r.id for r in records] == ["b1", "b2"]
    assert [letter.reason.split(":")[0] for letter in letters] == ["not_an_object", "missing_field"]
    assert validator.rejected == 2


def test_strict_validator_raises_validation_error_with_the_row() -> None:
    validator = RowValidator("buildings", "340884", strict=True)
    with pytest.raises(RecordValidationError, match="buildings row for PCN 340884 rejected: missing_field") as info:
        validator.validate(Building, [{"name": "no id"}])
    assert info.value.payload == {"name": "no id"}
