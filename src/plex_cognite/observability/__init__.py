"""Structured logging, Prometheus metrics and the health endpoint."""

from plex_cognite.observability.health import HealthServer, HealthState, start_metrics_server
from plex_cognite.observability.logs import (
    bind_context,
    capture_logs,
    clear_context,
    configure_logging,
    get_logger,
    new_run_id,
    redact_secrets,
    unbind_context,
)
from plex_cognite.observability.metrics import ExtractorMetrics, ScopedMetrics

__all__ = [
    "ExtractorMetrics",
    "HealthServer",
    "HealthState",
    "ScopedMetrics",
    "bind_context",
    "capture_logs",
    "clear_context",
    "configure_logging",
    "get_logger",
    "new_run_id",
    "redact_secrets",
    "start_metrics_server",
    "unbind_context",
]
