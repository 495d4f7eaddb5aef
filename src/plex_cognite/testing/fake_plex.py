"""FakePlex: the Plex Connect REST API and the Data Source API over real HTTP on 127.0.0.1, backed by simulated plants.

Two loopback servers share one fault plan and one request log: the Connect API at `base_url` (what
`PlexSettings.base_url` points at) and the Data Source API at `datasource_url` (`DataSourceSettings.base_url`), as
on the real hosts `connect.plex.com` and `cloud.plex.com`.

Connect: `GET /mdm/v1/tenants[/{id}]`, `/mdm/v1/buildings`, `/mdm/v1/parts[/{id}]`,
`/production/v1/production-definitions/workcenters[/{id}]` (key `workcenterId`), `.../workcenter-statuses`,
`/scheduling/v1/jobs[/{id}]`, `/scheduling/v1/jobs/{id}/operations`,
`/production/v1/production-history/{production-entries,scrap-entries,workcenter-status-entries}` (required
`beginDate`/`endDate`, half-open `[begin, end)` on the entry's time), `/inventory/v1/inventory-tracking/containers`,
`/inventory/v1/inventory-definitions/locations` and `/inventory/v1/inventory-history/container-location-moves`
(required `beginDate`/`endDate` on `adjustmentDate`, like the production history).
Bare JSON arrays streamed in chunks, no paging; documented filters (`workcenterId`, `jobStatuses`, `partId`, ...)
filter, anything else is ignored. Errors: 400 `REQUEST_VALIDATION_FAILED` with `errors[]`, 401
`REQUEST_NOT_AUTHENTICATED`, 404 `RESOURCE_NOT_FOUND`, 405 `METHOD_NOT_ALLOWED`.

Data Source API: `POST /api/datasources/{id}/execute[?format=2]`, `GET /api/datasources/search?name=`,
`GET /api/datasources/{id}`; see `DATA_SOURCES` for the sources offered.

Example:
    >>> plant = SimulatedPlant(seed=1)
    >>> with FakePlex(plant) as plex:  # doctest: +SKIP
    ...     rows = httpx.get(plex.base_url + "/mdm/v1/parts", headers=plex.headers()).json()

Run it as a separate process (a test can kill the extractor while the server keeps going):
`python -m plex_cognite.testing.fake_plex --port 0 --portfile F [--seed N] [--size S] [--pcn P ...]`; the port file
gets the Connect port on line 1 and the Data Source port on line 2.
"""

from __future__ import annotations

import argparse
import base64
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from plex_cognite.core._files import atomic_write
from plex_cognite.testing._fake import LoopbackFake, stop_event_on_signal
from plex_cognite.testing._faults import Fault, FaultPlan
from plex_cognite.testing._http import LoopbackServer, RequestLog
from plex_cognite.testing._plex_connect import ConnectApp, connect_error
from plex_cognite.testing._plex_datasource import DATA_SOURCES, DataSource, DataSourceApp, datasource_error
from plex_cognite.testing.plant import PlantSize, SimulatedPlant

__all__ = ["DATA_SOURCES", "DataSource", "FakePlex", "Fault", "FaultPlan", "main"]


class FakePlex(LoopbackFake):
    """A loopback fake of Plex Connect and the Data Source API serving one or more `SimulatedPlant`s.

    Args:
        plants: The plants to serve (one per PCN); the first is the API key's default tenant, used when a request
            names no tenant. None serves one small plant with PCN 340884.
        api_key: The valid `X-Plex-Connect-Api-Key`.
        ds_username: Web-service account of the first plant for the Data Source API; the other plants' accounts are
            `{ds_username}-{pcn}` (see `datasource_credentials`).
        ds_password: The password of every web-service account.
        seed: Seed of the fault plan's random draws.
        latency_s: A fixed delay added to every request (for WAN-like tests).
        row_limits: Read row limits by data source id, overriding the sources' defaults.
        port: The Connect port (0: a free one).
        datasource_port: The Data Source API port (0: a free one).

    Use as a context manager (`with FakePlex(plant) as plex:`) or call `start()` / `stop()`; both servers start and
    stop together. Faults (`inject`, `clear_faults`) and the request log (`request_log`, `request_counts`,
    `request_counter`, `reset_request_log`) work as on `FakeCDF` and cover both servers; their paths are the full
    request paths.
    """

    def __init__(
        self,
        plants: SimulatedPlant | Sequence[SimulatedPlant] | None = None,
        api_key: str = "test-key",
        *,
        ds_username: str = "ds-user",
        ds_password: str = "ds-pass",
        seed: int = 0,
        latency_s: float = 0.0,
        row_limits: Mapping[int, int] | None = None,
        port: int = 0,
        datasource_port: int = 0,
    ) -> None:
        if plants is None:
            plants = [SimulatedPlant()]
        elif isinstance(plants, SimulatedPlant):
            plants = [plants]
        if not plants:
            raise ValueError("FakePlex needs at least one SimulatedPlant")
        pcns = [plant.pcn for plant in plants]
        if len(set(pcns)) != len(pcns):
            raise ValueError(f"each plant needs its own PCN, got {pcns}")
        self.api_key = api_key
        self._ds_username = ds_username
        self._ds_password = ds_password
        self._first_pcn = pcns[0]
        faults, log = FaultPlan(seed), RequestLog()
        self._connect = ConnectApp({plant.pcn: plant for plant in plants}, api_key)
        accounts = {self.datasource_credentials(pcn): pcn for pcn in pcns}
        self._datasource = DataSourceApp(accounts, lambda: self._connect.plants, row_limits)
        self._connect_server = LoopbackServer(
            self._connect,
            error_response=connect_error,
            faults=faults,
            log=log,
            latency_s=latency_s,
            port=port,
            name="fake-plex-connect",
        )
        self._datasource_server = LoopbackServer(
            self._datasource,
            error_response=datasource_error,
            faults=faults,
            log=log,
            latency_s=latency_s,
            port=datasource_port,
            name="fake-plex-datasource",
        )
        super().__init__((self._connect_server, self._datasource_server), faults, log)

    # ---- addresses -------------------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The Connect API port."""
        return self._connect_server.port

    @property
    def datasource_port(self) -> int:
        """The Data Source API port."""
        return self._datasource_server.port

    @property
    def base_url(self) -> str:
        """The Connect API root, `http://127.0.0.1:PORT` (no trailing slash)."""
        return self._connect_server.base_url

    @property
    def datasource_url(self) -> str:
        """The Data Source API root, `http://127.0.0.1:PORT` (requests go to `{datasource_url}/api/datasources/...`)."""
        return self._datasource_server.base_url

    # ---- plants and credentials ------------------------------------------------------------------------------
    @property
    def plants(self) -> dict[str, SimulatedPlant]:
        """The served plants by PCN (a copy)."""
        return self._connect.plants

    @property
    def pcns(self) -> list[str]:
        """The served PCNs, default tenant first."""
        return list(self._connect.plants)

    def set_plant(self, plant: SimulatedPlant) -> None:
        """Serve `plant` from the next request on, replacing the plant with the same PCN (e.g. a `mutate`d one).

        A new PCN is served too, but it has no Data Source account.
        """
        self._connect.set_plant(plant)

    def headers(self, pcn: str | None = None, *, tenant: bool = False) -> dict[str, str]:
        """Request headers for the Connect API: the key plus `X-Plex-Connect-Customer-Id: pcn`.

        Args:
            pcn: The PCN to address; default the first plant's.
            tenant: Send `X-Plex-Connect-Tenant-Id` (the plant's tenant UUID) instead of the Customer-Id.
        """
        chosen = pcn or self._first_pcn
        if tenant:
            return {"X-Plex-Connect-Api-Key": self.api_key, "X-Plex-Connect-Tenant-Id": self.plants[chosen].tenant_id}
        return {"X-Plex-Connect-Api-Key": self.api_key, "X-Plex-Connect-Customer-Id": chosen}

    def datasource_credentials(self, pcn: str | None = None) -> tuple[str, str]:
        """`(username, password)` of the web-service account of `pcn` (default: the first plant)."""
        chosen = pcn or self._first_pcn
        username = self._ds_username if chosen == self._first_pcn else f"{self._ds_username}-{chosen}"
        return username, self._ds_password

    def datasource_headers(self, pcn: str | None = None) -> dict[str, str]:
        """`Authorization: Basic ...` and JSON content type for the Data Source API."""
        username, password = self.datasource_credentials(pcn)
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}", "Content-Type": "application/json; charset=utf-8"}


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m plex_cognite.testing.fake_plex", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--port", type=int, default=0, help="Connect API port (0: any free port)")
    parser.add_argument("--datasource-port", type=int, default=0, help="Data Source API port (0: any free port)")
    parser.add_argument("--portfile", type=Path, help="write 'CONNECT_PORT\\nDATASOURCE_PORT' here once listening")
    parser.add_argument("--seed", type=int, default=0, help="plant seed (also seeds fault draws)")
    parser.add_argument("--size", default="small", help="plant size preset: small, medium or large")
    parser.add_argument("--pcn", action="append", help="a PCN to serve (repeat for several plants; default 340884)")
    parser.add_argument("--api-key", default="test-key")
    parser.add_argument("--ds-username", default="ds-user")
    parser.add_argument("--ds-password", default="ds-pass")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    return parser.parse_args(argv)


def _banner(fake: FakePlex, plants: Sequence[SimulatedPlant]) -> str:
    """What a user needs to point a config at this FakePlex: URLs, credentials, PCNs and the history range."""
    first, last = min(p.start for p in plants), max(p.end for p in plants)
    username, password = fake.datasource_credentials()
    lines = [
        f"FakePlex serving PCNs {', '.join(fake.pcns)} on {fake.base_url}",
        f"  plex.base_url: {fake.base_url}",
        f"  plex.api_key: {fake.api_key}",
        f"  plex.pcns: [{', '.join(repr(p) for p in fake.pcns)}]",
        f"  plex.datasource: base_url {fake.datasource_url}, username {username}, password {password}"
        + (" (first PCN; other PCNs: username-PCN)" if len(plants) > 1 else ""),
        f"  simulated history: extraction.start {first.isoformat()}, extraction.end {last.isoformat()}",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run FakePlex until SIGTERM / SIGINT; print its URL, credentials and the plants' history range at start."""
    args = _parse_args(argv)
    size = PlantSize.named(args.size)
    plants = [SimulatedPlant(args.seed, pcn, size) for pcn in (args.pcn or ["340884"])]
    fake = FakePlex(
        plants,
        args.api_key,
        ds_username=args.ds_username,
        ds_password=args.ds_password,
        seed=args.seed,
        latency_s=args.latency,
        port=args.port,
        datasource_port=args.datasource_port,
    )
    stopping = stop_event_on_signal()
    fake.start()
    if args.portfile:
        atomic_write(args.portfile, [f"{fake.port}\n{fake.datasource_port}\n"])
    print(_banner(fake, plants), flush=True)
    while not stopping.wait(0.5):
        pass
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
