"""Metrics read at scrape time: cache counters per tier, and watermark timestamps with their lag.

Both are custom `prometheus_client` collectors, because their values live elsewhere (a cache's own counters) or
change with the clock (lag grows between commits without anyone writing it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from plex_cognite._cache_stats import CacheStats

__all__ = ["CacheCollector", "CacheStatsSource", "WatermarkCollector"]

#: Returns a cache's counters per tier (`{"process": ..., "memory": ..., "redis": ...}`).
CacheStatsSource = Callable[[], Mapping[str, CacheStats]]


class CacheCollector(Collector):
    """`cache_hits_total{cache, tier}` and `cache_misses_total{cache, tier}`.

    Values come from watched caches (read at scrape time) plus counts added by hand with `add`.
    """

    def __init__(self, namespace: str) -> None:
        self._namespace = namespace
        self._lock = threading.Lock()
        self._sources: dict[str, CacheStatsSource] = {}
        self._added: dict[tuple[str, str], list[int]] = {}

    def watch(self, cache: str, source: CacheStatsSource) -> None:
        """Read the tiers of the cache named `cache` from `source` at every scrape (replaces an earlier source)."""
        with self._lock:
            self._sources[cache] = source

    def add(self, cache: str, tier: str, *, hits: int = 0, misses: int = 0) -> None:
        """Add counts for `(cache, tier)` that no watched source reports."""
        with self._lock:
            counts = self._added.setdefault((cache, tier), [0, 0])
            counts[0] += hits
            counts[1] += misses

    def _totals(self) -> dict[tuple[str, str], tuple[int, int]]:
        with self._lock:
            sources = dict(self._sources)
            totals = {key: (hits, misses) for key, (hits, misses) in self._added.items()}
        for cache, source in sources.items():
            for tier, stats in source().items():
                hits, misses = totals.get((cache, tier), (0, 0))
                totals[(cache, tier)] = (hits + stats.hits, misses + stats.misses)
        return totals

    def _families(self) -> tuple[CounterMetricFamily, CounterMetricFamily]:
        labels = ["cache", "tier"]
        return (
            CounterMetricFamily(f"{self._namespace}_cache_hits", "Cache lookups answered, per tier.", labels=labels),
            CounterMetricFamily(
                f"{self._namespace}_cache_misses", "Cache lookups not answered, per tier.", labels=labels
            ),
        )

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        hits, misses = self._families()
        for (cache, tier), (hit_count, miss_count) in sorted(self._totals().items()):
            hits.add_metric([cache, tier], hit_count)
            misses.add_metric([cache, tier], miss_count)
        return (hits, misses)


class WatermarkCollector(Collector):
    """`watermark_timestamp_seconds{pcn, stream}` and `watermark_lag_seconds{pcn, stream}` (now minus watermark).

    Args:
        namespace: Metric name prefix.
        clock: Unix time source for the lag.
    """

    def __init__(self, namespace: str, clock: Callable[[], float] = time.time) -> None:
        self._namespace = namespace
        self._clock = clock
        self._lock = threading.Lock()
        self._watermarks: dict[tuple[str, str], float] = {}

    def set(self, pcn: str, stream: str, watermark: datetime | float) -> None:
        """Record the committed watermark (end of the last completed window) of a stream."""
        moment = watermark.timestamp() if isinstance(watermark, datetime) else float(watermark)
        with self._lock:
            self._watermarks[(pcn, stream)] = moment

    def _families(self) -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        labels = ["pcn", "stream"]
        return (
            GaugeMetricFamily(
                f"{self._namespace}_watermark_timestamp_seconds",
                "End of the last committed history window (Unix time).",
                labels=labels,
            ),
            GaugeMetricFamily(
                f"{self._namespace}_watermark_lag_seconds",
                "Seconds between now and the last committed history window end.",
                labels=labels,
            ),
        )

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        stamps, lags = self._families()
        now = self._clock()
        with self._lock:
            watermarks = sorted(self._watermarks.items())
        for (pcn, stream), moment in watermarks:
            stamps.add_metric([pcn, stream], moment)
            lags.add_metric([pcn, stream], max(0.0, now - moment))
        return (stamps, lags)
