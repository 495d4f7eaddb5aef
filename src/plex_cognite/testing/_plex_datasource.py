"""The Plex Data Source API side of FakePlex (`POST /api/datasources/{id}/execute`, search, metadata).

Follows the Plex Data Source API (`docs/plex-client.md`): Basic auth (the account belongs to one PCN), format 1
(`tables`) and `?format=2` (`rows`), `transactionNo` as a string, a per-source read row limit with the rows cut off and
`rowLimitExceeded: true`, and `{"errors": [{"code", "message"}], "transactionNo"}` error bodies with `DATA_SOURCE_*`
codes. Input names are case-sensitive; values must convert to the declared type.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from plex_cognite.testing._http import Request, Response, Router
from plex_cognite.testing._plant_expected import dead_letter_reason, plex_ms
from plex_cognite.testing._plant_time import format_plex_ms, parse_plex_datetime
from plex_cognite.testing.plant import SimulatedPlant

__all__ = [
    "CHECKSHEET_COLUMNS",
    "CHECKSHEET_ROW_LIMIT",
    "DATA_SOURCES",
    "DataSource",
    "DataSourceApp",
    "datasource_error",
]

Row = dict[str, Any]
_STATUS_CODES = {
    400: "DATA_SOURCE_INPUT_FORMAT_INVALID",
    401: "USER_ACCESS_DENIED",
    403: "DATA_SOURCE_ACCESS_DENIED",
    404: "DATA_SOURCE_NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
}


@dataclass(frozen=True)
class DataSource:
    """One simulated data source: metadata plus how it computes its answer from a plant.

    Attributes:
        id: The data source key.
        name: Its name.
        description: What it returns.
        inputs: `(name, type, required, nullable)` per input.
        columns: `(name, type)` per output column (empty for an outputs-only source).
        outputs: `(name, type)` per direct output.
        row_limit: The default read row limit.
        accessible: False for a source the account was not granted (403 `DATA_SOURCE_ACCESS_DENIED`).
    """

    id: int
    name: str
    description: str
    inputs: tuple[tuple[str, str, bool, bool], ...]
    columns: tuple[tuple[str, str], ...] = ()
    outputs: tuple[tuple[str, str], ...] = ()
    row_limit: int = 1000
    accessible: bool = True

    def metadata(self) -> dict[str, Any]:
        """The `GET /api/datasources/{id}` body."""
        return {
            "id": self.id,
            "name": self.name,
            "inputs": [{"name": n, "type": t, "required": r, "nullable": nl} for n, t, r, nl in self.inputs],
            "outputs": [{"name": n, "type": t, "nullable": True} for n, t in self.outputs],
            "columns": [{"name": n, "type": t, "nullable": True} for n, t in self.columns],
        }


#: Columns of the simulated `Checksheets_Get` (4142), in order.
CHECKSHEET_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Checksheet_Key", "int"),
    ("Checksheet_Date", "datetime"),
    ("Checksheet_Type", "string"),
    ("Workcenter_Code", "string"),
    ("Part_No_Revision", "string"),
    ("Status", "string"),
    ("Result", "decimal"),
)
#: The fake's read row limit of `Checksheets_Get`.
CHECKSHEET_ROW_LIMIT = 200

#: The data sources FakePlex offers (ids as seen on real tenants where one is known).
DATA_SOURCES: dict[int, DataSource] = {
    source.id: source
    for source in (
        DataSource(
            1791,
            "Part_Get",
            "One part by part number.",
            (("Part_No", "string", True, False),),
            (
                ("Part_Key", "int"),
                ("Part_No_Revision", "string"),
                ("Name", "string"),
                ("Part_Status", "string"),
                ("Old_Part_No", "string"),
            ),
        ),
        DataSource(
            18764,
            "Part_Name_Output_Get",
            "The name of a part, as a direct output.",
            (("Part_Key", "int", True, False),),
            outputs=(("Name", "string"),),
        ),
        DataSource(
            230486,
            "Production_History_Get",
            "Production records in [Start_Date, End_Date), optionally for one workcenter code.",
            (
                ("Start_Date", "datetime", True, False),
                ("End_Date", "datetime", True, False),
                ("Workcenter_Code", "string", False, True),
            ),
            (
                ("Workcenter_Key", "int"),
                ("Workcenter_Code", "string"),
                ("Part_No_Revision", "string"),
                ("Job_No", "string"),
                ("Serial_No", "string"),
                ("Quantity", "decimal"),
                ("Record_Date", "datetime"),
            ),
        ),
        DataSource(
            4142,
            "Checksheets_Get",
            "Quality checksheets with Checksheet_Date in [Begin_Date, End_Date).",
            (("Begin_Date", "datetime", True, False), ("End_Date", "datetime", True, False)),
            CHECKSHEET_COLUMNS,
            # Plex's own read row limit for this source is 5,000; the fake's is small, so that one busy day of a
            # small simulated plant passes it and a one-day window must be split.
            row_limit=CHECKSHEET_ROW_LIMIT,
        ),
        DataSource(
            6429,
            "Specification_Get",
            "Specifications (this account has no access).",
            (("Part_Key", "int", False, True),),
            (("Specification_Key", "int"),),
            accessible=False,
        ),
    )
}
_PART_KEY_BASE = 8_000_000
_WORKCENTER_KEY_BASE = 5_000


class _InputError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def datasource_error(status: int, message: str, code: str | None = None, transaction_no: str = "0") -> Response:
    """A Data Source API error answer: `{"errors": [{"code", "message"}], "transactionNo"}`."""
    body = {
        "errors": [{"code": code or _STATUS_CODES.get(status, "REQUEST_PROCESSING_ERROR"), "message": message}],
        "transactionNo": transaction_no,
    }
    return Response.json(body, status)


class DataSourceApp:
    """Serves the Data Source API for the plants' web-service accounts (the `handle` of a `LoopbackServer`).

    Args:
        accounts: `(username, password)` -> the PCN the account belongs to.
        plants: Returns the current plants by PCN.
        row_limits: Overrides of the read row limit by data source id.
    """

    def __init__(
        self,
        accounts: Mapping[tuple[str, str], str],
        plants: Callable[[], Mapping[str, SimulatedPlant]],
        row_limits: Mapping[int, int] | None = None,
    ) -> None:
        self._accounts = dict(accounts)
        self._plants = plants
        self._row_limits = dict(row_limits or {})
        self._transactions = itertools.count(1_000_000_001)
        self._lock = threading.Lock()
        self.router = Router(
            fallback=lambda request: datasource_error(404, f"No resource at {request.path}.", "RESOURCE_NOT_FOUND")
        )
        self.router.add("GET", r"/api/datasources/search", self._search)
        self.router.add("POST", r"/api/datasources/(?P<id>[^/]+)/execute", self._execute)
        self.router.add("*", r"/api/datasources/(?P<id>[^/]+)/execute", self._method_not_allowed)
        self.router.add("GET", r"/api/datasources/(?P<id>[^/]+)", self._metadata)

    def __call__(self, request: Request) -> Response:
        """Handle one request."""
        return self.router(request)

    def _transaction_no(self) -> str:
        with self._lock:
            return str(next(self._transactions))

    def _plant(self, request: Request) -> SimulatedPlant | Response:
        refused = datasource_error(401, "The credentials are not valid.", transaction_no=self._transaction_no())
        header = request.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return refused
        try:
            username, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return refused
        pcn = self._accounts.get((username, password))
        plant = None if pcn is None else self._plants().get(pcn)
        return refused if plant is None else plant

    def _source(self, raw_id: str, transaction_no: str) -> DataSource | Response:
        source = DATA_SOURCES.get(int(raw_id)) if raw_id.isdigit() else None
        if source is None:
            return datasource_error(404, f"Data source '{raw_id}' was not found.", transaction_no=transaction_no)
        return source

    def _search(self, request: Request) -> Response:
        plant = self._plant(request)
        if isinstance(plant, Response):
            return plant
        name = (request.query_value("name") or "").lower()
        found = [
            {"id": s.id, "name": s.name, "description": s.description}
            for s in DATA_SOURCES.values()
            if name in s.name.lower()
        ]
        return Response.json(found, items=len(found))

    def _metadata(self, request: Request) -> Response:
        plant = self._plant(request)
        if isinstance(plant, Response):
            return plant
        source = self._source(request.params["id"], self._transaction_no())
        return source if isinstance(source, Response) else Response.json(source.metadata())

    def _method_not_allowed(self, request: Request) -> Response:
        return datasource_error(
            405, f"{request.method} is not allowed; use POST.", transaction_no=self._transaction_no()
        )

    def _execute(self, request: Request) -> Response:
        transaction_no = self._transaction_no()
        plant = self._plant(request)
        if isinstance(plant, Response):
            return plant
        source = self._source(request.params["id"], transaction_no)
        if isinstance(source, Response):
            return source
        if not source.accessible:
            return datasource_error(
                403, f"You do not have access to data source '{source.id}'.", transaction_no=transaction_no
            )
        fmt = request.query_value("format", "1")
        try:
            inputs = _validated_inputs(source, request.body)
            outputs, rows = _run(source, plant, inputs)
        except _InputError as exc:
            return datasource_error(400, str(exc), exc.code, transaction_no)
        limit = self._row_limits.get(source.id, source.row_limit)
        exceeded = len(rows) > limit
        rows = rows[:limit]
        columns = [name for name, _ in source.columns]
        body: dict[str, Any] = {"outputs": outputs}
        if fmt == "2":
            body["rows"] = [dict(zip(columns, row, strict=True)) for row in rows]
        else:
            body["tables"] = [{"columns": columns, "rows": rows}] if source.columns else []
        body["rowLimitExceeded"] = exceeded
        body["transactionNo"] = transaction_no
        indent = 2 if (request.query_value("pretty") or "").lower() == "true" else None
        payload = json.dumps(body, indent=indent, separators=None if indent else (",", ":")).encode()
        return Response(status=200, body=payload, items=len(rows))


def _validated_inputs(source: DataSource, raw_body: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw_body) if raw_body else {}
    except ValueError as exc:
        raise _InputError("DATA_SOURCE_INPUT_FORMAT_INVALID", f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise _InputError("DATA_SOURCE_INPUT_FORMAT_INVALID", "The request body must be a JSON object.")
    declared = {name: (kind, required, nullable) for name, kind, required, nullable in source.inputs}
    # Format 1 wraps inputs in {"inputs": {...}}; format 2 sends them bare. Both are accepted in both formats.
    inputs = body["inputs"] if isinstance(body.get("inputs"), dict) and "inputs" not in declared else body
    values: dict[str, Any] = {}
    for name, value in inputs.items():
        if name not in declared:
            raise _InputError("DATA_SOURCE_INPUT_NOT_FOUND", f"Input '{name}' does not exist on '{source.name}'.")
        kind, _, nullable = declared[name]
        if value is None:
            if not nullable:
                raise _InputError("DATA_SOURCE_INPUT_NOT_NULLABLE", f"Input '{name}' cannot be null.")
            values[name] = None
            continue
        values[name] = _convert(name, kind, value)
    for name, (_, required, _) in declared.items():
        if required and name not in values:
            raise _InputError("DATA_SOURCE_INPUT_REQUIRED", f"Input '{name}' is required.")
    return values


def _convert(name: str, kind: str, value: Any) -> Any:
    if kind == "datetime":
        if not isinstance(value, str):
            raise _InputError("DATA_SOURCE_INPUT_TYPE_MISMATCH", f"Input '{name}' must be a date-time string.")
        try:
            return parse_plex_datetime(value)
        except ValueError as exc:
            raise _InputError(
                "DATA_SOURCE_INPUT_FORMAT_INVALID", f"Input '{name}' must look like YYYY-MM-DDThh:mm:ss.fffffffZ."
            ) from exc
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).lstrip("-").isdigit():
            raise _InputError("DATA_SOURCE_INPUT_TYPE_MISMATCH", f"Input '{name}' must be an integer.")
        return int(value)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _InputError("DATA_SOURCE_INPUT_TYPE_MISMATCH", f"Input '{name}' must be a string.")
    return str(value)


def _run(
    source: DataSource, plant: SimulatedPlant, inputs: Mapping[str, Any]
) -> tuple[dict[str, Any], list[list[Any]]]:
    if source.name == "Part_Get":
        part = plant.part_by_number(inputs["Part_No"])
        if part is None:
            return {}, []
        key = _PART_KEY_BASE + int(part["number"]) - 100000
        number_revision = f"{part['number']}-{part['revision']}" if part["revision"] else part["number"]
        return {}, [[key, number_revision, part["name"], part["status"], ""]]
    if source.name == "Part_Name_Output_Get":
        number = str(int(inputs["Part_Key"]) - _PART_KEY_BASE + 100000)
        part = plant.part_by_number(number)
        return {"Name": None if part is None else part["name"]}, []
    if source.name == "Checksheets_Get":
        rows = plant.checksheets(inputs["Begin_Date"], inputs["End_Date"])
        return {}, [[row[name] for name, _ in CHECKSHEET_COLUMNS] for row in rows]
    if source.name == "Production_History_Get":
        return {}, _production_rows(plant, inputs["Start_Date"], inputs["End_Date"], inputs.get("Workcenter_Code"))
    return {}, []


def _production_rows(plant: SimulatedPlant, start: datetime, end: datetime, code: str | None) -> list[list[Any]]:
    keys = {wc["workcenterId"]: _WORKCENTER_KEY_BASE + i for i, wc in enumerate(plant.workcenters())}
    rows: list[list[Any]] = []
    for entry in plant.production_entries(start, end):
        if dead_letter_reason("production", entry) is not None:
            continue  # the data source reads the database, where malformed API rows do not exist
        if code is not None and entry["workcenterCode"] != code:
            continue
        rows.append(
            [
                keys.get(entry["workcenterId"]),
                entry["workcenterCode"],
                entry["partNumberRevision"],
                entry["jobNo"],
                entry["serialNo"],
                entry["quantity"],
                format_plex_ms(plex_ms(entry["transactionDate"]), 1),
            ]
        )
    return rows
