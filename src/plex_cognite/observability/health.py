"""A tiny HTTP endpoint for Prometheus (`/metrics`) and health checks (`/healthz`), on a background thread.

```python
metrics = ExtractorMetrics()
with start_metrics_server(settings.metrics, metrics) as server:   # binds 127.0.0.1 by default
    print(server.url)                                             # http://127.0.0.1:9108
    metrics.record_success("production")
```

`/healthz` answers JSON:

```json
{"status": "ok", "last_success": "2025-01-01T12:00:00Z",
 "streams": {"production": {"last_success": "2025-01-01T12:00:00Z", "last_error": null}}}
```

`status` is `starting` until the first outcome, `degraded` (HTTP 503) while any stream's latest outcome is an
error, else `ok` (HTTP 200). Error messages are cut to 300 characters and have inline credentials masked.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any

from prometheus_client.exposition import choose_encoder

from plex_cognite.observability.logs import get_logger, redact_text

if TYPE_CHECKING:
    from plex_cognite.config import MetricsSettings
    from plex_cognite.observability.metrics import ExtractorMetrics

__all__ = ["HealthServer", "HealthState", "start_metrics_server"]

_log = get_logger(__name__)
_RUN = "all"
_MAX_MESSAGE = 300


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class _StreamHealth:
    last_success: float | None = None
    error_message: str | None = None
    error_type: str | None = None
    error_at: float | None = None

    @property
    def failing(self) -> bool:
        return self.error_at is not None and (self.last_success is None or self.error_at >= self.last_success)


class HealthState:
    """Thread-safe record of the latest success and error per stream (`None` = the run as a whole)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: dict[str, _StreamHealth] = {}

    def record_success(self, stream: str | None = None, *, at: float | None = None) -> None:
        """Note a successful pass of `stream` at Unix time `at` (default now)."""
        moment = datetime.now(UTC).timestamp() if at is None else at
        with self._lock:
            self._streams.setdefault(stream or _RUN, _StreamHealth()).last_success = moment

    def record_error(self, stream: str | None, error: BaseException | str, *, at: float | None = None) -> None:
        """Note a failed pass of `stream` (its message is shortened and scrubbed of inline credentials)."""
        moment = datetime.now(UTC).timestamp() if at is None else at
        message = redact_text(str(error))
        if len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 3] + "..."
        with self._lock:
            entry = self._streams.setdefault(stream or _RUN, _StreamHealth())
            entry.error_message = message
            entry.error_type = type(error).__name__ if isinstance(error, BaseException) else None
            entry.error_at = moment

    def snapshot(self) -> dict[str, Any]:
        """The `/healthz` document: `status`, `last_success` (latest of any stream) and per-stream detail."""
        with self._lock:
            streams = {name: dataclasses.replace(entry) for name, entry in self._streams.items()}
        successes = [entry.last_success for entry in streams.values() if entry.last_success is not None]
        if not streams:
            status = "starting"
        elif any(entry.failing for entry in streams.values()):
            status = "degraded"
        else:
            status = "ok"
        return {
            "status": status,
            "last_success": _iso(max(successes)) if successes else None,
            "streams": {
                name: {
                    "last_success": _iso(entry.last_success),
                    "last_error": None
                    if entry.error_at is None
                    else {"message": entry.error_message, "type": entry.error_type, "at": _iso(entry.error_at)},
                }
                for name, entry in sorted(streams.items())
            },
        }


def _handler_for(metrics: ExtractorMetrics) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "plex-cognite"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            routes: dict[str, Callable[[], None]] = {
                "/metrics": self._metrics,
                "/healthz": self._health,
                "/": self._index,
            }
            route = routes.get(path)
            if route is None:
                self._send(404, "text/plain; charset=utf-8", b"not found: try /metrics or /healthz\n")
                return
            route()

        def _metrics(self) -> None:
            encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
            self._send(200, content_type, encoder(metrics.registry))

        def _health(self) -> None:
            document = metrics.health.snapshot()
            body = json.dumps(document).encode()
            self._send(503 if document["status"] == "degraded" else 200, "application/json", body)

        def _index(self) -> None:
            self._send(200, "text/plain; charset=utf-8", b"plex-cognite: /metrics /healthz\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            _log.debug("health server request", detail=format % args)

    return Handler


class HealthServer:
    """Serves `/metrics` and `/healthz` for one `ExtractorMetrics` on a daemon thread.

    Args:
        metrics: What to serve.
        host: Interface to bind; loopback by default (use `0.0.0.0` only behind a network policy).
        port: TCP port; 0 picks a free one (see `port` after `start`).
    """

    def __init__(self, metrics: ExtractorMetrics, host: str = "127.0.0.1", port: int = 0) -> None:
        self.metrics = metrics
        self.host = host
        self._requested_port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (the requested one before `start`)."""
        return self._server.server_address[1] if self._server is not None else self._requested_port

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:9108`."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> HealthServer:
        """Bind and start serving (idempotent). Returns self."""
        if self._server is not None:
            return self
        server = ThreadingHTTPServer((self.host, self._requested_port), _handler_for(self.metrics))
        server.daemon_threads = True
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="plex-cognite-health", daemon=True
        )
        thread.start()
        self._server, self._thread = server, thread
        _log.info("metrics server started", url=self.url)
        return self

    def stop(self) -> None:
        """Stop serving and release the port (idempotent)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> HealthServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_metrics_server(settings: MetricsSettings, metrics: ExtractorMetrics | None = None) -> HealthServer:
    """Start a `HealthServer` on `settings.host:settings.port` (callers check `settings.enabled` first).

    Args:
        settings: Host and port.
        metrics: The metrics to serve; default a new `ExtractorMetrics`.

    Returns:
        The running server; stop it with `stop()` or use it as a context manager.
    """
    if metrics is None:
        from plex_cognite.observability.metrics import ExtractorMetrics

        metrics = ExtractorMetrics()
    return HealthServer(metrics, host=settings.host, port=settings.port).start()
