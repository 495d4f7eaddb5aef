"""Idempotent create-or-update by external id for the classic resources (assets, events, time series).

One chunk (at most 1000 items) is written as:

1. `POST /{resource}` with every item. CDF create is atomic per request: a 409 `duplicated` rejects all of it.
2. On 409: `POST /{resource}/byids` for exactly the duplicated ids, diff each existing object against the item, and
   `POST /{resource}/update` only the fields that really changed (items with no change need no write at all).
   Then create the rest again (another 409 repeats step 2 for the newly duplicated ids).
3. On 400 `missing` naming a parent external id (assets), the items whose parent does not exist fail (with their
   in-chunk descendants) and the rest is written.

The whole chunk runs inside the batch retry policy. That is safe because it is an upsert: a create that was applied
but answered 503 ("commit then fail") comes back as 409 on the retry and ends as unchanged (reported as created,
since we made it). The cognite-sdk's own retries (429 on creates; 429/502/503/504 and connection errors on
byids/update) stay the only retry below this one. The datapoints and RAW sinks wrap each insert the same way,
because the SDK does not retry a 500 there either.
"""

from __future__ import annotations

import gzip
import inspect
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar, cast

import orjson
from cognite.client import AsyncCogniteClient, global_config
from cognite.client.exceptions import CogniteAPIError, CogniteDuplicatedError, CogniteNotFoundError

from plex_cognite.core.results import ItemFailure, WriteResult

__all__ = [
    "GZIP_LEVEL",
    "BatchRetry",
    "CdfApi",
    "CdfRequestRecorder",
    "ResourceSpec",
    "UpsertOutcome",
    "cdf_endpoint_label",
    "diff_update",
    "encode_body",
    "release_response",
    "upsert_chunk",
]

_T = TypeVar("_T")

#: Told after every call: endpoint template, status (or `"error"`), seconds (`ExtractorMetrics.request_recorder`).
CdfRequestRecorder = Callable[[str, "int | str", float], None]
_RAW_NAMES = re.compile(r"^/raw/dbs/[^/]+/tables/[^/]+")


def cdf_endpoint_label(path: str) -> str:
    """A project-relative API path as a bounded metrics label (RAW database and table names become templates)."""
    return _RAW_NAMES.sub("/raw/dbs/{db}/tables/{table}", path)


FieldKind = Literal["scalar", "map", "id_set", "create_only"]


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    """How one classic resource is written and diffed.

    Attributes:
        name: API name (`assets`, `events`, `timeseries`).
        fields: Written fields (camelCase) and how to compare them. `scalar` is set/setNull, `map` (metadata) is
            compared as a whole and set, `id_set` (`assetIds`) is compared as a set, `create_only` is never updated.
        managed_nulls: Fields an item may clear: None on the item sends `setNull` when CDF has a value.
    """

    name: str
    fields: Mapping[str, FieldKind]
    managed_nulls: frozenset[str] = frozenset()


class BatchRetry(Protocol):
    """What sinks need from a retry policy (`plex_cognite.resilience.RetryPolicy` fits)."""

    async def acall(self, fn: Callable[[], Awaitable[_T]], /) -> _T:
        """Call `fn` until it succeeds or the policy gives up (then re-raise the last error)."""
        ...


#: gzip level of request bodies. On CDF item bodies level 1 costs about 1/30 of the CPU of level 9 (the SDK's
#: `gzip.compress` default) for about 20% more bytes (measured by `benchmarks/bench_request_bodies.py`).
GZIP_LEVEL = 1


def encode_body(body: Mapping[str, Any]) -> bytes:
    """A request body as compact JSON bytes (orjson: about 30x faster than the stdlib encoder the SDK uses).

    orjson writes NaN and infinity as `null`; the sinks never send them (items drop non-finite values, datapoints
    are sanitised before they are encoded).

    Raises:
        ValueError: The body holds a value orjson cannot encode.
    """
    try:
        return orjson.dumps(body)
    except TypeError as exc:  # orjson.JSONEncodeError: a type it cannot encode
        raise ValueError(f"request body is not JSON: {exc}") from exc


class CdfApi:
    """JSON posts to one CDF project through the cognite-sdk's `AsyncCogniteClient`.

    Posting through the SDK keeps its auth, headers, error mapping and per-endpoint retry rules, but skips building
    and parsing SDK objects, which matters at hundreds of thousands of items. Bodies are encoded here (orjson,
    gzip level `GZIP_LEVEL`) and handed to the SDK's request method as bytes, which is much cheaper than the SDK's
    own encoding and leaves the SDK's global configuration alone (`global_config.disable_gzip = True` is honoured:
    bodies are then sent uncompressed). Should a future SDK drop that method, bodies go through the public
    `post(json=...)` instead.
    """

    def __init__(self, client: AsyncCogniteClient, on_request: CdfRequestRecorder | None = None) -> None:
        self.client = client
        self.prefix = f"/api/v1/projects/{client.config.project}"
        self.on_request = on_request
        self._post_bytes = _bytes_poster(client)

    async def post(self, path: str, body: Mapping[str, Any] | bytes, params: dict[str, Any] | None = None) -> Any:
        """POST `body` (a JSON object, or its encoding) to `path` (relative to the project); return the answer."""
        response = await self._send(path, body, params)
        try:
            return response.json()
        finally:
            release_response(response)

    async def post_no_answer(
        self, path: str, body: Mapping[str, Any] | bytes, params: dict[str, Any] | None = None
    ) -> None:
        """POST without parsing the answer (creates whose answer we do not need)."""
        release_response(await self._send(path, body, params))

    async def _send(self, path: str, body: Mapping[str, Any] | bytes, params: dict[str, Any] | None) -> Any:
        if self.on_request is None:
            return await self._send_encoded(path, body, params)
        started = time.perf_counter()
        status: int | str = "error"
        try:
            response = await self._send_encoded(path, body, params)
            status = response.status_code
            return response
        except CogniteAPIError as exc:
            status = exc.code
            raise
        finally:
            self.on_request(cdf_endpoint_label(path), status, time.perf_counter() - started)

    async def _send_encoded(self, path: str, body: Mapping[str, Any] | bytes, params: dict[str, Any] | None) -> Any:
        content = body if isinstance(body, bytes) else encode_body(body)
        if self._post_bytes is None:
            return await self.client.post(self.prefix + path, json=orjson.loads(content), params=params)
        headers = {}
        if not global_config.disable_gzip:
            content = gzip.compress(content, GZIP_LEVEL)
            headers["Content-Encoding"] = "gzip"
        return await self._post_bytes(
            self.prefix + path, params=params, headers=headers, content=content, semaphore=None
        )


def release_response(response: object) -> None:
    """Let an SDK response be freed as soon as it is dropped, not at the next garbage collection.

    cognite-sdk 8 caches a response's `.json()` by assigning `functools.cache(response.json)` to the httpx response:
    a reference cycle (response -> cache -> bound method -> response) that only the cyclic collector frees, and it
    holds the body and its parsed JSON (a create's answer repeats every item written). Measured on a 100k-jobs plant,
    such garbage waiting for a collection was about 20 MiB of peak memory. Dropping the instance attribute breaks the
    cycle (the class's own `json` is back); a response without it (another SDK version) is left as it is.
    """
    raw = getattr(response, "httpx_response", response)
    attributes = getattr(raw, "__dict__", None)
    if isinstance(attributes, dict):
        attributes.pop("json", None)


def _bytes_poster(client: AsyncCogniteClient) -> Callable[..., Awaitable[Any]] | None:
    """The SDK's internal POST that takes an encoded body (`content=`), or None where this SDK has none."""
    post = getattr(getattr(client, "_api_client", None), "_post", None)
    if post is None:
        return None
    try:
        parameters = inspect.signature(post).parameters
    except (TypeError, ValueError):
        return None
    if not {"content", "headers", "params", "semaphore"} <= parameters.keys():
        return None
    return cast("Callable[..., Awaitable[Any]]", post)


def _same(kind: FieldKind, wanted: Any, current: Any) -> bool:
    if kind == "map":
        return dict(wanted or {}) == dict(current or {})
    if kind == "id_set":
        return set(wanted or ()) == set(current or ())
    return bool(wanted == current)


def diff_update(spec: ResourceSpec, wanted: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """The `update` object that turns `current` (as CDF returns it) into `wanted` (a create body), or {}.

    Only fields that differ are included: `set` for new values, `setNull` for cleared managed fields.

    Args:
        spec: The resource's field rules.
        wanted: The item as it would be created (camelCase, Nones omitted).
        current: The object as `byids` returned it.
    """
    update: dict[str, Any] = {}
    for name, kind in spec.fields.items():
        if kind == "create_only":
            continue
        if name in wanted:
            value = wanted[name]
            if name == "parentExternalId" and current.get("parentExternalId") is None and "parentId" in current:
                # CDF may omit parentExternalId in answers; without it we cannot tell, so set it (idempotent).
                update[name] = {"set": value}
            elif not _same(kind, value, current.get(name)):
                update[name] = {"set": list(value) if kind == "id_set" else value}
        elif name in spec.managed_nulls and current.get(name) not in (None, {}, []):
            update[name] = {"set": {}} if kind == "map" else {"setNull": True}
    return update


@dataclass(slots=True)
class UpsertOutcome:
    """What one chunk did, plus the objects CDF returned (assets only) for priming the resolver."""

    result: WriteResult = field(default_factory=WriteResult)
    objects: list[dict[str, Any]] = field(default_factory=list)


def _missing_external_ids(exc: CogniteAPIError) -> set[str]:
    return {m["externalId"] for m in (exc.missing or []) if isinstance(m, dict) and "externalId" in m}


def _missing_parent(parent: object) -> str:
    return f"parent asset {parent!r} does not exist in CDF"


async def upsert_chunk(
    api: CdfApi,
    spec: ResourceSpec,
    writes: Sequence[dict[str, Any]],
    retry: BatchRetry,
    *,
    collect_objects: bool = False,
) -> UpsertOutcome:
    """Upsert at most 1000 items (create bodies keyed by `externalId`) of one resource, under `retry`.

    Returns:
        Created / updated / unchanged / failed external ids, requests sent, and (with `collect_objects`) every
        object CDF returned for them.
    """
    chunk = _ChunkUpsert(api, spec, writes, collect_objects)
    outcome = await retry.acall(chunk.attempt)
    outcome.result.requests = chunk.requests
    outcome.result.failed.extend(chunk.failed.values())
    return outcome


@dataclass(slots=True)
class _ChunkUpsert:
    """One chunk's upsert; what it learns is carried across the retry policy's attempts."""

    api: CdfApi
    spec: ResourceSpec
    writes: Sequence[dict[str, Any]]
    collect_objects: bool
    requests: int = 0
    maybe_created: set[str] = field(default_factory=set)
    """Sent in a create whose answer was lost or an error: if they exist now, we made them."""
    maybe_updated: set[str] = field(default_factory=set)
    """Sent in an update whose answer was lost or an error."""
    failed: dict[str, ItemFailure] = field(default_factory=dict)

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        self.requests += 1
        if self.collect_objects:
            return await self.api.post(f"/{self.spec.name}{path}", body)
        await self.api.post_no_answer(f"/{self.spec.name}{path}", body)
        return {}

    async def attempt(self) -> UpsertOutcome:
        """Create what is not failed yet; on 409 update the duplicated ids and create the rest again."""
        outcome = UpsertOutcome()
        pending = {w["externalId"]: w for w in self.writes if w["externalId"] not in self.failed}
        while pending:
            try:
                answer = await self._post("", {"items": list(pending.values())})
            except CogniteDuplicatedError as exc:
                duplicated = [d["externalId"] for d in exc.duplicated if isinstance(d, dict) and "externalId" in d]
                duplicated = [x for x in duplicated if x in pending]
                if not duplicated:
                    raise
                await self._update_existing({x: pending.pop(x) for x in duplicated}, outcome)
            except CogniteNotFoundError as exc:
                if not self._drop_orphans(pending, _missing_external_ids(exc)):
                    raise
            except Exception:
                # A 5xx, a timeout or a lost answer: the create may have been applied.
                self.maybe_created.update(pending)
                raise
            else:
                outcome.objects.extend(answer.get("items", []))
                outcome.result.created.extend(pending)
                self.maybe_created.update(pending)
                return outcome
        return outcome

    def _drop_orphans(self, writes: dict[str, dict[str, Any]], missing: set[str]) -> bool:
        """Fail items whose parent is missing (and their in-chunk descendants). Returns whether any was dropped."""
        gone = set(missing)
        dropped = False
        changed = True
        while changed:
            changed = False
            for xid, body in list(writes.items()):
                parent = body.get("parentExternalId")
                if parent in gone:
                    del writes[xid]
                    gone.add(xid)
                    self.failed[xid] = ItemFailure(xid, _missing_parent(parent))
                    dropped = changed = True
        return dropped

    async def _update_existing(self, wanted: dict[str, dict[str, Any]], outcome: UpsertOutcome) -> None:
        """Read the duplicated ids back, diff, and update only the items that really changed."""
        self.requests += 1
        answer = await self.api.post(
            f"/{self.spec.name}/byids", {"items": [{"externalId": x} for x in wanted], "ignoreUnknownIds": True}
        )
        current = {o["externalId"]: o for o in answer.get("items", []) if "externalId" in o}
        updates: list[dict[str, Any]] = []
        for xid, body in wanted.items():
            existing = current.get(xid)
            if existing is None:
                # Deleted between the 409 and our read: rare; let the retry create it.
                raise CogniteAPIError(f"{self.spec.name} {xid!r} vanished during upsert", code=503)
            change = diff_update(self.spec, body, existing)
            if change:
                updates.append({"externalId": xid, "update": change})
            else:
                self._record_unchanged(outcome.result, xid)
                if self.collect_objects:
                    outcome.objects.append(existing)
        if updates:
            await self._send_updates(updates, outcome)

    async def _send_updates(self, updates: list[dict[str, Any]], outcome: UpsertOutcome) -> None:
        while updates:
            try:
                answer = await self._post("/update", {"items": updates})
            except CogniteNotFoundError as exc:
                # A re-parent to a parent that does not exist: fail those items, update the rest.
                missing = _missing_external_ids(exc)
                keep = []
                for item in updates:
                    parent = item["update"].get("parentExternalId", {}).get("set")
                    if parent in missing:
                        self.failed[item["externalId"]] = ItemFailure(item["externalId"], _missing_parent(parent))
                    else:
                        keep.append(item)
                if len(keep) == len(updates):
                    raise
                updates = keep
                continue
            except Exception:
                self.maybe_updated.update(item["externalId"] for item in updates)
                raise
            for item in updates:
                xid = item["externalId"]
                (outcome.result.created if xid in self.maybe_created else outcome.result.updated).append(xid)
            outcome.objects.extend(cast("list[dict[str, Any]]", answer.get("items", [])))
            return

    def _record_unchanged(self, result: WriteResult, xid: str) -> None:
        """An existing object already equal to the item: ours from an earlier ambiguous attempt, or truly unchanged."""
        if xid in self.maybe_created:
            result.created.append(xid)
        elif xid in self.maybe_updated:
            result.updated.append(xid)
        else:
            result.unchanged.append(xid)
