"""FakeCDF's HTTP surface.

Authentication (static bearer token, `POST /token`), project routing, and one route per endpoint, mapping
`CDFError`s to CDF's error envelope.
"""

from __future__ import annotations

import functools
import itertools
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from plex_cognite.testing._cdf_datapoints import SeriesPoints, points_json
from plex_cognite.testing._cdf_errors import CDFError, error_payload
from plex_cognite.testing._cdf_store import CDFStore
from plex_cognite.testing._cdf_table import Record, limit_of
from plex_cognite.testing._http import Request, Response, Router

CLASSIC = {
    "assets": "/assets",
    "events": "/events",
    "timeseries": "/timeseries",
    "datasets": "/datasets",
    "extpipes": "/extpipes",
}
_DB = r"/raw/dbs/(?P<db>[^/]+)"
_TABLE = _DB + r"/tables/(?P<table>[^/]+)"


def cdf_error_response(status: int, message: str) -> Response:
    """An error answer shaped as CDF's: `{"error": {"code": status, "message": message}}`."""
    return Response.json(error_payload(status, message), status)


def _api(handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
    @functools.wraps(handler)
    def wrapper(request: Request) -> Response:
        try:
            return handler(request)
        except CDFError as exc:
            return Response.json(exc.payload(), exc.status)

    return wrapper


def _items_endpoint(
    operation: Callable[[str, object], list[Record]], kind: str, status: int = 200
) -> Callable[[Request], Response]:
    """An endpoint that hands the body to `operation(kind, body)` and answers `{"items": [...]}`."""

    def endpoint(request: Request) -> Response:
        body = request.json()
        return Response.json({"items": operation(kind, body)}, status, items=_items_count(body))

    return _api(endpoint)


def _items_count(body: object) -> int | None:
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        return len(body["items"])
    return None


def _bool_param(request: Request, name: str) -> bool:
    return (request.query_value(name) or "false").lower() == "true"


class CDFApp:
    """The request handler behind FakeCDF.

    Args:
        store: the state.
        project: the only project served; other projects get 403.
        token: the static bearer token accepted besides tokens issued by `POST /token`.
        client_id: client id accepted by `POST /token`.
        client_secret: client secret accepted by `POST /token`.
        token_ttl_s: `expires_in` of issued tokens (an expired token gets 401).
    """

    def __init__(
        self,
        store: CDFStore,
        *,
        project: str,
        token: str,
        client_id: str,
        client_secret: str,
        token_ttl_s: float,
    ) -> None:
        self.store = store
        self.project = project
        self.token = token
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_ttl_s = token_ttl_s
        self.prefix = f"/api/v1/projects/{project}"
        self._issued: dict[str, float] = {}
        self._issued_lock = threading.Lock()
        self._token_numbers = itertools.count(1)
        self.router = Router(fallback=self._not_found)
        self._register()

    # -- entry points ----------------------------------------------------------------------------------------------

    def path_of(self, request: Request) -> str:
        """The path after `/api/v1/projects/{project}` (the full path for anything else)."""
        path = request.path
        return path[len(self.prefix) :] if path.startswith(self.prefix + "/") else path

    def __call__(self, request: Request) -> Response:
        """Authenticate, then route to the endpoint."""
        path = request.path
        if path == "/token":
            return self._issue_token(request) if request.method == "POST" else self._not_found(request)
        if not self._authorized(request):
            return Response.json(error_payload(401, "Unauthorized"), 401)
        if path == "/api/v1/token/inspect":
            return self._inspect()
        if path.startswith(self.prefix + "/"):
            return self.router(replace(request, path=path[len(self.prefix) :]))
        if path.startswith("/api/v1/projects/"):
            message = "Resource not found. This may also be due to insufficient access rights."
            return Response.json(error_payload(403, message), 403)
        return self._not_found(request)

    @staticmethod
    def _not_found(request: Request) -> Response:
        return Response.json(error_payload(404, f"FakeCDF does not serve {request.method} {request.path}"), 404)

    # -- auth ------------------------------------------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        if token == self.token:
            return True
        with self._issued_lock:
            expiry = self._issued.get(token)
        return expiry is not None and expiry > time.time()

    def _issue_token(self, request: Request) -> Response:
        form = request.form()
        if form.get("grant_type") != "client_credentials":
            return Response.json(
                {"error": "unsupported_grant_type", "error_description": "use client_credentials"}, 400
            )
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            description = f"Invalid client secret or unknown client id {form.get('client_id')!r}"
            return Response.json({"error": "invalid_client", "error_description": description}, 401)
        token = f"fake-cdf-access-{next(self._token_numbers)}-{secrets.token_hex(8)}"
        with self._issued_lock:
            self._issued[token] = time.time() + self.token_ttl_s
        return Response.json({"access_token": token, "expires_in": int(self.token_ttl_s), "token_type": "Bearer"})

    def _inspect(self) -> Response:
        projects = [{"projectUrlName": self.project, "groups": []}]
        return Response.json({"subject": self.client_id, "projects": projects, "capabilities": []})

    # -- routes ----------------------------------------------------------------------------------------------------

    def _register(self) -> None:
        add = self.router.add
        for kind, base in CLASSIC.items():
            add("POST", base, _items_endpoint(self.store.create, kind, 201))
            add("POST", base + "/byids", _items_endpoint(self.store.retrieve, kind))
            add("POST", base + "/list", self._list(kind))
            add("GET", base, self._list_get(kind))
            add("POST", base + "/update", _items_endpoint(self.store.update, kind))
            add("POST", base + "/delete", self._delete(kind))
            add("POST", base + "/aggregate", self._aggregate(kind))
        add("POST", "/extpipes/runs", _api(self._create_runs))
        add("POST", "/extpipes/runs/list", _api(self._list_runs))
        add("GET", "/extpipes/runs", _api(self._list_runs_get))
        add("POST", "/timeseries/data", _api(self._insert_datapoints))
        add("POST", "/timeseries/data/list", _api(self._retrieve_datapoints))
        add("POST", "/timeseries/data/latest", _api(self._latest_datapoints))
        add("POST", "/timeseries/data/delete", _api(self._delete_datapoints))
        add("GET", "/raw/dbs", _api(self._list_dbs))
        add("POST", "/raw/dbs", _api(self._create_dbs))
        add("POST", "/raw/dbs/delete", _api(self._delete_dbs))
        add("GET", _DB + "/tables", _api(self._list_tables))
        add("POST", _DB + "/tables", _api(self._create_tables))
        add("POST", _DB + "/tables/delete", _api(self._delete_tables))
        add("POST", _TABLE + "/rows", _api(self._insert_rows))
        add("GET", _TABLE + "/rows", _api(self._list_rows))
        add("POST", _TABLE + "/rows/delete", _api(self._delete_rows))
        add("GET", _TABLE + "/rows/(?P<key>[^/]+)", _api(self._get_row))
        add("GET", _TABLE + "/cursors", _api(self._cursors))
        self._register_data_modeling()

    def _list(self, kind: str) -> Callable[[Request], Response]:
        def list_(request: Request) -> Response:
            items, cursor = self.store.list_page(kind, request.json())
            return Response.json({"items": items, "nextCursor": cursor}, items=len(items))

        return _api(list_)

    def _list_get(self, kind: str) -> Callable[[Request], Response]:
        def list_get(request: Request) -> Response:
            body: dict[str, Any] = {
                "cursor": request.query_value("cursor"),
                "partition": request.query_value("partition"),
            }
            if request.query_value("limit"):
                body["limit"] = int(request.query_value("limit") or 100)
            items, cursor = self.store.list_page(kind, body)
            return Response.json({"items": items, "nextCursor": cursor}, items=len(items))

        return _api(list_get)

    def _delete(self, kind: str) -> Callable[[Request], Response]:
        def delete(request: Request) -> Response:
            body = request.json()
            self.store.delete(kind, body)
            return Response.json({}, items=_items_count(body))

        return _api(delete)

    def _aggregate(self, kind: str) -> Callable[[Request], Response]:
        def aggregate(request: Request) -> Response:
            return Response.json({"items": [{"count": self.store.count(kind, request.json())}]})

        return _api(aggregate)

    def _create_runs(self, request: Request) -> Response:
        body = request.json()
        return Response.json({"items": self.store.create_runs(body)}, 201, items=_items_count(body))

    def _list_runs(self, request: Request) -> Response:
        return Response.json({"items": self.store.list_runs(request.json())})

    def _list_runs_get(self, request: Request) -> Response:
        body = {
            "filter": {"externalId": request.query_value("externalId")},
            "limit": int(request.query_value("limit") or 100),
        }
        return Response.json({"items": self.store.list_runs(body)})

    # -- data modeling ---------------------------------------------------------------------------------------------

    def _register_data_modeling(self) -> None:
        add, instances = self.router.add, self.store.instances
        add("POST", "/models/spaces", self._locked(instances.apply_spaces, write=True))
        add("POST", "/models/spaces/byids", self._locked(instances.retrieve_spaces))
        add("GET", "/models/spaces", _api(self._list_spaces))
        add("POST", "/models/instances", self._locked(instances.apply, write=True))
        add("POST", "/models/instances/byids", self._locked(instances.retrieve))
        add("POST", "/models/instances/list", _api(self._list_instances))
        add("POST", "/models/instances/delete", self._locked(instances.delete, write=True))

    def _locked(
        self, operation: Callable[[object], list[Record]], *, write: bool = False
    ) -> Callable[[Request], Response]:
        """An endpoint running `operation(body)` under the store lock and answering `{"items": [...]}`."""

        def endpoint(request: Request) -> Response:
            body = request.json()
            with self.store.lock:
                items = operation(body)
                if write:
                    self.store.version += 1
            return Response.json({"items": items}, items=_items_count(body))

        return _api(endpoint)

    def _list_spaces(self, request: Request) -> Response:
        with self.store.lock:
            items = self.store.instances.list_spaces(_bool_param(request, "includeGlobal"))
        return Response.json({"items": items, "nextCursor": None})

    def _list_instances(self, request: Request) -> Response:
        with self.store.lock:
            items, cursor = self.store.instances.list_page(request.json())
        return Response.json({"items": items, "nextCursor": cursor}, items=len(items))

    # -- datapoints ------------------------------------------------------------------------------------------------

    def _insert_datapoints(self, request: Request) -> Response:
        body = request.json()
        with self.store.lock:
            count = self.store.datapoints.insert(self.store.tables["timeseries"], body)
            self.store.version += 1
        return Response.json({}, items=count)

    def _retrieve_datapoints(self, request: Request) -> Response:
        body = request.json()
        with self.store.lock:
            pages = self.store.datapoints.retrieve(self.store.tables["timeseries"], body)
        if "application/protobuf" in request.headers.get("accept", ""):
            return Response(body=_points_protobuf(pages), content_type="application/protobuf", items=len(pages))
        return Response.json({"items": [points_json(page) for page in pages]}, items=len(pages))

    def _latest_datapoints(self, request: Request) -> Response:
        body = request.json()
        with self.store.lock:
            items = self.store.datapoints.latest(self.store.tables["timeseries"], body)
        return Response.json({"items": items}, items=len(items))

    def _delete_datapoints(self, request: Request) -> Response:
        body = request.json()
        with self.store.lock:
            self.store.datapoints.delete(self.store.tables["timeseries"], body)
            self.store.version += 1
        return Response.json({}, items=_items_count(body))

    # -- RAW -------------------------------------------------------------------------------------------------------

    def _list_dbs(self, request: Request) -> Response:
        limit = limit_of({"limit": int(request.query_value("limit") or 25)})
        with self.store.lock:
            items, cursor = self.store.raw.list_dbs(limit, request.query_value("cursor"))
        return Response.json({"items": items, "nextCursor": cursor})

    def _create_dbs(self, request: Request) -> Response:
        body = request.json()
        with self.store.lock:
            items = self.store.raw.create_dbs(body)
            self.store.version += 1
        return Response.json({"items": items}, 201, items=len(items))

    def _delete_dbs(self, request: Request) -> Response:
        with self.store.lock:
            self.store.raw.delete_dbs(request.json())
            self.store.version += 1
        return Response.json({})

    def _list_tables(self, request: Request) -> Response:
        limit = limit_of({"limit": int(request.query_value("limit") or 25)})
        with self.store.lock:
            items, cursor = self.store.raw.list_tables(request.params["db"], limit, request.query_value("cursor"))
        return Response.json({"items": items, "nextCursor": cursor})

    def _create_tables(self, request: Request) -> Response:
        body = request.json()
        with self.store.lock:
            items = self.store.raw.create_tables(
                request.params["db"], body, ensure_parent=_bool_param(request, "ensureParent")
            )
            self.store.version += 1
        return Response.json({"items": items}, 201, items=len(items))

    def _delete_tables(self, request: Request) -> Response:
        with self.store.lock:
            self.store.raw.delete_tables(request.params["db"], request.json())
            self.store.version += 1
        return Response.json({})

    def _insert_rows(self, request: Request) -> Response:
        body = request.json()
        db, table = request.params["db"], request.params["table"]
        with self.store.lock:
            count = self.store.raw.insert_rows(db, table, body, ensure_parent=_bool_param(request, "ensureParent"))
            self.store.version += 1
        return Response.json({}, 201, items=count)

    def _list_rows(self, request: Request) -> Response:
        names = ("limit", "cursor", "columns", "minLastUpdatedTime", "maxLastUpdatedTime")
        query = {name: request.query_value(name) for name in names}
        with self.store.lock:
            items, cursor = self.store.raw.list_rows(request.params["db"], request.params["table"], query)
        return Response.json({"items": items, "nextCursor": cursor}, items=len(items))

    def _get_row(self, request: Request) -> Response:
        with self.store.lock:
            row = self.store.raw.get_row(request.params["db"], request.params["table"], request.params["key"])
        return Response.json(row)

    def _delete_rows(self, request: Request) -> Response:
        body = request.json()
        with self.store.lock:
            self.store.raw.delete_rows(request.params["db"], request.params["table"], body)
            self.store.version += 1
        return Response.json({}, items=_items_count(body))

    def _cursors(self, request: Request) -> Response:
        count = int(request.query_value("numberOfCursors") or 10)
        with self.store.lock:
            cursors = self.store.raw.cursors(request.params["db"], request.params["table"], count)
        return Response.json({"items": cursors})


def _points_protobuf(pages: list[SeriesPoints]) -> bytes:
    """Encode `/data/list` results as the SDK's `DataPointListResponse` protobuf."""
    from cognite.client._proto.data_point_list_response_pb2 import DataPointListItem, DataPointListResponse

    response = DataPointListResponse()
    for page in pages:
        series = page.series
        item: DataPointListItem = response.items.add()
        item.id = series["id"]
        if series.get("externalId") is not None:
            item.externalId = series["externalId"]
        if series.get("instanceId") is not None:
            item.instanceId.space = series["instanceId"]["space"]
            item.instanceId.externalId = series["instanceId"]["externalId"]
        item.isString = bool(series.get("isString"))
        item.isStep = bool(series.get("isStep"))
        if series.get("unit") is not None:
            item.unit = series["unit"]
        if page.next_cursor:
            item.nextCursor = page.next_cursor
        if item.isString:
            item.stringDatapoints.datapoints.extend(_string_points(page))
        else:
            item.numericDatapoints.datapoints.extend(_numeric_points(page))
    return response.SerializeToString()  # type: ignore[no-any-return]


def _numeric_points(page: SeriesPoints) -> list[Any]:
    from cognite.client._proto.data_points_pb2 import NumericDatapoint

    out = []
    for ts, value in page.points:
        if value is None:
            out.append(NumericDatapoint(timestamp=ts, nullValue=True, status={"code": 2147483648}))
        else:
            out.append(NumericDatapoint(timestamp=ts, value=float(value)))
    return out


def _string_points(page: SeriesPoints) -> list[Any]:
    from cognite.client._proto.data_points_pb2 import StringDatapoint

    return [StringDatapoint(timestamp=ts, value=str(value)) for ts, value in page.points if value is not None]
