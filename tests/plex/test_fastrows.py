"""`FastRows` makes exactly the records (and leaves exactly the dead letters) pydantic alone would."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plex_cognite.core.results import DeadLetter
from plex_cognite.plex import PlexRecord, _fastrows, _stream, models
from plex_cognite.plex._fastrows import FastRows, RowMisfitError, eligible, fast_rows_for
from plex_cognite.plex._stream import RowValidator

FAST_MODELS = [
    models.Building,
    models.Workcenter,
    models.Part,
    models.Job,
    models.JobOperation,
    models.ProductionEntry,
    models.ScrapEntry,
    models.WorkcenterStatusEntry,
    models.WorkcenterStatus,
    models.Container,
    models.Location,
]


def test_every_built_in_model_but_one_is_eligible() -> None:
    built_in = [model for model in vars(models).values() if isinstance(model, type) and issubclass(model, PlexRecord)]
    assert {model for model in built_in if eligible(model)} == {*FAST_MODELS, models._HistoryEntry, PlexRecord}
    # `PlexInt | str | None` has no one msgspec type that decodes it as pydantic does.
    assert not eligible(models.ContainerLocationMove)


def test_a_subclass_is_left_to_pydantic() -> None:
    class Audited(models.Building):
        """A user's model: its validators must run."""

    assert not eligible(Audited)
    assert fast_rows_for(Audited, ("id",)) is None


# -- the property: any body, fast path on or off, gives the same records and dead letters ----------------------------


def _dates(
    years: st.SearchStrategy[int],
    months: st.SearchStrategy[int],
    days: st.SearchStrategy[int],
    hours: st.SearchStrategy[int],
    fractions: list[str],
    zones: list[str],
) -> st.SearchStrategy[str]:
    return st.builds(
        lambda year, month, day, hour, fraction, zone: (
            f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:59:59{fraction}{zone}"
        ),
        years,
        months,
        days,
        hours,
        st.sampled_from(fractions),
        st.sampled_from(zones),
    )


_FRACTIONS = ["", ".0", ".5", ".123456", ".1234567", ".9999996", ".9999999", ".0000005"]
_good_dates = _dates(
    st.integers(1, 9999), st.integers(1, 12), st.integers(1, 28), st.integers(0, 23), _FRACTIONS, ["Z"]
)
_bad_dates = _dates(
    st.integers(0, 9999),
    st.integers(0, 13),
    st.integers(0, 32),
    st.integers(0, 25),
    [*_FRACTIONS, ".12345678", "."],
    ["Z", "z", "+02:00", "-05:30", "", "+00:00", " Z"],
) | st.sampled_from(
    [
        "2025-01-06T23:59:60Z",
        "2025-02-29T00:00:00Z",
        "2024-02-29T00:00:00Z",
        "2025-01-06 08:00:00Z",
        "2025-01-06",
        "\uff12\uff10\uff12\uff15-01-06T08:00:00Z",
        " 2025-01-06T08:00:00Z",
        "2025-01-06T08:00:00Z ",
        "",
        "  ",
        "n/a",
    ]
)
_text = st.text(max_size=6) | st.sampled_from(["", " ", "é", "\u2028", '"}],{', "\\", "\U0001f600", "\x00"])
_numbers = (
    st.integers(-(2**70), 2**70)
    | st.sampled_from([0, -1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([0.0, -0.0, 3600.0, 3600.5, 1e308, 5e-324, 1e16, 2.0**63])
)
_scalars = st.none() | st.booleans() | _numbers | _text
_json = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3), max_leaves=6
)
# Values a field of each kind takes (good) and values it may be sent instead (bad: pydantic decides what they are).
_GOOD = {
    "text": _text,
    "bool": st.booleans(),
    "int": st.integers(0, 2**70) | st.sampled_from([0, 2**63 - 1, 2**63, 2**64]),
    "float": st.floats(min_value=0, allow_nan=False, allow_infinity=False) | st.integers(0, 2**70),
    "date": _good_dates,
}
_BAD = {
    "text": _scalars,
    "bool": _scalars | st.sampled_from(["true", "false", 1, 0]),
    "int": _scalars | st.sampled_from(["12", 3600.0, 3600.5, -1]),
    "float": _scalars | st.sampled_from(["12", "12,5", "1e3", -1.5, -0.0]),
    "date": _bad_dates | _scalars,
}


def _kind(field: Any) -> str:
    base, _metadata, _nullable = _fastrows._flatten(field.annotation, field.metadata)
    return {str: "text", bool: "bool", int: "int", float: "float", datetime.datetime: "date"}[base]


@st.composite
def _bodies(draw: st.DrawFn) -> tuple[type[PlexRecord], bytes]:
    """A JSON array of rows for one model: a few layouts of keys, mostly good values, some bad rows between."""
    model = draw(st.sampled_from(FAST_MODELS))
    fields = list(model.model_fields.items())
    layouts = []
    for _ in range(draw(st.integers(1, 3))):
        chosen = [item for item in fields if item[1].is_required() and draw(st.integers(0, 19))]
        chosen += draw(st.lists(st.sampled_from(fields), unique_by=lambda item: item[0], max_size=len(fields)))
        keys = [
            (draw(st.sampled_from([field.alias or name] * 4 + [name])), _kind(field), field.is_required())
            for name, field in dict(chosen).items()
        ]
        extras = st.sampled_from(["heatCode", "x", "workcenterCode2", "Id", "id"]) | _text
        keys += [(name, "extra", False) for name in draw(st.lists(extras, max_size=4, unique=True))]
        keys = draw(st.permutations(keys))
        if not draw(st.integers(0, 4)):  # a field by its alias and by its name, or a key twice
            keys += draw(st.lists(st.sampled_from(keys), max_size=2)) if keys else []
            keys += [
                (field.alias or name, _kind(field), False)
                for name, field in draw(st.lists(st.sampled_from(fields), max_size=1))
            ]
        layouts.append(keys)
    rows: list[str] = []
    for _ in range(draw(st.integers(0, 24))):
        choice = draw(st.integers(0, len(layouts) + 2))
        if choice == len(layouts) + 2:
            rows.append(json.dumps(draw(_scalars | st.lists(_scalars, max_size=2))))
            continue
        keys = layouts[min(choice, len(layouts) - 1)]
        if choice == len(layouts) + 1:
            keys = draw(st.permutations(keys))
        clean = draw(st.integers(0, 3)) > 0
        pairs = []
        for key, kind, required in keys:
            if kind == "extra":
                value = draw(_json)
            elif clean or draw(st.integers(0, 5)):
                value = draw(_GOOD[kind] if required or draw(st.integers(0, 4)) else st.none())
            else:
                value = draw(_BAD[kind])
            pairs.append((key, value))
        rows.append("{" + ",".join(f"{json.dumps(key)}:{json.dumps(value)}" for key, value in pairs) + "}")
    return model, ("[" + ",".join(rows) + "]").encode()


def _record(record: PlexRecord) -> Any:
    """Everything a record holds, by type and value (so `1` and `True`, `0.0` and `-0.0` differ)."""
    extra = record.__pydantic_extra__ or {}
    return (
        type(record),
        [(name, type(value), repr(value)) for name, value in record.__dict__.items()],
        sorted((key, type(value), repr(value)) for key, value in extra.items()),
        sorted(record.model_fields_set),
        # Unknown fields in the layout's order, for a row whose keys come in another (the one allowed difference).
        sorted(record.model_dump(mode="json", by_alias=True).items(), key=lambda item: item[0]),
    )


def _validated(
    model: type[PlexRecord], body: bytes, *, fast: bool, slice_bytes: int | None = None
) -> tuple[list[Any], list[Any]]:
    letters: list[DeadLetter] = []
    with pytest.MonkeyPatch.context() as patch:
        if not fast:
            patch.setattr(_stream, "eligible", lambda model: False)
        if slice_bytes is not None:  # small slices: a body is several runs, later ones decoded with a known layout
            patch.setattr(_stream, "_SLICE_BYTES", slice_bytes)
        records = RowValidator("rows", "340884", on_dead_letter=letters.append).validate_json(model, body)
    return [_record(record) for record in records], [(letter.reason, letter.payload) for letter in letters]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_bodies(), st.sampled_from([None, 150, 400, 1_500]))
def test_the_fast_path_makes_what_pydantic_makes(case: tuple[type[PlexRecord], bytes], slice_bytes: int | None) -> None:
    model, body = case
    assert _validated(model, body, fast=True, slice_bytes=slice_bytes) == _validated(
        model, body, fast=False, slice_bytes=slice_bytes
    )


def _values(values: Any) -> list[tuple[type, str]]:
    return [(type(value), repr(value)) for value in values]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_bodies(), st.data(), st.sampled_from([None, 150, 1_500]))
def test_a_projection_is_the_fields_of_the_records_pydantic_makes(
    case: tuple[type[PlexRecord], bytes], data: st.DataObject, slice_bytes: int | None
) -> None:
    # The same rows are kept and dead-lettered (same reasons); a row `FastRows` makes comes as the tuple of the fields'
    # values (by type and value), any other as the record pydantic makes.
    model, body = case
    fields = tuple(data.draw(st.lists(st.sampled_from(list(model.model_fields)), min_size=1, max_size=4, unique=True)))
    letters: list[DeadLetter] = []
    with pytest.MonkeyPatch.context() as patch:
        if slice_bytes is not None:
            patch.setattr(_stream, "_SLICE_BYTES", slice_bytes)
        projected = RowValidator("rows", "340884", on_dead_letter=letters.append).project_json(model, body, fields)
    records, expected_letters = _validated(model, body, fast=False, slice_bytes=slice_bytes)
    assert [(letter.reason, letter.payload) for letter in letters] == expected_letters
    assert len(projected) == len(records)
    pydantic_records = RowValidator("rows", "340884").validate(model, json.loads(body))
    for made, record, want in zip(projected, records, pydantic_records, strict=True):
        if type(made) is tuple:
            assert _values(made) == _values(getattr(want, name) for name in fields)
        else:
            assert _record(made) == record


def test_a_projection_makes_tuples_of_the_fields_without_records() -> None:
    rows: list[Any] = _production_rows(2_000)
    rows[700] = {**rows[700], "quantity": -1.0}  # dead-lettered, as for records
    rows[900] = {**rows[900], "transactionDate": "2025-01-06 00:00:00Z"}  # not Plex's form: pydantic's record
    letters: list[DeadLetter] = []
    with pytest.MonkeyPatch.context() as patch:
        counted = _Counted(patch)
        made = RowValidator("rows", "340884", on_dead_letter=letters.append).project_json(
            models.ProductionEntry, json.dumps(rows).encode(), ("workcenter_id", "transaction_date", "quantity")
        )
    assert counted.fast == 0  # no record built by `FastRows`
    assert len(made) == 1_999
    assert [letter.reason.split(":")[0] for letter in letters] == ["negative_number"]
    assert made[0] == ("wc-0", datetime.datetime(2025, 1, 6, tzinfo=datetime.UTC), 0.0)
    assert made[1_234 - 1] == ("wc-2", datetime.datetime(2025, 1, 6, 0, 0, 34, 123, tzinfo=datetime.UTC), 1_234.0)
    assert isinstance(made[899], models.ProductionEntry)  # row 900 (one row before it was dead-lettered)
    assert made[899].transaction_date == datetime.datetime(2025, 1, 6, tzinfo=datetime.UTC)
    assert sum(type(value) is tuple for value in made) == 1_998


def test_a_projection_of_a_field_the_layout_lacks_is_left_to_records() -> None:
    keys = ("transactionDate", "workcenterId", "quantity")
    assert fast_rows_for(models.ProductionEntry, keys, ("workcenter_id", "unit")) is None
    assert fast_rows_for(models.ProductionEntry, keys, ("workcenter_id", "quantity")) is not None
    assert fast_rows_for(models.ProductionEntry, keys, ()) is None


# -- which rows the fast path makes, and when it gives a body up ------------------------------------------------------


def _production_rows(count: int, **extra: Any) -> list[dict[str, Any]]:
    return [
        {
            "transactionDate": f"2025-01-06T00:00:{i % 60:02d}.{i:07d}Z",
            "workcenterId": f"wc-{i % 7}",
            "quantity": float(i),
            "operationNumber": 10,
            "jobId": f"job-{i}",
            "heatCode": None,  # not a declared field: kept in model_extra
            **extra,
        }
        for i in range(count)
    ]


class _Counted:
    """How many rows pydantic validated, and how many `FastRows` made."""

    def __init__(self, patch: pytest.MonkeyPatch) -> None:
        self.pydantic_calls = 0
        self.fast = 0
        adapter_of = _stream._rows_adapter
        record = FastRows._record

        def rows_adapter(model: type[PlexRecord]) -> Any:
            adapter = adapter_of(model)
            counter = self

            class _Adapter:
                def validate_json(self, data: bytes) -> Any:
                    counter.pydantic_calls += 1
                    return adapter.validate_json(data)

            return _Adapter()

        def counted_record(fast: FastRows[Any], row: Any) -> Any:
            made = record(fast, row)
            self.fast += 1
            return made

        patch.setattr(_stream, "_rows_adapter", rows_adapter)
        patch.setattr(FastRows, "_record", counted_record)


def _both_ways(model: type[PlexRecord], rows: list[Any]) -> tuple[_Counted, list[PlexRecord]]:
    body = json.dumps(rows).encode()
    with pytest.MonkeyPatch.context() as patch:
        counted = _Counted(patch)
        records = RowValidator("rows", "340884").validate_json(model, body)
    assert [_record(record) for record in records] == _validated(model, body, fast=False)[0]
    return counted, records


def test_rows_of_one_layout_are_all_made_fast() -> None:
    counted, records = _both_ways(models.ProductionEntry, _production_rows(3_000))
    assert counted.fast == len(records) == 3_000
    assert counted.pydantic_calls == 0
    # What pydantic would make, down to the shared parts: one fields set and one extras dict for the body.
    assert records[0].transaction_date == datetime.datetime(2025, 1, 6, 0, 0, 0, 0, tzinfo=datetime.UTC)
    assert records[1234].transaction_date.microsecond == 123  # "...0001234Z": the 7th digit truncated
    assert len({id(record.__pydantic_fields_set__) for record in records}) == 1
    assert len({id(record.__pydantic_extra__) for record in records}) == 1
    records[5].quantity = 1.0  # copy on write, as for pydantic's records
    records[5].model_extra["heatCode"] = "H-1"  # type: ignore[index]
    assert records[6].model_extra == {"heatCode": None}
    assert records[5].model_fields_set == records[6].model_fields_set


def test_a_new_layout_mid_body_is_learnt_and_a_bad_row_goes_to_pydantic() -> None:
    rows: list[Any] = _production_rows(1_000) + _production_rows(1_000, lotNo="L-1")
    rows[1_500] = {**rows[1_500], "quantity": -1.0}  # ge=0: a dead letter, with pydantic's reason
    letters: list[DeadLetter] = []
    body = json.dumps(rows).encode()
    with pytest.MonkeyPatch.context() as patch:
        counted = _Counted(patch)
        records = RowValidator("rows", "340884", on_dead_letter=letters.append).validate_json(
            models.ProductionEntry, body
        )
    assert counted.fast == len(records) == 1_999
    assert counted.pydantic_calls == 1
    assert [(letter.reason, letter.payload) for letter in letters] == _validated(
        models.ProductionEntry, body, fast=False
    )[1]
    assert letters[0].reason == "negative_number: ProductionEntry: quantity: Input should be greater than or equal to 0"


def test_only_the_bad_rows_of_a_body_are_taken_alone() -> None:
    rows: list[Any] = _production_rows(3_000)
    rows[0] = {**rows[0], "quantity": -2.0}  # the first row: its layout is still the body's
    rows[1_500] = {**rows[1_500], "quantity": -1.0}  # msgspec refuses it (ge=0) and says where
    rows[2_200] = {**rows[2_200], "transactionDate": "2025-13-01T00:00:00Z"}  # fits the pattern, not the calendar
    letters: list[DeadLetter] = []
    alone: list[Any] = []
    with pytest.MonkeyPatch.context() as patch:
        counted = _Counted(patch)
        decode_one = FastRows.decode_one

        def counted_one(fast: FastRows[Any], row: Any) -> Any:
            alone.append(json.loads(bytes(row)))
            return decode_one(fast, row)

        patch.setattr(FastRows, "decode_one", counted_one)
        records = RowValidator("rows", "340884", on_dead_letter=letters.append).validate_json(
            models.ProductionEntry, json.dumps(rows).encode()
        )
    assert alone == [rows[0], rows[1_500], rows[2_200]]
    assert counted.fast == len(records) == 2_997  # each record made once: none made again after a misfit
    assert counted.pydantic_calls == 3
    assert [record.quantity for record in records[1_498:1_500]] == [1_499.0, 1_501.0]
    assert [letter.reason.split(":")[0] for letter in letters] == ["negative_number"] * 2 + ["invalid_datetime"]


def test_a_body_of_rows_that_do_not_fit_is_left_to_pydantic_in_bulk() -> None:
    # An int field sent as a float (`3600.0`) is pydantic's to read: once most rows miss, it reads the rest at once.
    rows = _production_rows(3_000, operationNumber=10.0)
    counted, records = _both_ways(models.ProductionEntry, rows)
    assert len(records) == 3_000
    assert records[0].operation_number == 10
    assert counted.fast == 0
    slices = len(json.dumps(rows)) // _stream._SLICE_BYTES + 1
    assert counted.pydantic_calls <= _stream._MISFITS_TRIED + 1 + 2 * slices  # a few rows one by one, then slices


def test_keys_msgspec_cannot_name_are_left_to_pydantic() -> None:
    assert fast_rows_for(models.Building, ("id", 'a"b')) is None
    assert fast_rows_for(models.Building, ("id", "\x1f")) is None
    assert fast_rows_for(models.Building, ("id", "name", "Name")) is not None
    assert fast_rows_for(models.Building, ("name",)) is None  # the key field is required
    assert fast_rows_for(models.Building, ("id", "buildingCode", "building_code")) is None  # a field twice


def test_a_row_that_does_not_fit_says_so() -> None:
    fast = fast_rows_for(models.Building, ("id", "active"))
    assert fast is not None
    assert fast.decode_one(b'{"id": "b-1", "active": true}').active is True
    for row in (b'{"id": "b-1", "active": "yes"}', b'{"id": "b-1"}', b'{"id": "b-1", "active": true, "x": 1}', b"{"):
        with pytest.raises(RowMisfitError):
            fast.decode_one(row)


def test_text_values_that_repeat_are_shared_and_the_rest_are_not_held() -> None:
    # One object per workcenter id, as pydantic-core's string cache gives. Serial numbers and job ids never repeat:
    # after the sample they are neither shared nor held (holding them would only evict values that do repeat), and
    # neither is the job number, which repeated only by equalling the job id of its own row.
    rows = [
        {**row, "serialNo": f"S-{i}", "jobNo": row["jobId"]}
        for i, row in enumerate(_production_rows(3 * _fastrows._SHARING_SAMPLE))
    ]
    fast = FastRows(models.ProductionEntry, tuple(rows[0]))
    _fastrows._strings.clear()
    records = fast.decode(json.dumps(rows).encode())
    last = len(records) - 1
    assert records[last].workcenter_id == records[last - 7].workcenter_id
    assert records[last].workcenter_id is records[last - 7].workcenter_id
    assert records[last].job_no == records[last].job_id
    assert records[last].job_no is not records[last].job_id
    assert records[0].job_no is records[0].job_id  # shared while the sample lasted
    held = set(_fastrows._strings)
    assert {f"wc-{i}" for i in range(7)} <= held
    assert f"S-{last}" not in held
    assert f"job-{last}" not in held
