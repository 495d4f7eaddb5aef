"""The /healthz, /readyz and /metrics server: liveness with status per stream, readiness, lifecycle, binding."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from plex_cognite.config import MetricsSettings
from plex_cognite.errors import PlexAPIError
from plex_cognite.observability.health import HealthServer, HealthState, start_metrics_server
from plex_cognite.observability.metrics import ExtractorMetrics


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


def health(http: httpx.Client, server: HealthServer) -> tuple[int, dict[str, Any]]:
    response = http.get(f"{server.url}/healthz")
    assert response.headers["content-type"] == "application/json"
    return response.status_code, response.json()


def test_liveness_reports_starting_ok_degraded_and_recovery_and_stays_200(http: httpx.Client) -> None:
    metrics = ExtractorMetrics()
    with start_metrics_server(MetricsSettings(port=0), metrics) as server:
        assert health(http, server) == (200, {"status": "starting", "last_success": None, "streams": {}})

        metrics.record_success("production", at=1_735_732_800.0)
        status, body = health(http, server)
        assert status == 200
        assert body == {
            "status": "ok",
            "last_success": "2025-01-01T12:00:00Z",
            "streams": {"production": {"last_success": "2025-01-01T12:00:00Z", "last_error": None}},
        }

        error = PlexAPIError(503, "Service Unavailable, header was Bearer abc.def.ghi", request_id="r-1")
        metrics.record_error("scrap", error, at=1_735_732_900.0)
        status, body = health(http, server)
        assert status == 200  # a failing stream is no reason to restart the process: readiness says it
        assert body["status"] == "degraded"
        assert body["last_success"] == "2025-01-01T12:00:00Z"
        streams = body["streams"]
        assert isinstance(streams, dict)
        last_error = streams["scrap"]["last_error"]
        assert last_error["type"] == "PlexAPIError"
        assert last_error["at"] == "2025-01-01T12:01:40Z"
        assert "Plex API error 503" in last_error["message"]
        assert "abc.def.ghi" not in last_error["message"]

        metrics.record_success("scrap", at=1_735_733_000.0)
        status, body = health(http, server)
        assert (status, body["status"], body["last_success"]) == (200, "ok", "2025-01-01T12:03:20Z")


def test_long_error_messages_are_cut() -> None:
    state = HealthState()
    state.record_error(None, "x" * 1000)
    message = state.snapshot()["streams"]["all"]["last_error"]["message"]
    assert len(message) == 300
    assert message.endswith("...")


def test_unknown_paths_and_index(http: httpx.Client) -> None:
    with HealthServer(ExtractorMetrics()) as server:
        assert http.get(f"{server.url}/nope").status_code == 404
        index = http.get(f"{server.url}/?x=1")
        assert (index.status_code, index.text) == (200, "plex-cognite: /metrics /healthz /readyz\n")


def test_binds_loopback_and_releases_the_port() -> None:
    server = HealthServer(ExtractorMetrics())
    assert server.start() is server.start()  # idempotent
    port = server.port
    assert server.url == f"http://127.0.0.1:{port}"
    assert port > 0
    server.stop()
    server.stop()  # idempotent

    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    with socket.socket() as probe:  # the port is free again
        probe.bind(("127.0.0.1", port))


def test_start_metrics_server_makes_its_own_metrics(http: httpx.Client) -> None:
    with start_metrics_server(MetricsSettings(port=0)) as server:
        server.metrics.record_read("1", "jobs")
        text = http.get(f"{server.url}/metrics").text
    assert 'plex_cognite_records_read_total{pcn="1",stream="jobs"} 1.0' in text
