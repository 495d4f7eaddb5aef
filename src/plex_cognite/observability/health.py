"""A tiny HTTP endpoint for Prometheus (`/metrics`), liveness (`/healthz`) and readiness (`/readyz`).

```python
metrics = ExtractorMetrics(readiness=Readiness(max_age_s=2 * 3600))
with start_metrics_server(settings.metrics, metrics) as server:   # binds 127.0.0.1 by default
    print(server.url)                                             # http://127.0.0.1:9108
    metrics.readiness.mark_pass_succeeded()
```

`/healthz` (liveness: the process answers) is always HTTP 200 while the server runs, with the latest outcome per
stream as detail:

```json
{"status": "ok", "last_success": "2025-01-01T12:00:00Z",
 "streams": {"production": {"last_success": "2025-01-01T12:00:00Z", "last_error": null}}}
```

`status` is `starting` until the first outcome, `degraded` while any stream's latest outcome is an error, else `ok`.
A failing stream is not a reason to restart the process, so it never turns liveness red; readiness tells.

`/readyz` (readiness) is HTTP 200 when `metrics.readiness` is ready, else 503, with the reasons
(see `Readiness` for the rules):

```json
{"ready": false, "reasons": ["circuit breaker plex-connect is open"],
 "last_success": "2025-01-01T12:00:00Z", "breakers": {"plex-connect": "open"}}
```

Error messages are cut to 300 characters and have inline credentials masked.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any

from prometheus_client.exposition import choose_encoder

from plex_cognite.observability._health_state import HealthState, Readiness
from plex_cognite.observability.logs import get_logger
from plex_cognite.observability.metrics import ExtractorMetrics

if TYPE_CHECKING:
    from plex_cognite.config import MetricsSettings

__all__ = ["HealthServer", "HealthState", "Readiness", "start_metrics_server"]

_log = get_logger(__name__)
_INDEX = b"plex-cognite: /metrics /healthz /readyz\n"


def _handler_for(metrics: ExtractorMetrics) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "plex-cognite"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            routes: dict[str, Callable[[], None]] = {
                "/metrics": self._metrics,
                "/healthz": self._health,
                "/readyz": self._ready,
                "/": self._index,
            }
            route = routes.get(path)
            if route is None:
                self._send(404, "text/plain; charset=utf-8", b"not found: try /metrics, /healthz or /readyz\n")
                return
            route()

        def _metrics(self) -> None:
            encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
            self._send(200, content_type, encoder(metrics.registry))

        def _health(self) -> None:
            self._send(200, "application/json", json.dumps(metrics.health.snapshot()).encode())

        def _ready(self) -> None:
            document = metrics.readiness.snapshot()
            self._send(200 if document["ready"] else 503, "application/json", json.dumps(document).encode())

        def _index(self) -> None:
            self._send(200, "text/plain; charset=utf-8", _INDEX)

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
    """Serves `/metrics`, `/healthz` and `/readyz` for one `ExtractorMetrics` on a daemon thread.

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
        metrics = ExtractorMetrics()
    return HealthServer(metrics, host=settings.host, port=settings.port).start()
