"""`plex-cognite check`: every precondition of `run`, one line each, with the fix when it fails.

The checks, in order: Plex reachable, then each PCN entitled (one list-buildings call per PCN); the Data Source
account when `plex.datasource` is set; CDF reachable, the credentials, the project, the data set, the extraction
pipeline; the RAW databases of the `raw` state and dead-letter backends (a missing database is created, as `run`
would on its first write, which proves the right to create it); the Redis servers of the state and cache backends;
a local state file that is readable. A host that cannot be reached fails once and its dependent checks are skipped.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from plex_cognite._reach import reach
from plex_cognite.errors import ConfigurationError, network_failure, one_line

if TYPE_CHECKING:
    from cognite.client import AsyncCogniteClient

    from plex_cognite.config import ExtractorSettings

__all__ = ["CheckResult", "run_checks"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One precondition: what was checked, whether it holds, and what was found (or what to fix)."""

    subject: str
    ok: bool
    detail: str

    def render(self) -> str:
        """`ok   subject: detail` or `FAIL subject: detail`."""
        return f"{'ok  ' if self.ok else 'FAIL'} {self.subject}: {self.detail}"


Emit = Callable[[CheckResult], None]


class _CheckFailedError(Exception):
    """A failed check whose message is already the whole story (printed as is)."""


async def _attempt(emit: Emit, subject: str, probe: Callable[[], Awaitable[str]]) -> bool:
    try:
        detail = await probe()
    except Exception as error:
        emit(CheckResult(subject, False, str(error) if isinstance(error, _CheckFailedError) else one_line(error)))
        return False
    emit(CheckResult(subject, True, detail))
    return True


async def run_checks(settings: ExtractorSettings, emit: Emit) -> bool:
    """Check every precondition of `run`; `emit` each result as it is known. True when all hold."""
    results: list[bool] = []
    results.append(await _check_plex(settings, emit))
    if settings.plex.datasource is not None:
        results.append(await _check_datasource(settings, emit))
    results.append(await _check_cdf(settings, emit))
    results.append(await _check_redis(settings, emit))
    if settings.state.backend == "local":
        results.append(await _attempt(emit, f"state file {settings.state.path}", lambda: _local_state(settings)))
    return all(results)


async def _check_plex(settings: ExtractorSettings, emit: Emit) -> bool:
    from plex_cognite.plex.client import AsyncPlexClient

    plex = settings.plex

    async def reachable() -> str:
        await reach(plex.base_url, service="Plex", setting="plex.base_url", budget_s=plex.connect_budget_s)
        return "reachable"

    if not await _attempt(emit, f"Plex {plex.base_url}", reachable):
        return False
    ok = True
    async with AsyncPlexClient(plex) as client:
        for pcn in plex.pcns:

            async def entitled(pcn: str = pcn) -> str:
                async for buildings in client.iter_buildings(pcn):
                    return f"API key accepted, {len(buildings)} building(s) on the first page"
                return "API key accepted, no buildings"

            ok = await _attempt(emit, f"Plex PCN {pcn}", entitled) and ok
    return ok


async def _check_datasource(settings: ExtractorSettings, emit: Emit) -> bool:
    """Each PCN's Data Source account (its own entry in `credentials`, else the default account) is accepted."""
    import httpx

    from plex_cognite.config import DataSourceSettings

    configured = settings.plex.datasource
    assert configured is not None

    async def accepted(account: DataSourceSettings, setting: str) -> str:
        await reach(
            account.base_url,
            service="Plex Data Source",
            setting="plex.datasource.base_url",
            budget_s=settings.plex.connect_budget_s,
        )
        if account.username is None or account.password is None:
            raise _CheckFailedError(f"no account; set {setting} (username, password)")
        auth = httpx.BasicAuth(account.username.get_secret_value(), account.password.get_secret_value())
        async with httpx.AsyncClient(base_url=account.base_url, auth=auth, timeout=settings.plex.timeout_s) as http:
            response = await http.get("/api/datasources/search", params={"name": ""})
        if response.status_code in (401, 403):
            raise _CheckFailedError(
                f"HTTP {response.status_code}: the account was refused; check {setting}.username and password"
            )
        response.raise_for_status()
        return "account accepted"

    results: list[bool] = []
    for pcn in settings.plex.pcns:
        own = pcn in configured.credentials
        setting = f"plex.datasource.credentials.{pcn}" if own else "plex.datasource"
        subject = f"Plex Data Source {configured.base_url} for PCN {pcn}"
        try:
            account = configured.for_pcn(pcn)
        except ConfigurationError as error:
            emit(CheckResult(subject, False, str(error)))
            results.append(False)
            continue
        results.append(await _attempt(emit, subject, lambda a=account, s=setting: accepted(a, s)))  # type: ignore[misc]
    return all(results)


async def _check_cdf(settings: ExtractorSettings, emit: Emit) -> bool:
    from plex_cognite.cdf.client import build_async_cognite_client

    cdf_settings = settings.cdf

    async def reachable() -> str:
        await reach(
            cdf_settings.base_url, service="CDF", setting="cdf.base_url", budget_s=cdf_settings.connect_budget_s
        )
        return "reachable"

    if not await _attempt(emit, f"CDF {cdf_settings.base_url}", reachable):
        return False
    cdf = build_async_cognite_client(cdf_settings)
    project = cdf_settings.project
    inspected: dict[str, Any] = {}

    async def authenticated() -> str:
        fields = "cdf.token" if cdf_settings.auth_mode == "token" else "cdf.client_id, client_secret and token_url"
        try:
            token = await cdf.iam.token.inspect()
        except Exception as error:
            if network_failure(error) is not None:
                raise
            raise _CheckFailedError(f"{one_line(error)}; check {fields}") from error
        inspected["projects"] = [p.url_name for p in token.projects]
        return f"credentials accepted ({cdf_settings.auth_mode}, subject {token.subject})"

    if not await _attempt(emit, "CDF credentials", authenticated):
        return False

    async def project_access() -> str:
        if project not in inspected["projects"]:
            known = ", ".join(inspected["projects"]) or "none"
            raise _CheckFailedError(f"the credentials have no access to it (they reach: {known}); fix cdf.project")
        await cdf.assets.list(limit=1)
        return "accessible"

    if not await _attempt(emit, f"CDF project {project}", project_access):
        return False
    results = [await _check_data_set(settings, cdf, emit), await _check_pipeline(settings, cdf, emit)]
    for section, backend, database in (
        ("state", settings.state.backend, settings.state.raw_db),
        ("dead_letters", settings.dead_letters.backend, settings.dead_letters.raw_db),
    ):
        if backend == "raw":
            subject = f"RAW database {database} ({section})"
            results.append(await _attempt(emit, subject, functools.partial(_raw_database, cdf, database, section)))
    return all(results)


async def _check_data_set(settings: ExtractorSettings, cdf: AsyncCogniteClient, emit: Emit) -> bool:
    xid, data_set_id = settings.cdf.data_set_external_id, settings.cdf.data_set_id
    if xid is None and data_set_id is None:
        return True
    subject = f"CDF data set {xid if xid is not None else data_set_id}"

    async def exists() -> str:
        if xid is not None:
            found = await cdf.data_sets.retrieve(external_id=xid)
            setting = "cdf.data_set_external_id"
        else:
            found = await cdf.data_sets.retrieve(id=data_set_id)
            setting = "cdf.data_set_id"
        if found is None:
            raise _CheckFailedError(f"does not exist in project {settings.cdf.project}; create it or fix {setting}")
        return f"exists (id {found.id})"

    return await _attempt(emit, subject, exists)


async def _check_pipeline(settings: ExtractorSettings, cdf: AsyncCogniteClient, emit: Emit) -> bool:
    xid = settings.cdf.extraction_pipeline_external_id
    if xid is None:
        return True

    async def exists() -> str:
        found = await cdf.extraction_pipelines.retrieve(external_id=xid)
        if found is None:
            raise _CheckFailedError(
                f"does not exist in project {settings.cdf.project}; create it or fix "
                "cdf.extraction_pipeline_external_id"
            )
        return f"exists (id {found.id})"

    return await _attempt(emit, f"CDF extraction pipeline {xid}", exists)


async def _raw_database(cdf: AsyncCogniteClient, database: str, section: str) -> str:
    from cognite.client.exceptions import CogniteAPIError

    names = {db.name for db in await cdf.raw.databases.list(limit=-1)}
    if database in names:
        return "exists"
    try:
        await cdf.raw.databases.create(database)
    except CogniteAPIError as error:
        raise _CheckFailedError(
            f"missing and could not be created (HTTP {error.code}); create it or grant raw:write, "
            f"or fix {section}.raw_db"
        ) from error
    return "created (run would create it on its first write)"


async def _check_redis(settings: ExtractorSettings, emit: Emit) -> bool:
    urls: dict[str, str] = {}
    if settings.state.backend == "redis" and settings.state.redis_url:
        urls["state.redis_url"] = settings.state.redis_url
    if settings.cache.backend in ("redis", "tiered") and settings.cache.redis_url:
        urls["cache.redis_url"] = settings.cache.redis_url
    ok = True
    for setting, url in urls.items():
        ok = await _attempt(emit, f"Redis {_safe_url(url)} ({setting})", functools.partial(_ping, url, setting)) and ok
    return ok


def _safe_url(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password:
        host = parts.hostname or ""
        netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return parts._replace(netloc=netloc).geturl()
    return url


async def _ping(url: str, setting: str) -> str:
    try:
        from redis.asyncio import Redis
    except ImportError as error:  # pragma: no cover - the redis extra is missing
        raise ImportError("the redis package is missing; pip install 'plex-cognite[redis]'") from error
    from redis.exceptions import RedisError

    client = Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    try:
        await client.ping()
    except (RedisError, OSError) as error:
        raise _CheckFailedError(
            f"cannot reach it ({type(error).__name__}: {error}); check {setting} and that Redis is up"
        ) from error
    finally:
        await client.aclose()
    return "reachable"


async def _local_state(settings: ExtractorSettings) -> str:
    from plex_cognite.runner import build_state_store

    store = build_state_store(settings)
    try:
        await store.load(settings.plex.pcns[0], "master_data")
    finally:
        await store.close()
    return "readable"
