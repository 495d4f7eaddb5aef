"""What every sink shares: client handling, per-loop concurrency, chunk error handling and metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol

from cognite.client import AsyncCogniteClient, CogniteClient

from plex_cognite.cdf._batching import PerLoop
from plex_cognite.cdf._upsert import BatchRetry, CdfApi
from plex_cognite.cdf.client import async_client_of
from plex_cognite.core.results import ItemFailure, WriteResult
from plex_cognite.errors import CogniteWriteError, classify
from plex_cognite.resilience import RetryPolicy

__all__ = ["SinkBase", "SinkMetrics", "merged"]

# Errors that no item-level handling can fix: surface them instead of failing every item quietly.
_RAISE_STATUSES = frozenset({401, 403})


class SinkMetrics(Protocol):
    """Optional metrics hook for sinks (duck-typed: any object with this method; others are ignored)."""

    def record_sink_write(self, resource: str, result: WriteResult, seconds: float) -> None:
        """Called once per `write` with its result and duration."""
        ...


def _refusal_status(exc: Exception) -> int | None:
    """401 or 403 when CDF refused the credentials or the access, else None."""
    status = classify(exc).status
    return status if status in _RAISE_STATUSES else None


def merged(results: Iterable[WriteResult]) -> WriteResult:
    """One result adding up `results`, in order."""
    total = WriteResult()
    for result in results:
        total.merge(result)
    return total


def default_retry() -> BatchRetry:
    """The batch retry used when a sink is given none: a default `plex_cognite.resilience.RetryPolicy`."""
    policy: BatchRetry = RetryPolicy(name="cdf-batch")
    return policy


class SinkBase:
    """Shared plumbing; subclasses implement `write`.

    Args:
        client: The cognite-sdk client (`AsyncCogniteClient`, or a `CogniteClient` whose async client is used).
        concurrency: Requests in flight at once for this sink (across concurrent `write` calls).
        retry: Batch retry policy (default: `RetryPolicy()` from `plex_cognite.resilience`).
        metrics: Optional object with `record_sink_write(resource, result, seconds)`; when it also has
            `request_recorder(api)` (as `ExtractorMetrics` does), every CDF call is timed through it.
    """

    resource = "unknown"

    def __init__(
        self,
        client: AsyncCogniteClient | CogniteClient,
        *,
        concurrency: int = 4,
        retry: BatchRetry | None = None,
        metrics: object | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self.client = async_client_of(client)
        recorder = getattr(metrics, "request_recorder", None)
        self.api = CdfApi(self.client, on_request=recorder("cdf") if callable(recorder) else None)
        self.concurrency = concurrency
        self.retry: BatchRetry = retry if retry is not None else default_retry()
        self.metrics = metrics
        # Shared by concurrent `write` calls, so the limit holds per sink, not per call.
        self._slots = PerLoop(lambda: asyncio.Semaphore(concurrency))

    async def _guarded(self, keys: Sequence[str], run: Callable[[], Awaitable[WriteResult]]) -> WriteResult:
        """Run one chunk under the concurrency limit; a chunk that still fails after retries fails its items."""
        async with self._slots.get():
            try:
                return await run()
            except Exception as exc:
                status = _refusal_status(exc)
                if status is not None:
                    raise CogniteWriteError(
                        f"CDF refused the {self.resource} write ({status}): check credentials and access",
                        resource=self.resource,
                        status=status,
                        external_ids=list(keys),
                    ) from exc
                reason = f"{type(exc).__name__}: {exc}"[:500]
                return WriteResult(failed=[ItemFailure(key, reason) for key in keys], requests=1)

    def _report(self, result: WriteResult, started: float) -> WriteResult:
        hook = getattr(self.metrics, "record_sink_write", None)
        if callable(hook):
            hook(self.resource, result, time.perf_counter() - started)
        return result
