from __future__ import annotations

import copy
import json
import pickle
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plex_cognite.core.results import DeadLetter
from plex_cognite.errors import RecordValidationError, SourceError
from plex_cognite.plex import Building, PlexRecord, ProductionEntry, _stream
from plex_cognite.plex._fastrows import FastRows
from plex_cognite.plex._stream import _SLICE_BYTES, RowValidator, _ArrayBody, iter_bytes, iter_record_batches

# Text that looks like JSON's structure inside strings: a '}' there must not be taken for an element's end.
_tricky_text = st.text(alphabet=st.sampled_from('ab {}[],:"\\é\n'), max_size=12)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.text(max_size=20)
    | _tricky_text
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_tricky_text, inner, max_size=3),
    max_leaves=8,
)
objects = st.dictionaries(st.text(min_size=1, max_size=8) | _tricky_text.filter(bool), json_values, max_size=5)
# Mostly objects (rows), some other values (dead letters: "not_an_object").
elements = st.lists(objects | objects | objects | json_scalars, max_size=60)


class _AnyRow(PlexRecord):
    """Declares no field: every key of a row is kept in `model_extra`."""


async def _chunks(body: bytes, cuts: list[int]) -> AsyncIterator[bytes]:
    previous = 0
    for cut in sorted({min(c, len(body)) for c in cuts}):
        yield body[previous:cut]
        previous = cut
    yield body[previous:]


async def _collect(
    body: bytes, cuts: list[int], batch_size: int, letters: list[DeadLetter] | None = None
) -> list[list[_AnyRow]]:
    validator = RowValidator("rows", "340884", on_dead_letter=None if letters is None else letters.append)
    return [batch async for batch in iter_record_batches(_chunks(body, cuts), validator, _AnyRow, batch_size)]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(elements, st.lists(st.integers(0, 4000), max_size=12), st.integers(1, 25), st.sampled_from([None, 1]))
async def test_any_chunking_gives_the_same_records_in_bounded_batches(
    data: list[Any], cuts: list[int], batch_size: int, indent: int | None
) -> None:
    body = json.dumps(data, indent=indent, ensure_ascii=False).encode()
    letters: list[DeadLetter] = []
    batches = await _collect(body, cuts, batch_size, letters)
    assert all(0 < len(batch) <= batch_size for batch in batches)
    assert all(len(batch) == batch_size for batch in batches[:-1])
    decoded = json.loads(body)
    assert [record.model_extra for batch in batches for record in batch] == [e for e in decoded if type(e) is dict]
    assert [letter.payload for letter in letters] == [e for e in decoded if type(e) is not dict]


async def test_floats_are_floats_not_decimals() -> None:
    [[row]] = await _collect(b'[{"q": 25.5, "n": 3}]', [], 10)
    assert row.model_extra == {"q": 25.5, "n": 3}
    assert type(row.model_extra["q"]) is float
    assert type(row.model_extra["n"]) is int


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"code": "X"}', "expected a JSON array"),
        (b"", "empty body"),
        (b"  ", "empty body"),
        (b'[{"a": 1}, {"a": ', "truncated"),
        (b'[{"a": 1}, {"a": 2}', "truncated"),
        (b'[{"a": 1},', "truncated"),
        (b"[1, 2,, 3]", "malformed"),
        (b'[{"a": 1},, {"a": 2}]', "malformed"),
        (b'[{"a": 1}, ]', "malformed"),
        (b'[{"a": 1} {"a": 2}]', "expected ',' or ']' after an element"),
        (b'[{"a": 1}] {"a": 2}', "after the closing ']'"),
        (b'[{"a": "\xff"}]', "not UTF-8"),
    ],
)
@pytest.mark.parametrize("cuts", [[], [3], [9, 11]])
async def test_bodies_that_are_not_arrays_raise_source_error(body: bytes, message: str, cuts: list[int]) -> None:
    with pytest.raises(SourceError, match=message):
        await _collect(body, cuts, 10)


async def test_a_byte_order_mark_is_allowed() -> None:
    [[row]] = await _collect(b'\xef\xbb\xbf[{"a": 1}]', [1], 10)
    assert row.model_extra == {"a": 1}


async def test_runs_of_elements_are_validated_whole_and_odd_bodies_go_to_the_decoder() -> None:
    validator = RowValidator("rows", "340884")
    rows = b",".join(b'{"id": "%d", "note": "} {"}' % i for i in range(2_000))
    body = _ArrayBody(validator, _AnyRow)
    records = [*body.feed(b"[" + rows[:30_000]), *body.feed(rows[30_000:] + b"]"), *body.close()]
    assert [r.model_extra["id"] for r in records if r.model_extra] == [str(i) for i in range(2_000)]
    assert body._decoder is None  # every run was found without decoding: no Python object before its record

    # An element bigger than a slice (64 KiB) but not than `_MAX_PENDING`, then 1 MiB of rows: found without the
    # decoder, and the rows after it do not pile up behind it.
    wide = b'[{"id": "wide", "note": "' + b"y" * 300_000 + b'"}'
    rest = b"".join(b', {"id": "%d"}' % i for i in range(80_000)) + b"]"
    body = _ArrayBody(validator, _AnyRow)
    records = []
    for offset in range(0, len(wide + rest), 65_536):
        records += body.feed((wide + rest)[offset : offset + 65_536])
        assert len(body._pending) <= 300_100 + 65_536
    records += body.close()
    assert [(r.model_extra or {})["id"] for r in records] == ["wide", *map(str, range(80_000))]
    assert body._decoder is None

    # An element of 5 MiB: more than `_MAX_PENDING` held without an element's end, so the rest of the body is handed
    # on to `ArrayDecoder` (and the bytes held stay bounded); the element still arrives whole.
    big = b'[{"id": "big", "note": "' + b"x" * 5 * 1024 * 1024 + b'"}, {"id": "next"}]'
    body = _ArrayBody(validator, _AnyRow)
    records = []
    for offset in range(0, len(big), 65_536):
        records += body.feed(big[offset : offset + 65_536])
        assert len(body._pending) <= 4 * 1024 * 1024 + 65_536
    records += body.close()
    assert body._decoder is not None
    assert [(r.model_extra or {})["id"] for r in records] == ["big", "next"]
    assert validator.rejected == 0


def test_a_held_body_is_validated_a_slice_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # One pydantic-core call over a whole window would build its parse tree of all of it (outside Python's heap:
    # measured 11 MiB left behind by a 5.5 MB window); slices bound it. Records and dead letters are the same.
    rows: list[Any] = _production_rows(12_000)
    for index in (5, 2_999, 6_000, 11_999):  # bad rows all through the body: a few of them across slice ends
        rows[index] = {**rows[index], "quantity": "12,5"}
    rows[7_000] = "not an object"
    body = json.dumps(rows).encode()
    assert len(body) > 4 * _SLICE_BYTES
    sizes: list[int] = []
    adapter = _stream._rows_adapter(ProductionEntry)

    class _Measured:
        def validate_json(self, data: bytes) -> Any:
            sizes.append(len(data))
            return adapter.validate_json(data)

    fast_decode = FastRows.decode

    def _measured_decode(self: FastRows[Any], run: bytes) -> Any:
        sizes.append(len(run))
        return fast_decode(self, run)

    monkeypatch.setattr(_stream, "_rows_adapter", lambda model: _Measured())
    monkeypatch.setattr(FastRows, "decode", _measured_decode)  # where the rows fit, msgspec decodes the slices
    sliced_letters: list[DeadLetter] = []
    records = RowValidator("production", "340884", on_dead_letter=sliced_letters.append).validate_json(
        ProductionEntry, body
    )
    assert len(sizes) >= 4
    assert max(sizes) <= _SLICE_BYTES + 2

    monkeypatch.undo()
    whole_letters: list[DeadLetter] = []
    expected = RowValidator("production", "340884", on_dead_letter=whole_letters.append).validate(ProductionEntry, rows)
    assert [record.model_dump() for record in records] == [record.model_dump() for record in expected]
    assert len(records) == 12_000 - 5
    assert [(letter.reason, letter.payload) for letter in sliced_letters] == [
        (letter.reason, letter.payload) for letter in whole_letters
    ]


async def test_memory_is_bounded_by_the_batch_not_the_body() -> None:
    seen = 0
    validator = RowValidator("rows", "340884")
    chunks = iter_bytes(b"[" + b",".join([b'{"id": "x"}'] * 50_000) + b"]", 4096)
    async for batch in iter_record_batches(chunks, validator, _AnyRow, 100):
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


def _production_rows(count: int) -> list[dict[str, Any]]:
    return [
        {
            "transactionDate": f"2025-01-06T00:00:{i % 60:02d}.0000000Z",
            "workcenterId": "wc-1",
            "quantity": float(i),
            "jobId": f"job-{i}",
            "heatCode": None,  # not a declared field: kept in model_extra
        }
        for i in range(count)
    ]


def test_records_read_together_share_one_fields_set_and_stay_independent() -> None:
    # One set object for all the records of a body (it is most of a record's memory)...
    records = RowValidator("production", "340884").validate_json(
        ProductionEntry, json.dumps(_production_rows(3)).encode()
    )
    first, second, third = records
    assert first.model_fields_set is second.model_fields_set is third.model_fields_set
    assert first.model_fields_set == {"transaction_date", "workcenter_id", "quantity", "job_id", "heatCode"}
    # ...and yet each record's fields set means what pydantic says it means: assigning to one touches no other.
    first.serial_no = "S1"
    second.note = "an unknown attribute lands in model_extra"
    assert "serial_no" in first.model_fields_set
    assert "serial_no" not in second.model_fields_set
    assert "serial_no" not in third.model_fields_set
    assert "note" in second.model_fields_set
    assert "note" not in third.model_fields_set
    assert third.model_dump(exclude_unset=True) == {
        "transaction_date": third.transaction_date,
        "workcenter_id": "wc-1",
        "quantity": 2.0,
        "job_id": "job-2",
        "heatCode": None,
    }
    copied = third.model_copy(update={"lot_no": "L1"})
    assert "lot_no" in copied.model_fields_set
    assert "lot_no" not in third.model_fields_set
    for clone in (copy.copy(third), pickle.loads(pickle.dumps(third))):
        assert type(clone.model_fields_set) is set
        assert clone.model_fields_set == third.model_fields_set
    assert repr(third.model_fields_set).startswith("{")


def test_records_with_different_keys_get_different_fields_sets() -> None:
    rows = _production_rows(3)
    del rows[1]["heatCode"]
    records = RowValidator("production", "340884").validate(ProductionEntry, rows)
    assert "heatCode" not in records[1].model_fields_set
    assert "heatCode" in records[0].model_fields_set
    assert "heatCode" in records[2].model_fields_set


def _bytes_per_record(rows: list[dict[str, Any]]) -> tuple[float, float]:
    """Memory per record of a body of `rows`: held once validated, and at the peak of validation (traced)."""
    body = json.dumps(rows).encode()
    validator = RowValidator("production", "340884")
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        records = validator.validate_json(ProductionEntry, body)
        held, peak = tracemalloc.get_traced_memory()
        return (held - before) / len(records), (peak - before) / len(records)
    finally:
        tracemalloc.stop()


def test_fields_sets_cost_one_set_per_body_not_one_per_record() -> None:
    per_record, _ = _bytes_per_record(_production_rows(2000))
    # Measured: about 870 bytes a record with one shared set, about 1,540 with a set of its own per record.
    assert per_record < 1_400, per_record


_NULL_EXTRAS = ("masterUnitNo", "masterUnitId", "lotId", "heatCode", "heatNo", "heatId", "shelfDateTime", "useByDate")


def _rows_with_extras(count: int, **extra: Any) -> list[dict[str, Any]]:
    rows = _production_rows(count)
    for row in rows:
        row.update(dict.fromkeys(_NULL_EXTRAS), **extra)
    return rows


def test_records_with_identical_extras_share_them_and_stay_independent() -> None:
    rows = _rows_with_extras(4, plant="P1", shift=2, rework=False)
    first, second, third, fourth = RowValidator("production", "340884").validate(ProductionEntry, rows)
    assert first.__pydantic_extra__ is second.__pydantic_extra__ is third.__pydantic_extra__
    # Changing one record's unknown fields, in any way pydantic offers, changes no other record.
    first.shift = 3
    del second.plant
    third.model_extra["added"] = "x"  # type: ignore[index]
    copied = fourth.model_copy(update={"shift": 9})
    assert (first.shift, second.model_extra, fourth.shift, copied.shift) == (3, {**second.model_extra}, 2, 9)
    assert "plant" not in second.model_extra  # type: ignore[operator]
    assert fourth.plant == "P1"
    assert "added" not in fourth.model_extra  # type: ignore[operator]
    assert third.added == "x"
    assert fourth.model_dump(by_alias=True)["plant"] == "P1"
    for clone in (copy.copy(fourth), copy.deepcopy(fourth), pickle.loads(pickle.dumps(fourth))):
        assert type(clone.__pydantic_extra__) is dict
        assert clone == fourth
    assert repr(fourth.model_extra).startswith("{")


@pytest.mark.parametrize(
    ("one", "other"),
    [(0.0, -0.0), (1, True), (1.5, 1.5), ([1], [1])],
    ids=["signed-zero", "int-vs-bool", "floats", "lists"],
)
def test_extras_that_only_look_equal_are_not_shared(one: Any, other: Any) -> None:
    rows = _rows_with_extras(2)
    rows[0]["value"], rows[1]["value"] = one, other
    first, second = RowValidator("production", "340884").validate(ProductionEntry, rows)
    assert first.__pydantic_extra__ is not second.__pydantic_extra__
    assert repr(first.value) == repr(one)
    assert repr(second.value) == repr(other)


def test_extras_in_another_key_order_are_not_shared() -> None:
    rows = _rows_with_extras(2)
    rows[1] = {key: rows[1][key] for key in reversed(list(rows[1]))}
    first, second = RowValidator("production", "340884").validate(ProductionEntry, rows)
    assert first.__pydantic_extra__ is not second.__pydantic_extra__
    assert list(second.model_extra or {}) == [key for key in rows[1] if key in _NULL_EXTRAS]
    assert list(second.model_extra or {}) != list(first.model_extra or {})


def test_records_with_null_extras_cost_one_extras_dict_per_body() -> None:
    per_record, _ = _bytes_per_record(_rows_with_extras(2000))
    # Measured: about 700 bytes a record with one shared extras dict, about 970 with a dict of its own per record.
    assert per_record < 830, per_record


def test_records_share_their_parts_as_they_are_validated_not_afterwards() -> None:
    # A body's records never all hold their own field set and extras at once, not even mid-validation.
    _, per_record = _bytes_per_record(_rows_with_extras(8000))
    # Measured: about 770 bytes a record at the peak (690 held after; the peak includes a slice of the body and its
    # copies); about 1,650 when the parts were shared only once the whole body was validated.
    assert per_record < 1_000, per_record
