"""Prometheus metrics for an extractor run, in a private registry by default.

```python
metrics = ExtractorMetrics()
metrics.record_read("340884", "production", 1000)
breaker = CircuitBreaker("plex", listeners=[metrics])      # breaker state and refusals become metrics
with start_metrics_server(settings.metrics, metrics):        # /metrics and /healthz (see observability.health)
    ...
```

Metric names carry the namespace (default `plex_cognite`) and the unit/`_total` suffix Prometheus expects:

| metric (`plex_cognite_` prefix)    | labels                         | what                                   |
|------------------------------------|--------------------------------|----------------------------------------|
| `records_read_total`               | pcn, stream                    | records read from Plex                 |
| `records_written_total`            | pcn, stream, resource, outcome | items created/updated/unchanged/failed |
| `dead_letters_total`               | pcn, stream, reason_kind       | records rejected                       |
| `requests_total`                   | api, endpoint, status          | HTTP requests sent                     |
| `retries_total`                    | api                            | retried calls                          |
| `breaker_state`                    | name                           | 0 closed, 1 half open, 2 open          |
| `breaker_rejections_total`         | name                           | calls refused by an open breaker       |
| `cache_hits_total`                 | cache                          | cache hits                             |
| `cache_misses_total`               | cache                          | cache misses                           |
| `batch_latency_seconds`            | resource                       | one sink write (histogram)             |
| `last_success_timestamp_seconds`   | stream                         | end of the last successful pass        |
| `errors_total`                     | stream                         | failed passes                          |

Labels never carry secrets: they are PCNs, stream and resource names, API names, endpoint paths and statuses.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from plex_cognite.observability.health import HealthState
from plex_cognite.observability.logs import get_logger
from plex_cognite.typing import WriteResult

__all__ = ["BREAKER_STATE_VALUES", "ExtractorMetrics", "ScopedMetrics"]

#: Gauge values of `breaker_state` (ordered by severity, so `> 0` means "not closed").
BREAKER_STATE_VALUES: dict[str, int] = {"closed": 0, "half_open": 1, "open": 2}
_BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

_log = get_logger(__name__)


class ExtractorMetrics:
    """The metrics of one extractor process; also a `BreakerListener` and a sink metrics hook.

    Args:
        registry: Where the metrics are registered; default a new private `CollectorRegistry`, so several
            instances (tests, several extractors in one process) never collide. Pass
            `prometheus_client.REGISTRY` to expose them with an existing global endpoint.
        namespace: Prefix of every metric name.
        process_metrics: Also register process (CPU, memory, file descriptors) and platform collectors.

    Attributes:
        registry: The registry holding every metric below.
        health: Run outcomes per stream, served at `/healthz`.
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        namespace: str = "plex_cognite",
        *,
        process_metrics: bool = False,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.namespace = namespace
        self.health = HealthState()
        self.records_read = Counter(
            "records_read", "Records read from Plex.", ["pcn", "stream"], namespace=namespace, registry=self.registry
        )
        self.records_written = Counter(
            "records_written",
            "Items written to CDF, by outcome (created, updated, unchanged, failed, deferred).",
            ["pcn", "stream", "resource", "outcome"],
            namespace=namespace,
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "dead_letters",
            "Records rejected to the dead-letter store.",
            ["pcn", "stream", "reason_kind"],
            namespace=namespace,
            registry=self.registry,
        )
        self.requests = Counter(
            "requests",
            "HTTP requests sent.",
            ["api", "endpoint", "status"],
            namespace=namespace,
            registry=self.registry,
        )
        self.retries = Counter(
            "retries", "Calls retried after a retryable error.", ["api"], namespace=namespace, registry=self.registry
        )
        self.breaker_state = Gauge(
            "breaker_state",
            "Circuit breaker state: 0 closed, 1 half open, 2 open.",
            ["name"],
            namespace=namespace,
            registry=self.registry,
        )
        self.breaker_rejections = Counter(
            "breaker_rejections",
            "Calls refused because a circuit breaker was open.",
            ["name"],
            namespace=namespace,
            registry=self.registry,
        )
        self.cache_hits = Counter("cache_hits", "Cache hits.", ["cache"], namespace=namespace, registry=self.registry)
        self.cache_misses = Counter(
            "cache_misses", "Cache misses.", ["cache"], namespace=namespace, registry=self.registry
        )
        self.batch_latency = Histogram(
            "batch_latency_seconds",
            "Duration of one sink write (one batch) in seconds.",
            ["resource"],
            buckets=_BATCH_BUCKETS,
            namespace=namespace,
            registry=self.registry,
        )
        self.last_success = Gauge(
            "last_success_timestamp_seconds",
            "Unix time of the last successful pass, per stream.",
            ["stream"],
            namespace=namespace,
            registry=self.registry,
        )
        self.errors = Counter(
            "errors", "Failed passes, per stream.", ["stream"], namespace=namespace, registry=self.registry
        )
        if process_metrics:
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

    def record_request(self, api: str, endpoint: str, status: int | str) -> None:
        """Count one HTTP request (`api`: `plex` or `cdf`; `endpoint`: a path template, not a full URL)."""
        self.requests.labels(api=api, endpoint=endpoint, status=str(status)).inc()

    def record_retry(self, api: str) -> None:
        """Count one retried call."""
        self.retries.labels(api=api).inc()

    def record_cache(self, cache: str, *, hits: int = 0, misses: int = 0) -> None:
        """Count cache hits and misses of the cache named `cache`."""
        if hits:
            self.cache_hits.labels(cache=cache).inc(hits)
        if misses:
            self.cache_misses.labels(cache=cache).inc(misses)

    @contextmanager
    def time_batch(self, resource: str) -> Iterator[None]:
        """Observe the duration of the `with` block in `batch_latency_seconds{resource}`."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.batch_latency.labels(resource=resource).observe(time.perf_counter() - started)

    def record_success(self, stream: str | None = None, *, at: float | None = None) -> None:
        """Record a successful pass of `stream` (None: the whole run) for `/healthz` and the gauge."""
        moment = time.time() if at is None else at
        self.last_success.labels(stream=stream or "all").set(moment)
        self.health.record_success(stream, at=moment)

    def record_error(self, stream: str | None, error: BaseException | str, *, at: float | None = None) -> None:
        """Record a failed pass of `stream` (None: the whole run) for `/healthz` and the counter."""
        self.errors.labels(stream=stream or "all").inc()
        self.health.record_error(stream, error, at=at)

    def scoped(self, pcn: str, stream: str) -> ScopedMetrics:
        """A view that fills in `pcn` and `stream` labels (also usable as a sink metrics hook)."""
        return ScopedMetrics(self, pcn, stream)

    # --- BreakerListener --------------------------------------------------------------------------------------

    def on_state_change(self, name: str, old: str, new: str) -> None:
        """Set `breaker_state{name}` (0 closed, 1 half open, 2 open)."""
        value = BREAKER_STATE_VALUES.get(str(new))
        if value is None:
            _log.warning("unknown breaker state", breaker=name, state=str(new))
            return
        self.breaker_state.labels(name=name).set(value)

    def on_rejected(self, name: str, retry_in: float) -> None:
        """Count a call refused by the open breaker `name`."""
        self.breaker_rejections.labels(name=name).inc()

    # --- reading back -----------------------------------------------------------------------------------------

    def value(self, name: str, **labels: str) -> float:
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
