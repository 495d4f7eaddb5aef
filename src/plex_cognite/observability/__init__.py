"""Structured logging, Prometheus metrics and the health endpoint."""

from plex_cognite.observability.health import HealthServer, HealthState, Readiness, start_metrics_server
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
from plex_cognite.observability.push import push_metrics

__all__ = [
    "ExtractorMetrics",
    "HealthServer",
    "HealthState",
    "Readiness",
    "ScopedMetrics",
    "bind_context",
    "capture_logs",
    "clear_context",
    "configure_logging",
    "get_logger",
    "new_run_id",
    "push_metrics",
    "redact_secrets",
    "start_metrics_server",
    "unbind_context",
]
