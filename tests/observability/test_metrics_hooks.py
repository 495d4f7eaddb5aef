"""Metrics filled by the real clients: Plex request latency and rate-limit wait, CDF call latency from sinks and
the resolver, cache hits/misses per tier, watermark lag, and the Pushgateway push."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cognite.client import AsyncCogniteClient

from plex_cognite.cache import MemoryCache
from plex_cognite.cdf import AssetIDResolver, AssetItem, AssetSink, EventItem, EventSink
from plex_cognite.config import MetricsSettings, PlexSettings
from plex_cognite.observability.metrics import ExtractorMetrics
from plex_cognite.observability.push import push_metrics
from plex_cognite.plex import AsyncPlexClient
from plex_cognite.resilience import RetryPolicy
from plex_cognite.testing._faults import Fault
from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import PlantSize, SimulatedPlant

PCN = "340884"
FAST_RETRY = RetryPolicy(max_attempts=3, initial_wait_s=0.01, min_wait_s=0.01, max_wait_s=0.02, name="test")


@pytest.fixture(scope="module")
def fake_plex() -> Iterator[FakePlex]:
    with FakePlex(SimulatedPlant(seed=5, pcn=PCN, size=PlantSize(parts=30, jobs=20))) as fake:
        yield fake


@pytest.fixture(scope="module")
def _cdf() -> Iterator[FakeCDF]:
    with FakeCDF(project="metrics") as fake:
        yield fake


@pytest.fixture
def fake_cdf(_cdf: FakeCDF) -> Iterator[FakeCDF]:
    _cdf.reset()
    yield _cdf
    _cdf.clear_faults()


@pytest.fixture
def aclient(fake_cdf: FakeCDF) -> AsyncCogniteClient:
    return fake_cdf.async_cognite_client()


async def test_plex_requests_are_timed_per_endpoint_template_with_their_rate_limit_wait(fake_plex: FakePlex) -> None:
    metrics = ExtractorMetrics()
    settings = PlexSettings(
        base_url=fake_plex.base_url, api_key=fake_plex.api_key, pcns=[PCN], rate_limit_per_minute=10_000, http2=False
    )
    fake_plex.inject(Fault("status", status=429, retry_after="0", path=r"/mdm/v1/parts", times=1))
    async with AsyncPlexClient(settings, metrics=metrics, retry=FAST_RETRY) as plex:
        parts = [part async for batch in plex.iter_parts(PCN) for part in batch]
    assert len(parts) > 0
    assert metrics.value("api_request_duration_seconds_count", api="plex", endpoint="/mdm/v1/parts") == 2
    assert metrics.value("requests_total", api="plex", endpoint="/mdm/v1/parts", status="429") == 1
    assert metrics.value("requests_total", api="plex", endpoint="/mdm/v1/parts", status="200") == 1
    assert metrics.value("rate_limiter_wait_seconds_count", api="plex") == 2


async def test_sink_and_resolver_calls_are_timed_and_the_resolver_counts_hits_and_misses_per_tier(
    fake_cdf: FakeCDF, aclient: AsyncCogniteClient
) -> None:
    metrics = ExtractorMetrics()
    resolver = AssetIDResolver(aclient, MemoryCache(max_size=100))
    metrics.watch_resolver(resolver)
    fake_cdf.preload("assets", [{"externalId": "plant", "name": "Plant"}])

    await AssetSink(aclient, metrics=metrics, retry=FAST_RETRY).write([AssetItem("line", "Line")])
    sink = EventSink(aclient, resolver=resolver, metrics=metrics, retry=FAST_RETRY)
    await sink.write([EventItem("e1", type="job", asset_external_ids=("plant",))])  # cold: process + memory miss
    await sink.write([EventItem("e2", type="job", asset_external_ids=("plant",))])  # warm: process hit

    assert metrics.value("api_request_duration_seconds_count", api="cdf", endpoint="/assets") == 1
    assert metrics.value("api_request_duration_seconds_count", api="cdf", endpoint="/events") == 2
    assert metrics.value("api_request_duration_seconds_count", api="cdf", endpoint="/assets/byids") == 1
    assert metrics.value("cache_misses_total", cache="asset_ids", tier="process") == 1
    assert metrics.value("cache_hits_total", cache="asset_ids", tier="process") == 1
    assert metrics.value("cache_misses_total", cache="asset_ids", tier="memory") == 1


async def test_a_failed_cdf_call_is_counted_with_its_status(fake_cdf: FakeCDF, aclient: AsyncCogniteClient) -> None:
    metrics = ExtractorMetrics()
    fake_cdf.inject(Fault("status", status=400, path=r"^/assets$", times=1))
    result = await AssetSink(aclient, metrics=metrics, retry=FAST_RETRY).write([AssetItem("a", "A")])
    assert [failure.key for failure in result.failed] == ["a"]  # a 400 is final: no retry
    assert metrics.value("requests_total", api="cdf", endpoint="/assets", status="400") == 1


def test_watermark_lag_grows_from_the_committed_watermark() -> None:
    metrics = ExtractorMetrics()
    watermark = datetime(2025, 1, 1, tzinfo=UTC)
    metrics.record_watermark(PCN, "production", watermark)
    assert metrics.value("watermark_timestamp_seconds", pcn=PCN, stream="production") == watermark.timestamp()
    lag = metrics.value("watermark_lag_seconds", pcn=PCN, stream="production")
    assert lag == pytest.approx(time.time() - watermark.timestamp(), abs=5)


class _Gateway(BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]] = []

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(("PUT", self.path, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def gateway() -> Iterator[str]:
    _Gateway.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_push_metrics_replaces_the_job_group_on_the_gateway(gateway: str) -> None:
    metrics = ExtractorMetrics()
    metrics.record_pass(ok=True, seconds=3.0)
    settings = MetricsSettings(pushgateway_url=gateway, pushgateway_instance="plant-a")
    assert push_metrics(metrics, settings) is True
    [(method, path, body)] = _Gateway.received
    assert (method, path) == ("PUT", "/metrics/job/plex-cognite/instance/plant-a")
    assert b"plex_cognite_last_pass_success 1.0" in body


def test_push_metrics_without_a_gateway_or_with_a_dead_one_never_raises() -> None:
    metrics = ExtractorMetrics()
    assert push_metrics(metrics, MetricsSettings()) is False
    assert push_metrics(metrics, MetricsSettings(pushgateway_url="http://127.0.0.1:9"), timeout_s=2) is False
