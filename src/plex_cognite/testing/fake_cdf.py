"""FakeCDF: a stateful Cognite Data Fusion fake served over real HTTP on 127.0.0.1.

The real cognite-sdk (`CogniteClient` and `AsyncCogniteClient`) talks to it unchanged: assets, events, time series,
datapoints (by id, external id or instance id), RAW, data sets, extraction pipelines and their runs, data-modeling
spaces and Core Data Model nodes (`cdf.nodes("CogniteAsset")`), with CDF's error bodies (409 `duplicated`,
400 `missing`), item limits, whole-request atomicity, bearer-token auth and `POST /token` for client credentials.
Tests inspect what was written (`cdf.events`, `cdf.datapoints("xid")`), count requests per endpoint, and inject
faults (429, 5xx, latency, dropped connections, commit-then-fail) deterministically.

Example:
    >>> from plex_cognite.testing import FakeCDF
    >>> with FakeCDF() as cdf:  # doctest: +SKIP
    ...     client = cdf.cognite_client()
    ...     client.events.create([EventWrite(external_id="e1")])
    ...     assert cdf.event_by_xid("e1") is not None
    ...     assert cdf.request_counts("POST", "/events") == 1

Run it as a separate process (so a test can kill the program under test and keep CDF's state):
`python -m plex_cognite.testing.fake_cdf --port 0 --portfile F [--token T] [--data DIR]`. It prints its URL, project
and credentials at start. See what landed with `python -m plex_cognite.testing.fake_cdf inspect --url URL
[--type events]` or the read-only `GET /_admin/summary` and `GET /_admin/objects?type=assets&limit=20`
(`plex_cognite.testing.cdf_inspect`).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from plex_cognite.core._files import atomic_write
from plex_cognite.testing._cdf_datapoints import Value
from plex_cognite.testing._cdf_routes import CDFApp, cdf_error_response
from plex_cognite.testing._cdf_store import CDFStore
from plex_cognite.testing._cdf_table import MAX_ITEMS
from plex_cognite.testing._fake import LoopbackFake, stop_event_on_signal
from plex_cognite.testing._faults import FaultPlan
from plex_cognite.testing._http import LoopbackServer, RequestLog

if TYPE_CHECKING:
    from cognite.client import AsyncCogniteClient, ClientConfig, CogniteClient
    from cognite.client.credentials import CredentialProvider, OAuthClientCredentials

__all__ = ["FakeCDF", "ResourceKind", "main"]

ResourceKind = Literal["assets", "events", "timeseries", "datasets", "extpipes"]
"""The classic resource types FakeCDF stores."""

STATE_FILE = "fake_cdf_state.json"


class FakeCDF(LoopbackFake):
    """A Cognite Data Fusion fake on a loopback port.

    Args:
        project: the project name served (`/api/v1/projects/{project}/...`).
        token: bearer token accepted on every API call.
        seed: seeds numeric id assignment and fault probabilities.
        latency_s: fixed delay added to every request.
        client_id: client id accepted by `POST /token` (client-credentials flow).
        client_secret: client secret accepted by `POST /token`.
        token_ttl_s: lifetime (`expires_in`) of tokens issued by `POST /token`.
        port: port to bind (0: a free ephemeral port).

    Use it as a context manager (`with FakeCDF() as cdf:`) or call `start()` / `stop()`. Faults (`inject`,
    `clear_faults`) and the request log (`request_log`, `request_counts`, `request_counter`, `reset_request_log`)
    work as on `FakePlex`; fault and log paths are the part after `/api/v1/projects/{project}`.
    """

    def __init__(
        self,
        project: str = "test-project",
        token: str = "test-token",
        *,
        seed: int = 0,
        latency_s: float = 0.0,
        client_id: str = "test-client",
        client_secret: str = "test-secret",
        token_ttl_s: float = 3600.0,
        port: int = 0,
    ) -> None:
        self.project = project
        self.token = token
        self.client_id = client_id
        self.client_secret = client_secret
        self.store = CDFStore(seed)
        faults, log = FaultPlan(seed), RequestLog()
        self._app = CDFApp(
            self.store,
            project=project,
            token=token,
            client_id=client_id,
            client_secret=client_secret,
            token_ttl_s=token_ttl_s,
        )
        from plex_cognite.testing.cdf_inspect import AdminRoutes

        self._server = LoopbackServer(
            AdminRoutes(self, self._app),
            error_response=cdf_error_response,
            faults=faults,
            path_of=self._app.path_of,
            log=log,
            latency_s=latency_s,
            port=port,
            name="fake-cdf",
        )
        super().__init__((self._server,), faults, log)

    # -- addresses -------------------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port."""
        return self._server.port

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`, the `base_url` for `ClientConfig`."""
        return self._server.base_url

    @property
    def token_url(self) -> str:
        """URL of the client-credentials token endpoint (`{base_url}/token`)."""
        return f"{self.base_url}/token"

    # -- clients ---------------------------------------------------------------------------------------------------

    def oauth_credentials(self, scopes: Sequence[str] = ("user_impersonation",)) -> OAuthClientCredentials:
        """`OAuthClientCredentials` that obtain tokens from this fake's `/token`."""
        from cognite.client.credentials import OAuthClientCredentials

        return OAuthClientCredentials(
            token_url=self.token_url, client_id=self.client_id, client_secret=self.client_secret, scopes=list(scopes)
        )

    def client_config(
        self, client_name: str = "plex-cognite-tests", credentials: CredentialProvider | None = None
    ) -> ClientConfig:
        """A `ClientConfig` pointing at this fake (static-token credentials unless `credentials` is given)."""
        from cognite.client import ClientConfig, global_config
        from cognite.client.credentials import Token

        global_config.disable_pypi_version_check = True  # talk to this fake only, never to pypi.org
        return ClientConfig(
            client_name=client_name,
            project=self.project,
            credentials=credentials or Token(self.token),
            base_url=self.base_url,
        )

    def cognite_client(self, credentials: CredentialProvider | None = None) -> CogniteClient:
        """A real sync `CogniteClient` talking to this fake."""
        from cognite.client import CogniteClient

        return CogniteClient(self.client_config(credentials=credentials))

    def async_cognite_client(self, credentials: CredentialProvider | None = None) -> AsyncCogniteClient:
        """A real `AsyncCogniteClient` talking to this fake."""
        from cognite.client import AsyncCogniteClient

        return AsyncCogniteClient(self.client_config(credentials=credentials))

    # -- inspection ------------------------------------------------------------------------------------------------

    def objects(self, kind: ResourceKind) -> list[dict[str, Any]]:
        """Copies of all stored objects of one type, in id order, shaped as the API returns them."""
        with self.store.lock:
            table = self.store.tables[kind]
            return [copy.deepcopy(self.store.render(kind, table.by_id[i])) for i in table.order()]

    @property
    def assets(self) -> list[dict[str, Any]]:
        """All assets."""
        return self.objects("assets")

    @property
    def events(self) -> list[dict[str, Any]]:
        """All events."""
        return self.objects("events")

    @property
    def timeseries(self) -> list[dict[str, Any]]:
        """All time series."""
        return self.objects("timeseries")

    @property
    def datasets(self) -> list[dict[str, Any]]:
        """All data sets."""
        return self.objects("datasets")

    @property
    def extpipe_runs(self) -> list[dict[str, Any]]:
        """All extraction pipeline runs, oldest first."""
        with self.store.lock:
            return [dict(run) for run in self.store.runs]

    def get(self, kind: ResourceKind, external_id: str) -> dict[str, Any] | None:
        """One object by externalId, or None."""
        with self.store.lock:
            table = self.store.tables[kind]
            object_id = table.by_xid.get(external_id)
            return None if object_id is None else copy.deepcopy(self.store.render(kind, table.by_id[object_id]))

    def asset_by_xid(self, external_id: str) -> dict[str, Any] | None:
        """One asset by externalId, or None."""
        return self.get("assets", external_id)

    def event_by_xid(self, external_id: str) -> dict[str, Any] | None:
        """One event by externalId, or None."""
        return self.get("events", external_id)

    def timeseries_by_xid(self, external_id: str) -> dict[str, Any] | None:
        """One time series by externalId, or None."""
        return self.get("timeseries", external_id)

    def _points(self, external_id: str) -> list[tuple[int, Value]]:
        with self.store.lock:
            series_id = self.store.tables["timeseries"].by_xid.get(external_id)
            if series_id is None:
                raise KeyError(f"no time series with externalId {external_id!r} in FakeCDF")
            return self.store.datapoints.sorted_points(series_id)

    def datapoints(self, external_id: str) -> list[tuple[int, float]]:
        """Numeric datapoints of one series as `(timestamp_ms, value)`, by timestamp (KeyError if unknown)."""
        return [(ts, float(value)) for ts, value in self._points(external_id) if isinstance(value, float | int)]

    def string_datapoints(self, external_id: str) -> list[tuple[int, str]]:
        """Datapoints of a string series as `(timestamp_ms, value)`, by timestamp."""
        return [(ts, value) for ts, value in self._points(external_id) if isinstance(value, str)]

    def nodes(self, view: str | None = None) -> dict[tuple[str, str], dict[str, Any]]:
        """Data-modeling nodes by `(space, externalId)`: `{"version", "views", "properties"}` (flat properties).

        Args:
            view: Only nodes with data in this Core Data Model view (`"CogniteAsset"`); None: every node, including
                the empty ones CDF creates for direct relations to nodes that did not exist.
        """
        from plex_cognite.testing._cdf_views import has_data_in

        with self.store.lock:
            return {
                key: {"version": n["version"], "views": list(n["views"]), "properties": copy.deepcopy(n["props"])}
                for key, n in sorted(self.store.instances.nodes.items())
                if view is None or has_data_in(set(n["views"]), view)
            }

    def raw_rows(self, db: str, table: str) -> dict[str, dict[str, Any]]:
        """Columns per row key of one RAW table (empty when the table does not exist)."""
        with self.store.lock:
            rows = self.store.raw.dbs.get(db, {}).get(table)
            return {} if rows is None else {key: copy.deepcopy(cols) for key, (cols, _) in rows.rows.items()}

    def raw_tables(self) -> dict[str, list[str]]:
        """Table names per RAW database."""
        with self.store.lock:
            return {db: sorted(tables) for db, tables in self.store.raw.dbs.items()}

    def preload(self, kind: ResourceKind, items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Create objects directly (same validation as `POST /{kind}`, no HTTP, not logged); returns them."""
        created: list[dict[str, Any]] = []
        for start in range(0, len(items), MAX_ITEMS):
            batch = [dict(item) for item in items[start : start + MAX_ITEMS]]
            created.extend(self.store.create(kind, {"items": batch}))
        return copy.deepcopy(created)

    # -- reset and persistence -------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Empty the store, the request log and the fault rules."""
        self.store.reset()
        self.log.reset()
        self.faults.clear()

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the whole state to a JSON file (atomically: temp file + rename)."""
        atomic_write(Path(path), [json.dumps(self.store.snapshot(), separators=(",", ":"))])

    def load(self, path: str | os.PathLike[str]) -> None:
        """Replace the state with one written by `save`."""
        self.store.restore(json.loads(Path(path).read_text(encoding="utf-8")))


# -- separate process --------------------------------------------------------------------------------------------


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m plex_cognite.testing.fake_cdf", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--port", type=int, default=0, help="port to bind on 127.0.0.1 (0: pick a free one)")
    parser.add_argument("--portfile", type=Path, help="write the bound port to this file once listening")
    parser.add_argument("--project", default="test-project")
    parser.add_argument("--token", default="test-token", help="bearer token to accept")
    parser.add_argument("--client-id", default="test-client")
    parser.add_argument("--client-secret", default="test-secret")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, help=f"directory for {STATE_FILE}: loaded at start, saved after writes")
    parser.add_argument("--save-interval", type=float, default=0.2, help="seconds between state saves with --data")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run FakeCDF until SIGTERM / SIGINT (the state is saved first when `--data` is given).

    `main(["inspect", "--url", URL, ...])` instead prints what a running FakeCDF holds (`cdf_inspect.inspect_main`).
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["inspect"]:
        from plex_cognite.testing.cdf_inspect import inspect_main

        return inspect_main(arguments[1:])
    args = _parse_args(arguments)
    fake = FakeCDF(
        args.project,
        args.token,
        seed=args.seed,
        client_id=args.client_id,
        client_secret=args.client_secret,
        port=args.port,
    )
    state_file = args.data / STATE_FILE if args.data else None
    if state_file is not None:
        args.data.mkdir(parents=True, exist_ok=True)
        if state_file.exists():
            fake.load(state_file)
    stopping = stop_event_on_signal()
    fake.start()
    if args.portfile:
        atomic_write(args.portfile, [str(fake.port)])
    print(
        f"FakeCDF serving project {args.project!r} on {fake.base_url}\n"
        f"  cdf.base_url: {fake.base_url}\n"
        f"  cdf.project: {args.project}\n"
        f"  cdf.token: {args.token}\n"
        f"  or client credentials: cdf.client_id {args.client_id}, cdf.client_secret {args.client_secret}, "
        f"cdf.token_url {fake.token_url}\n"
        f"  see what landed: python -m plex_cognite.testing.fake_cdf inspect --url {fake.base_url} [--type events]",
        flush=True,
    )
    saved_version = fake.store.version
    while not stopping.wait(args.save_interval):
        if state_file is not None and fake.store.version != saved_version:
            saved_version = fake.store.version
            fake.save(state_file)
    fake.stop()
    if state_file is not None:
        fake.save(state_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
