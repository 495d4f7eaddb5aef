"""Prometheus metrics for an extractor run, in a private registry by default.

```python
metrics = ExtractorMetrics()
metrics.record_read("340884", "production", 1000)
breaker = CircuitBreaker("plex", listeners=[metrics])      # breaker state and refusals become metrics
with start_metrics_server(settings.metrics, metrics):        # /metrics and /healthz (see observability.health)
    ...
```

Metric names carry the namespace (default `plex_cognite`) and the unit/`_total` suffix Prometheus expects:

| metric (`plex_cognite_` prefix)  | labels                         | what                                            |
|----------------------------------|--------------------------------|-------------------------------------------------|
| `build_info`                     | version                        | always 1; the library version                   |
| `records_read_total`             | pcn, stream                    | records read from Plex                          |
| `records_written_total`          | pcn, stream, resource, outcome | items by outcome (created, updated, ...)        |
| `dead_letters_total`             | pcn, stream, reason_kind       | records rejected                                |
| `dead_letters_new_total`         | pcn, stream                    | letters stored for the first time               |
| `requests_total`                 | api, endpoint, status          | HTTP requests sent (api `plex` or `cdf`)        |
| `api_request_duration_seconds`   | api, endpoint                  | one HTTP call, histogram                        |
| `rate_limiter_wait_seconds`      | api                            | wait for a rate-limit token, histogram          |
| `retries_total`                  | api                            | retried calls                                   |
| `breaker_state`                  | name                           | 0 closed, 1 half open, 2 open                   |
| `breaker_rejections_total`       | name                           | calls refused by an open breaker                |
| `cache_hits_total`               | cache, tier                    | lookups answered by a cache tier                |
| `cache_misses_total`             | cache, tier                    | lookups a cache tier could not answer           |
| `batch_latency_seconds`          | resource                       | one sink write (one batch), histogram           |
| `extraction_duration_seconds`    | stream                         | one pass of a stream (`all`: whole pass), hist. |
| `passes_total`                   | outcome                        | passes over every stream, by outcome            |
| `last_pass_success`              |                                | 1 when the latest pass succeeded, else 0        |
| `last_success_timestamp_seconds` | stream                         | end of the last successful pass (`all`: whole)  |
| `extpipe_reports_total`          | status, outcome                | runs reported to the CDF extraction pipeline   |
| `errors_total`                   | stream, category               | failed stream passes, by error category         |
| `watermark_timestamp_seconds`    | pcn, stream                    | end of the last committed history window        |
| `watermark_lag_seconds`          | pcn, stream                    | now minus that watermark (at scrape time)       |
| `process_*`                      |                                | process collector: RSS, CPU, open fds           |

Endpoints are templates (`/production/v1/production-history/production-entries`, `/assets/byids`,
`/raw/dbs/{db}/tables/{table}/rows`), never ids. Labels never carry secrets: they are PCNs, stream and resource
names, API names, endpoint templates, statuses and error categories.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypedDict

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from plex_cognite._cache_stats import CacheStats, stats_by_tier
from plex_cognite.errors import classify
from plex_cognite.observability._collectors import CacheCollector, CacheStatsSource, WatermarkCollector
from plex_cognite.observability._health_state import HealthState, Readiness
from plex_cognite.observability.logs import get_logger
from plex_cognite.typing import DeadLetter, WriteResult

__all__ = ["BREAKER_STATE_VALUES", "ExtractorMetrics", "ScopedMetrics"]

#: Gauge values of `breaker_state` (ordered by severity, so `> 0` means "not closed").
BREAKER_STATE_VALUES: dict[str, int] = {"closed": 0, "half_open": 1, "open": 2}
_BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_WAIT_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_PASS_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 43200.0)
#: The stream label of whole-pass samples.
ALL_STREAMS = "all"

_log = get_logger(__name__)


class _Options(TypedDict):
    namespace: str
    registry: CollectorRegistry


class ObservableResolver(Protocol):
    """What `watch_resolver` needs: per-tier cache counters and a settable request hook (`AssetIDResolver` fits)."""

    on_request: Callable[[str, int | str, float], None] | None

    @property
    def cache_stats(self) -> dict[str, CacheStats]:
        """Hit/miss counters per tier."""
        ...


def _version() -> str:
    from plex_cognite import __version__

    return __version__


class ExtractorMetrics:
    """The metrics of one extractor process; also a `BreakerListener` and a sink metrics hook.

    Args:
        registry: Where the metrics are registered; default a new private `CollectorRegistry`, so several
            instances (tests, several extractors in one process) never collide. Pass
            `prometheus_client.REGISTRY` to expose them with an existing global endpoint.
        namespace: Prefix of every metric name.
        process_metrics: Also register process (CPU, memory, file descriptors) and platform collectors; default
            on for the private registry, off for a registry you pass (which usually has its own).
        readiness: What `/readyz` answers from; default a `Readiness()` that never goes stale.

    Attributes:
        registry: The registry holding every metric below.
        health: Run outcomes per stream, served at `/healthz`.
        readiness: Pass outcomes and breaker states, served at `/readyz`.
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        namespace: str = "plex_cognite",
        *,
        process_metrics: bool | None = None,
        readiness: Readiness | None = None,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.namespace = namespace
        self.health = HealthState()
        self.readiness = readiness if readiness is not None else Readiness()
        options = _Options(namespace=namespace, registry=self.registry)
        Gauge("build_info", "The library version (value always 1).", ["version"], **options).labels(
            version=_version()
        ).set(1)
        self.records_read = Counter("records_read", "Records read from Plex.", ["pcn", "stream"], **options)
        self.records_written = Counter(
            "records_written",
            "Items written to CDF, by outcome (created, updated, unchanged, failed, deferred).",
            ["pcn", "stream", "resource", "outcome"],
            **options,
        )
        self.dead_letters = Counter(
            "dead_letters", "Records rejected to the dead-letter store.", ["pcn", "stream", "reason_kind"], **options
        )
        self.dead_letters_new = Counter(
            "dead_letters_new",
            "Letters the dead-letter store had not held before (a record rejected again on a re-read is not new).",
            ["pcn", "stream"],
            **options,
        )
        self.requests = Counter("requests", "HTTP requests sent.", ["api", "endpoint", "status"], **options)
        self.request_duration = Histogram(
            "api_request_duration_seconds",
            "Duration of one HTTP call to Plex or CDF (for CDF including the cognite-sdk's own retries).",
            ["api", "endpoint"],
            buckets=_REQUEST_BUCKETS,
            **options,
        )
        self.limiter_wait = Histogram(
            "rate_limiter_wait_seconds",
            "Time one request waited for a rate-limit token.",
            ["api"],
            buckets=_WAIT_BUCKETS,
            **options,
        )
        self.retries = Counter("retries", "Calls retried after a retryable error.", ["api"], **options)
        self.breaker_state = Gauge(
            "breaker_state", "Circuit breaker state: 0 closed, 1 half open, 2 open.", ["name"], **options
        )
        self.breaker_rejections = Counter(
            "breaker_rejections", "Calls refused because a circuit breaker was open.", ["name"], **options
        )
        self.caches = CacheCollector(namespace)
        self.registry.register(self.caches)
        self.watermarks = WatermarkCollector(namespace)
        self.registry.register(self.watermarks)
        self.batch_latency = Histogram(
            "batch_latency_seconds",
            "Duration of one sink write (one batch) in seconds.",
            ["resource"],
            buckets=_BATCH_BUCKETS,
            **options,
        )
        self.extraction_duration = Histogram(
            "extraction_duration_seconds",
            "Duration of one pass of a stream (stream=all: one pass over every stream).",
            ["stream"],
            buckets=_PASS_BUCKETS,
            **options,
        )
        self.passes = Counter("passes", "Passes over every stream, by outcome.", ["outcome"], **options)
        self.last_pass_success = Gauge(
            "last_pass_success", "1 when the latest pass over every stream succeeded, else 0.", **options
        )
        self.last_success = Gauge(
            "last_success_timestamp_seconds",
            "Unix time of the last successful pass, per stream (stream=all: the whole pass).",
            ["stream"],
            **options,
        )
        self.pipeline_reports = Counter(
            "extpipe_reports",
            "Runs reported to the CDF extraction pipeline, by status and outcome (ok, error).",
            ["status", "outcome"],
            **options,
        )
        self.errors = Counter("errors", "Failed stream passes, by error category.", ["stream", "category"], **options)
        if process_metrics if process_metrics is not None else registry is None:
            ProcessCollector(namespace=namespace, registry=self.registry)
            PlatformCollector(registry=self.registry)

    # --- recording helpers -----------------------------------------------------------------------------------

    def record_read(self, pcn: str, stream: str, count: int = 1) -> None:
        """Count records read from Plex."""
        self.records_read.labels(pcn=pcn, stream=stream).inc(count)

    def record_written(self, pcn: str, stream: str, resource: str, outcome: str, count: int = 1) -> None:
        """Count items written to CDF with one outcome (`created`, `updated`, `unchanged`, `failed`, `deferred`)."""
        if count:
            self.records_written.labels(pcn=pcn, stream=stream, resource=resource, outcome=outcome).inc(count)

    def record_write_result(self, result: WriteResult, *, resource: str, pcn: str = "", stream: str = "") -> None:
        """Count every outcome in a sink's `WriteResult`."""
        deferred = sum(1 for failure in result.failed if failure.deferred)
        for outcome, count in (
            ("created", len(result.created)),
            ("updated", len(result.updated)),
            ("unchanged", len(result.unchanged)),
            ("failed", len(result.failed) - deferred),
            ("deferred", deferred),
        ):
            self.record_written(pcn, stream, resource, outcome, count)

    def record_sink_write(self, resource: str, result: WriteResult, seconds: float) -> None:
        """Sink hook (`plex_cognite.cdf` sinks call it once per write): outcomes and batch latency."""
        self.record_write_result(result, resource=resource)
        self.batch_latency.labels(resource=resource).observe(seconds)

    def record_dead_letter(self, pcn: str, stream: str, reason_kind: str) -> None:
        """Count one rejected record (`reason_kind`: a short class such as `validation` or `missing_asset`)."""
        self.dead_letters.labels(pcn=pcn, stream=stream, reason_kind=reason_kind).inc()

    def record_new_dead_letter(self, letter: DeadLetter) -> None:
        """Count a letter the dead-letter store stored for the first time (its `on_new` hook)."""
        self.dead_letters_new.labels(pcn=letter.pcn, stream=letter.stream).inc()

    def record_request(
        self,
        api: str,
        endpoint: str,
        status: int | str,
        seconds: float | None = None,
        limiter_wait_s: float | None = None,
    ) -> None:
        """Count one HTTP request and observe its duration and rate-limit wait when given.

        Args:
            api: `plex` or `cdf`.
            endpoint: A path template (`/assets/byids`), never a full URL or a path with ids.
            status: The HTTP status, or `timeout` / `error` when no answer came.
            seconds: How long the call took.
            limiter_wait_s: How long it waited for a rate-limit token before being sent.
        """
        self.requests.labels(api=api, endpoint=endpoint, status=str(status)).inc()
        if seconds is not None:
            self.request_duration.labels(api=api, endpoint=endpoint).observe(seconds)
        if limiter_wait_s is not None:
            self.limiter_wait.labels(api=api).observe(limiter_wait_s)

    def request_recorder(self, api: str) -> functools.partial[None]:
        """`record_request` with `api` filled in: the `on_request` hook of the Plex session and CDF calls."""
        return functools.partial(self.record_request, api)

    def record_retry(self, api: str) -> None:
        """Count one retried call."""
        self.retries.labels(api=api).inc()

    def record_cache(self, cache: str, *, hits: int = 0, misses: int = 0, tier: str = "process") -> None:
        """Count hits and misses of one tier of the cache named `cache` (for caches not `watch_cache`d)."""
        self.caches.add(cache, tier, hits=hits, misses=misses)

    def watch_cache(self, cache: str, source: object) -> None:
        """Export the hit/miss counters of a cache backend (every tier of a tiered one) under `cache`.

        Args:
            cache: The `cache` label, e.g. `asset_ids`.
            source: A cache backend with `stats` (`MemoryCache`, `RedisCache`, `TieredCache`), or a callable
                returning `{tier: CacheStats}`; read at every scrape.
        """
        if callable(source):
            reader: CacheStatsSource = source
        else:
            reader = functools.partial(stats_by_tier, source)
        self.caches.watch(cache, reader)

    def watch_resolver(self, resolver: ObservableResolver, cache: str = "asset_ids") -> None:
        """Export an `AssetIDResolver`'s cache tiers and time its `byids` calls as `cdf` requests.

        Its in-process map is tier `process`; its shared cache (if any) adds its own tiers (`memory`, `redis`).
        """
        self.caches.watch(cache, lambda: resolver.cache_stats)
        resolver.on_request = self.request_recorder("cdf")

    def record_watermark(self, pcn: str, stream: str, watermark: datetime | float) -> None:
        """Record a stream's committed watermark; `watermark_lag_seconds` grows from it until the next commit."""
        self.watermarks.set(pcn, stream, watermark)

    @contextmanager
    def time_batch(self, resource: str) -> Iterator[None]:
        """Observe the duration of the `with` block in `batch_latency_seconds{resource}`."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.batch_latency.labels(resource=resource).observe(time.perf_counter() - started)

    def record_success(
        self, stream: str | None = None, *, at: float | None = None, seconds: float | None = None
    ) -> None:
        """Record a successful pass of `stream` (None: the whole run) for `/healthz` and the gauges.

        Args:
            stream: The stream; None for the run as a whole.
            at: Unix time of the success (default now).
            seconds: How long the pass took, for `extraction_duration_seconds`.
        """
        moment = time.time() if at is None else at
        label = stream or ALL_STREAMS
        self.last_success.labels(stream=label).set(moment)
        if seconds is not None:
            self.extraction_duration.labels(stream=label).observe(seconds)
        self.health.record_success(stream, at=moment)

    def record_error(
        self,
        stream: str | None,
        error: BaseException | str,
        *,
        at: float | None = None,
        seconds: float | None = None,
        category: str | None = None,
    ) -> None:
        """Record a failed pass of `stream` (None: the whole run) for `/healthz` and `errors_total`.

        Args:
            stream: The stream; None for the run as a whole.
            error: The exception (its category is `classify`'d) or a one-line message.
            at: Unix time of the failure (default now).
            seconds: How long the pass ran, for `extraction_duration_seconds`.
            category: The `errors_total` category; default from `classify(error)`, `unknown` for a message.
        """
        label = stream or ALL_STREAMS
        if category is None:
            category = classify(error).category.value if isinstance(error, BaseException) else "unknown"
        self.errors.labels(stream=label, category=category).inc()
        if seconds is not None:
            self.extraction_duration.labels(stream=label).observe(seconds)
        self.health.record_error(stream, error, at=at)

    def record_pass(self, *, ok: bool, seconds: float, reason: BaseException | str | None = None) -> None:
        """Record one pass over every stream: counters, duration, `last_pass_success` and readiness.

        Call it once per pass, after the per-stream `record_success` / `record_error` calls.

        Args:
            ok: Whether every stream succeeded.
            seconds: Wall time of the pass.
            reason: Why it failed (a one-line message or the error), for `/readyz`.
        """
        self.passes.labels(outcome="success" if ok else "failure").inc()
        self.extraction_duration.labels(stream=ALL_STREAMS).observe(seconds)
        self.last_pass_success.set(1 if ok else 0)
        if ok:
            self.last_success.labels(stream=ALL_STREAMS).set(time.time())
            self.readiness.mark_pass_succeeded()
        else:
            self.readiness.mark_pass_failed(reason if reason is not None else "a stream failed")

    def record_pipeline_report(self, status: str, outcome: str) -> None:
        """Count one extraction pipeline run report (`status`: success/failure/seen; `outcome`: ok/error)."""
        self.pipeline_reports.labels(status=status, outcome=outcome).inc()

    def scoped(self, pcn: str, stream: str) -> ScopedMetrics:
        """A view that fills in `pcn` and `stream` labels (also usable as a sink metrics hook)."""
        return ScopedMetrics(self, pcn, stream)

    # --- BreakerListener --------------------------------------------------------------------------------------

    def on_state_change(self, name: str, old: str, new: str) -> None:
        """Set `breaker_state{name}` (0 closed, 1 half open, 2 open) and tell `readiness`."""
        value = BREAKER_STATE_VALUES.get(str(new))
        if value is None:
            _log.warning("unknown breaker state", breaker=name, state=str(new))
            return
        self.breaker_state.labels(name=name).set(value)
        self.readiness.on_state_change(name, old, new)

    def on_rejected(self, name: str, retry_in: float) -> None:
        """Count a call refused by the open breaker `name`."""
        self.breaker_rejections.labels(name=name).inc()

    # --- reading back -----------------------------------------------------------------------------------------

    def value(self, name: str, /, **labels: str) -> float:
        """The current value of a sample (`"records_read_total"`, labels), 0.0 when absent; handy in tests.

        Args:
            name: Sample name without the namespace, e.g. `records_read_total` or `breaker_state`.
            **labels: The sample's labels.
        """
        found = self.registry.get_sample_value(f"{self.namespace}_{name}", labels)
        return 0.0 if found is None else found


@dataclass(frozen=True, slots=True)
class ScopedMetrics:
    """`ExtractorMetrics` with the `pcn` and `stream` labels fixed, for one stream of one PCN."""

    metrics: ExtractorMetrics
    pcn: str
    stream: str

    def record_read(self, count: int = 1) -> None:
        """Count records read."""
        self.metrics.record_read(self.pcn, self.stream, count)

    def record_dead_letter(self, reason_kind: str) -> None:
        """Count one rejected record."""
        self.metrics.record_dead_letter(self.pcn, self.stream, reason_kind)

    def record_sink_write(self, resource: str, result: WriteResult, seconds: float) -> None:
        """Sink hook: outcomes with this scope's labels, and batch latency."""
        self.metrics.record_write_result(result, resource=resource, pcn=self.pcn, stream=self.stream)
        self.metrics.batch_latency.labels(resource=resource).observe(seconds)

    def record_request(
        self,
        api: str,
        endpoint: str,
        status: int | str,
        seconds: float | None = None,
        limiter_wait_s: float | None = None,
    ) -> None:
        """Count one HTTP request (see `ExtractorMetrics.record_request`)."""
        self.metrics.record_request(api, endpoint, status, seconds, limiter_wait_s)

    def request_recorder(self, api: str) -> functools.partial[None]:
        """See `ExtractorMetrics.request_recorder`."""
        return self.metrics.request_recorder(api)

    def record_watermark(self, watermark: datetime | float) -> None:
        """Record this stream's committed watermark."""
        self.metrics.record_watermark(self.pcn, self.stream, watermark)
