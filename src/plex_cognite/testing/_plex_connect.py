"""The Plex Connect REST side of FakePlex: routing, header auth, tenancy, date windows and error bodies.

Behaviour follows Plex Connect (see `docs/plex-client.md`): exact paths, bare JSON arrays with no paging
(`limit`/`offset` and unknown parameters are ignored), `beginDate`/`endDate` required in the `...Z` format on
history endpoints, `X-Plex-Connect-Api-Key` header auth (a key in the query string is refused), tenancy by
`X-Plex-Connect-Customer-Id` (PCN) or `X-Plex-Connect-Tenant-Id` (tenant UUID), and
`{"code", "message"[, "errors"]}` error bodies.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

import orjson

from plex_cognite.testing._http import Request, Response, Router
from plex_cognite.testing._plant_time import parse_plex_datetime
from plex_cognite.testing.plant import SimulatedPlant

__all__ = ["CONNECT_ERROR_CODES", "ConnectApp", "connect_error", "json_array_chunks"]

Row = dict[str, Any]

#: The `code` of a Connect error body, by HTTP status.
CONNECT_ERROR_CODES: dict[int, str] = {
    400: "REQUEST_VALIDATION_FAILED",
    401: "REQUEST_NOT_AUTHENTICATED",
    403: "REQUEST_FORBIDDEN",
    404: "RESOURCE_NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    429: "TOO_MANY_REQUESTS",
    500: "REQUEST_PROCESSING_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}
_QUERY_KEY_NAMES = frozenset({"x-plex-connect-api-key", "api_key", "apikey", "api-key", "key", "consumerkey"})
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ID = r"(?P<id>[^/]+)"


def connect_error(status: int, message: str, errors: Iterable[tuple[str, str]] = ()) -> Response:
    """A Connect error answer: `{"code", "message"}`, plus `errors: [{"code", "message"}]` for a 400."""
    body: dict[str, Any] = {"code": CONNECT_ERROR_CODES.get(status, "REQUEST_PROCESSING_ERROR"), "message": message}
    if status == 400:
        body["errors"] = [{"code": code, "message": text} for code, text in errors]
    return Response.json(body, status)


def json_array_chunks(rows: Iterable[Row], batch: int = 1000) -> Iterator[bytes]:
    """Serialise rows as one JSON array (UTF-8, as Plex sends it), `batch` rows per chunk (memory stays O(batch)).

    orjson does the encoding: a fake that serves a 100k-jobs plant spends most of its time here, on the same cores
    as the code under test.
    """
    yield b"["
    separator = b""
    buffer: list[Row] = []
    for row in rows:
        buffer.append(row)
        if len(buffer) >= batch:
            yield separator + orjson.dumps(buffer)[1:-1]
            separator = b","
            buffer = []
    if buffer:
        yield separator + orjson.dumps(buffer)[1:-1]
    yield b"]"


def _array_response(rows: Iterable[Row], count: int | None = None) -> Response:
    # Streamed with chunked transfer encoding: 200k jobs never exist in memory as one body.
    return Response(status=200, chunks=json_array_chunks(rows), items=count)


class _CaseInsensitiveQuery:
    """Query parameters looked up without regard to case (Plex's gateway behaves like ASP.NET)."""

    def __init__(self, query: Mapping[str, list[str]]) -> None:
        self._values: dict[str, list[str]] = {}
        for name, values in query.items():
            self._values.setdefault(name.lower(), []).extend(values)

    def get(self, name: str) -> list[str]:
        return self._values.get(name.lower(), [])

    def last(self, name: str) -> str | None:
        values = self.get(name)
        return values[-1] if values else None


# Supported filters per collection: query parameter -> row field. Anything else is ignored, as Plex does.
_FILTERS: dict[str, dict[str, str]] = {
    "parts": {"id": "id", "number": "number", "revision": "revision", "type": "type", "status": "status"},
    "buildings": {"id": "id", "buildingCode": "buildingCode"},
    "workcenters": {"workcenterCode": "workcenterCode", "buildingId": "buildingId", "workcenterType": "workcenterType"},
    "jobs": {"jobStatuses": "jobStatus", "partId": "partId", "buildingId": "buildingId", "jobNumber": "jobNumber"},
    "history": {"workcenterId": "workcenterId", "jobId": "jobId", "partId": "partId"},
    "workcenter_status": {
        "workcenterId": "workcenterId",
        "jobId": "jobId",
        "partId": "partId",
        "status": "workcenterStatus",
    },
    "containers": {"partId": "partId", "inventoryType": "inventoryType", "locationId": "locationId"},
    "locations": {"locationId": "locationId", "locationCode": "locationCode"},
    "container_moves": {
        "serialNo": "serialNo",
        "partId": "partId",
        "partOperationId": "partOperationId",
        "locationId": "locationId",
        "movedFromLocationId": "movedFromLocationId",
    },
}


def _filtered(rows: Iterable[Row], query: _CaseInsensitiveQuery, collection: str) -> Iterable[Row]:
    wanted = {field: set(query.get(param)) for param, field in _FILTERS[collection].items() if query.get(param)}
    if not wanted:
        return rows
    return (row for row in rows if all(row.get(field) in values for field, values in wanted.items()))


class ConnectApp:
    """Serves the Connect endpoints over a set of plants (the `handle` of a `LoopbackServer`).

    Args:
        plants: The plants, by PCN; the first is the key's default tenant.
        api_key: The one valid `X-Plex-Connect-Api-Key`.
    """

    def __init__(self, plants: Mapping[str, SimulatedPlant], api_key: str) -> None:
        self._lock = threading.Lock()
        self._plants = dict(plants)
        self.api_key = api_key
        self.router = Router(fallback=self._not_found)
        get = self._get
        get(r"/mdm/v1/tenants", lambda p, r, q: self._tenants())
        get(rf"/mdm/v1/tenants/{_ID}", lambda p, r, q: self._tenant(r.params["id"]))
        get(r"/mdm/v1/buildings", lambda p, r, q: _array_response(_filtered(p.buildings(), q, "buildings")))
        get(r"/mdm/v1/parts", lambda p, r, q: _array_response(_filtered(p.parts(), q, "parts"), p.size.parts))
        get(rf"/mdm/v1/parts/{_ID}", lambda p, r, q: self._one(r.params["id"], p.part, "part"))
        wc_path = r"/production/v1/production-definitions/workcenters"
        get(wc_path, lambda p, r, q: _array_response(_filtered(p.workcenters(), q, "workcenters")))
        get(rf"{wc_path}/{_ID}", lambda p, r, q: self._one(r.params["id"], p.workcenter, "workcenter"))
        get(
            r"/production/v1/production-definitions/workcenter-statuses",
            lambda p, r, q: _array_response(p.workcenter_statuses()),
        )
        get(r"/scheduling/v1/jobs", lambda p, r, q: _array_response(_filtered(p.jobs(), q, "jobs"), p.size.jobs))
        get(rf"/scheduling/v1/jobs/{_ID}", lambda p, r, q: self._one(r.params["id"], p.job, "job"))
        get(rf"/scheduling/v1/jobs/{_ID}/operations", lambda p, r, q: self._operations(p, r.params["id"]))
        history = r"/production/v1/production-history"
        get(rf"{history}/production-entries", lambda p, r, q: self._history(q, p.production_entries, "history"))
        get(rf"{history}/scrap-entries", lambda p, r, q: self._history(q, p.scrap_entries, "history"))
        get(
            rf"{history}/workcenter-status-entries",
            lambda p, r, q: self._history(q, p.workcenter_status_entries, "workcenter_status"),
        )
        get(
            r"/inventory/v1/inventory-tracking/containers",
            lambda p, r, q: _array_response(_filtered(p.containers(), q, "containers")),
        )
        get(
            r"/inventory/v1/inventory-definitions/locations",
            lambda p, r, q: _array_response(_filtered(p.locations(), q, "locations")),
        )
        get(
            r"/inventory/v1/inventory-history/container-location-moves",
            lambda p, r, q: self._history(q, p.container_moves, "container_moves"),
        )

    # ---- plants ----------------------------------------------------------------------------------------------
    @property
    def plants(self) -> dict[str, SimulatedPlant]:
        """The served plants by PCN (a copy)."""
        with self._lock:
            return dict(self._plants)

    def set_plant(self, plant: SimulatedPlant) -> None:
        """Serve `plant` for its PCN from the next request on (add it, or replace the plant with that PCN)."""
        with self._lock:
            self._plants[plant.pcn] = plant

    # ---- dispatch --------------------------------------------------------------------------------------------
    def _get(self, pattern: str, handler: Callable[[SimulatedPlant, Request, _CaseInsensitiveQuery], Response]) -> None:
        def run(request: Request) -> Response:
            plant = self._authenticate(request)
            if isinstance(plant, Response):
                return plant
            return handler(plant, request, _CaseInsensitiveQuery(request.query))

        self.router.add("GET", pattern, run)
        self.router.add("*", pattern, self._method_not_allowed)

    def __call__(self, request: Request) -> Response:
        """Handle one request."""
        return self.router(request)

    def _authenticate(self, request: Request) -> SimulatedPlant | Response:
        refused = connect_error(401, "The request could not be authenticated.")
        if any(name.lower() in _QUERY_KEY_NAMES for name in request.query):
            return refused  # the key must be a header; Plex answers 401 to a key in the query string
        if request.headers.get("x-plex-connect-api-key") != self.api_key:
            return refused
        plants = self.plants
        customer = request.headers.get("x-plex-connect-customer-id")
        tenant = request.headers.get("x-plex-connect-tenant-id")
        by_customer = plants.get(customer.strip()) if customer is not None else None
        by_tenant = (
            next((p for p in plants.values() if p.tenant_id == tenant.strip().lower()), None) if tenant else None
        )
        if (customer is not None and by_customer is None) or (tenant is not None and by_tenant is None):
            return refused
        if by_customer is not None and by_tenant is not None and by_customer is not by_tenant:
            return refused  # the two tenancy headers name different tenants
        chosen = by_customer or by_tenant or next(iter(plants.values()), None)
        return refused if chosen is None else chosen

    def _not_found(self, request: Request) -> Response:
        plant = self._authenticate(request)
        if isinstance(plant, Response):
            return plant
        return connect_error(404, f"No resource at {request.path}.")

    def _method_not_allowed(self, request: Request) -> Response:
        plant = self._authenticate(request)
        if isinstance(plant, Response):
            return plant
        return connect_error(405, f"{request.method} is not supported on {request.path} by FakePlex.")

    # ---- handlers --------------------------------------------------------------------------------------------
    def _tenants(self) -> Response:
        return _array_response(plant.tenant() for plant in self.plants.values())

    def _tenant(self, tenant_id: str) -> Response:
        if not _UUID.match(tenant_id):
            return _bad_uuid("id", tenant_id)
        for plant in self.plants.values():
            if plant.tenant_id == tenant_id.lower():
                return Response.json(plant.tenant())
        return connect_error(404, f"Tenant {tenant_id} was not found.")

    def _one(self, plex_id: str, find: Callable[[str], Row | None], what: str) -> Response:
        if not _UUID.match(plex_id):
            return _bad_uuid("id", plex_id)
        row = find(plex_id.lower())
        if row is None:
            return connect_error(404, f"The {what} {plex_id} was not found.")
        return Response.json(row, items=1)

    def _operations(self, plant: SimulatedPlant, job_id: str) -> Response:
        if not _UUID.match(job_id):
            return _bad_uuid("id", job_id)
        operations = plant.job_operations(job_id.lower())
        if operations is None:
            return connect_error(404, f"The job {job_id} was not found.")
        return _array_response(operations, len(operations))

    def _history(
        self,
        query: _CaseInsensitiveQuery,
        rows: Callable[[datetime | None, datetime | None], Iterator[Row]],
        collection: str,
    ) -> Response:
        bounds: dict[str, datetime] = {}
        problems: list[tuple[str, str]] = []
        for name in ("beginDate", "endDate"):
            value = query.last(name)
            if value is None or value == "":
                problems.append(("ARGUMENT_REQUIRED", f"{name} is required (format YYYY-MM-DDThh:mm:ss.fffffffZ)."))
                continue
            try:
                bounds[name] = parse_plex_datetime(value)
            except ValueError:
                problems.append(
                    ("ARGUMENT_INVALID", f"{name} is invalid: {value!r} (expected YYYY-MM-DDThh:mm:ss.fffffffZ).")
                )
        if not problems and bounds["endDate"] < bounds["beginDate"]:
            problems.append(("ARGUMENT_INVALID", "endDate must not be before beginDate."))
        if problems:
            return connect_error(400, "The request failed validation.", problems)
        return _array_response(_filtered(rows(bounds["beginDate"], bounds["endDate"]), query, collection))


def _bad_uuid(name: str, value: str) -> Response:
    return connect_error(
        400, "The request failed validation.", [("ARGUMENT_INVALID", f"{name} {value!r} is not a UUID.")]
    )
