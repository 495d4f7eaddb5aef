"""A small loopback HTTP server that the fakes (FakeCDF, FakePlex) are built on.

Stdlib only: a `ThreadingHTTPServer` speaking HTTP/1.1 with keep-alive, run in a daemon thread and bound to
127.0.0.1 on an ephemeral port. A fake supplies one `handle(request) -> Response` callable (usually a `Router`), an
`error_response(status, message) -> Response` factory that shapes error bodies the way its API does, and optionally
a `path_of(request) -> str` that says which path fault rules match and the request log records.

The server takes care of the rest: gzip/deflate request bodies, chunked uploads, `x-request-id`, the shared
`FaultPlan`, a fixed latency, a `RequestLog`, and turning an exception inside the handler into a 500.

Example:
    >>> router = Router()
    >>> @router.route("GET", r"/hello/(?P<name>[^/]+)")
    ... def hello(request: Request) -> Response:
    ...     return Response.json({"hello": request.params["name"]})
    >>> def error(status: int, message: str) -> Response:
    ...     return Response.json({"error": message}, status)
    >>> with LoopbackServer(router, error_response=error) as server:
    ...     url = server.base_url + "/hello/world"
"""

from __future__ import annotations

import contextlib
import gzip
import itertools
import json
import re
import socket
import struct
import sys
import threading
import time
import traceback
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

from plex_cognite.testing._faults import Fault, FaultPlan
from plex_cognite.testing._requestlog import RequestLog, RequestRecord
from plex_cognite.typing import JSONValue

__all__ = [
    "ErrorResponseFactory",
    "Handler",
    "LoopbackServer",
    "Request",
    "RequestLog",
    "RequestRecord",
    "Response",
    "Router",
]


class BadRequestBodyError(ValueError):
    """The request body cannot be decoded (bad gzip, bad JSON, bad form)."""


@dataclass(frozen=True)
class Request:
    """One decoded HTTP request, as a handler sees it.

    Attributes:
        method: upper-case HTTP method.
        path: the URL path, still percent-encoded (route captures in `params` are decoded).
        query: query parameters, each name mapped to all its values.
        headers: request headers with lower-case names.
        body: the request body, already gunzipped / inflated when `content-encoding` said so.
        params: named groups captured by the `Router` pattern, percent-decoded.
    """

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    params: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> JSONValue:
        """Parse the body as JSON (an empty body is `{}`).

        Raises:
            BadRequestBodyError: the body is not valid JSON.
        """
        if not self.body:
            return {}
        try:
            return cast("JSONValue", json.loads(self.body))
        except ValueError as exc:
            raise BadRequestBodyError(f"request body is not valid JSON: {exc}") from exc

    def form(self) -> dict[str, str]:
        """Parse an `application/x-www-form-urlencoded` body (last value wins for repeated names)."""
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequestBodyError(f"form body is not UTF-8: {exc}") from exc
        return {name: values[-1] for name, values in parse_qs(text, keep_blank_values=True).items()}

    def query_value(self, name: str, default: str | None = None) -> str | None:
        """Return the last value of query parameter `name`, or `default`."""
        values = self.query.get(name)
        return values[-1] if values else default


@dataclass
class Response:
    """What a handler answers.

    Attributes:
        status: HTTP status code.
        body: raw body bytes.
        content_type: value of the `content-type` header.
        headers: extra response headers.
        items: how many items the request carried or the answer holds (recorded in the `RequestLog`), or None.
        chunks: when set, `body` is ignored and these byte strings are streamed with `transfer-encoding: chunked`
            (one HTTP chunk per non-empty element), so a huge answer never sits in memory whole.
    """

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    items: int | None = None
    chunks: Iterable[bytes] | None = None

    @classmethod
    def json(
        cls, payload: object, status: int = 200, headers: Mapping[str, str] | None = None, items: int | None = None
    ) -> Response:
        """Build a JSON response (compact separators, UTF-8)."""
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return cls(status=status, body=body, headers=dict(headers or {}), items=items)


Handler = Callable[[Request], Response]
"""A request handler: takes a decoded `Request`, returns a `Response`."""

ErrorResponseFactory = Callable[[int, str], Response]
"""Builds an error `Response` with the given status and message, shaped like the faked API's errors."""


class Router:
    """Dispatch requests to handlers by method and a regular expression that must match the whole path.

    A `Router` is itself a `Handler`; unmatched requests go to `fallback` (by default a plain 404).
    """

    def __init__(self, fallback: Handler | None = None) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._fallback = fallback

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        """Register `handler` for `method` (or `"*"`) on paths that fully match `pattern` (named groups -> params)."""
        self._routes.append((method.upper(), re.compile(pattern), handler))

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        """Decorator form of `add`."""

        def register(handler: Handler) -> Handler:
            self.add(method, pattern, handler)
            return handler

        return register

    def __call__(self, request: Request) -> Response:
        """Dispatch one request to the first matching route."""
        for method, pattern, handler in self._routes:
            if method not in ("*", request.method):
                continue
            match = pattern.fullmatch(request.path)
            if match is not None:
                params = {name: unquote(value) for name, value in match.groupdict().items() if value is not None}
                return handler(replace(request, params=params))
        if self._fallback is not None:
            return self._fallback(request)
        return Response.json({"error": f"no route for {request.method} {request.path}"}, 404)


class _ThreadingServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    request_queue_size = 128
    owner: LoopbackServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gives up on a slow answer (a timeout test, a killed extractor) is expected, not a fault of
        # the fake: stay quiet about it, and keep the stdlib's traceback for anything else.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)):
            return
        super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ThreadingServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        self.server.owner._track(self.connection, add=False)
        with contextlib.suppress(OSError):  # the socket was reset on purpose (drop fault) or by the client
            super().finish()

    def _serve(self) -> None:
        self.server.owner._serve(self)

    # `BaseHTTPRequestHandler` dispatches to `do_<METHOD>` (its naming); every method is served the same way.
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: the `RequestLog` records traffic."""

    def read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def write_response(self, response: Response, request_id: str) -> None:
        reason = HTTPStatus(response.status).phrase if response.status in HTTPStatus._value2member_map_ else ""
        body = b"" if self.command == "HEAD" else response.body
        streamed = response.chunks is not None
        lines = [
            f"HTTP/1.1 {response.status} {reason}",
            f"content-type: {response.content_type}",
            "transfer-encoding: chunked" if streamed else f"content-length: {len(response.body)}",
            f"x-request-id: {request_id}",
        ]
        lines.extend(f"{name}: {value}" for name, value in response.headers.items())
        if self.close_connection:
            lines.append("connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if response.chunks is None:
            self.wfile.write(head + body)
            return
        self.wfile.write(head)
        if self.command == "HEAD":
            return
        for chunk in response.chunks:
            if chunk:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    def reset_connection(self) -> None:
        """Abort the TCP connection (RST, not FIN), so the client sees a reset instead of a clean close."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()


class LoopbackServer:
    """Serve a `Handler` over real HTTP/1.1 on 127.0.0.1 in a daemon thread.

    Args:
        handle: the application (often a `Router`).
        error_response: builds the error bodies for injected status faults, undecodable bodies and handler crashes.
        faults: the fault plan to consult for every request (a new empty plan when None).
        path_of: maps a request to the path fault rules match and the log records (default: `request.path`).
        log: where served requests are recorded (a new `RequestLog` when None).
        latency_s: fixed delay added to every request.
        host: address to bind; loopback only by design.
        port: port to bind; 0 picks a free ephemeral port.
        name: thread name prefix, for debugging.

    Use as a context manager, or call `start()` / `stop()`.
    """

    def __init__(
        self,
        handle: Handler,
        *,
        error_response: ErrorResponseFactory,
        faults: FaultPlan | None = None,
        path_of: Callable[[Request], str] | None = None,
        log: RequestLog | None = None,
        latency_s: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str = "loopback-http",
    ) -> None:
        self.handle = handle
        self.error_response = error_response
        self.faults = faults if faults is not None else FaultPlan()
        self.path_of = path_of or (lambda request: request.path)
        self.log = log if log is not None else RequestLog()
        self.latency_s = latency_s
        self._host = host
        self._requested_port = port
        self._name = name
        self._server: _ThreadingServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._request_ids = itertools.count(1)

    # -- lifecycle -------------------------------------------------------------------------------------------------

    def start(self) -> LoopbackServer:
        """Bind and start serving in a daemon thread (idempotent); returns self."""
        if self._server is not None:
            return self
        server = _ThreadingServer((self._host, self._requested_port), _RequestHandler)
        server.owner = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, name=f"{self._name}-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket and any open keep-alive connections (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._connections_lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True between `start()` and `stop()`."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The bound port (raises if the server is not started)."""
        if self._server is None:
            raise RuntimeError("the server is not started; call start() or use it as a context manager")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT` (no trailing slash)."""
        return f"http://{self._host}:{self.port}"

    # -- request handling ------------------------------------------------------------------------------------------

    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._connections_lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def _serve(self, handler: _RequestHandler) -> None:
        started = time.perf_counter()
        request_id = f"fake-{next(self._request_ids)}"
        raw_body = handler.read_body()
        split = urlsplit(handler.path)
        headers = {name.lower(): value for name, value in handler.headers.items()}
        request = Request(handler.command, split.path, parse_qs(split.query, keep_blank_values=True), headers, b"")
        logged_path = self.path_of(request)
        fault_kind: str | None = None
        items: int | None = None
        try:
            request = replace(request, body=_decode_body(raw_body, headers.get("content-encoding", "")))
        except BadRequestBodyError as exc:
            response = self.error_response(400, str(exc))
        else:
            response, fault_kind, items = self._answer(request, logged_path)
        duration = time.perf_counter() - started
        # Log before answering, so a client that got its answer always finds the request in the log.
        self.log.append(
            RequestRecord(
                request.method, logged_path, response.status, items, fault_kind, duration, request_id, request.query
            )
        )
        if response.status == 0:  # drop: no answer at all
            handler.reset_connection()
        else:
            try:
                handler.write_response(response, request_id)
            except OSError:  # the client went away mid-answer (it is already in the log)
                handler.close_connection = True

    def _answer(self, request: Request, logged_path: str) -> tuple[Response, str | None, int | None]:
        if self.latency_s > 0:
            time.sleep(self.latency_s)
        terminal: Fault | None = None
        for fault in self.faults.select(request.method, logged_path):
            if fault.kind == "latency":
                time.sleep(fault.delay_s)
            else:
                terminal = fault
        if terminal is not None and terminal.kind == "drop":
            return Response(status=0), "drop", None
        if terminal is not None and terminal.kind == "status":
            return self._fault_status(terminal), "status", None
        response = self._call_handler(request)
        if terminal is not None:  # commit_then_fail / commit_then_drop: the write happened, the answer is lost
            if terminal.kind == "commit_then_drop":
                return Response(status=0), terminal.kind, response.items
            return self._fault_status(terminal), terminal.kind, response.items
        return response, None, response.items

    def _call_handler(self, request: Request) -> Response:
        try:
            return self.handle(request)
        except BadRequestBodyError as exc:
            return self.error_response(400, str(exc))
        except Exception as exc:  # a bug in the fake must reach the client as a 500, not hang it
            traceback.print_exc(file=sys.stderr)
            return self.error_response(500, f"{self._name} internal error: {type(exc).__name__}: {exc}")

    def _fault_status(self, fault: Fault) -> Response:
        message = f"Injected fault: HTTP {fault.status}"
        if fault.status == 429:
            message = "Too many requests (injected fault)"
        response = self.error_response(fault.status, message)
        if fault.retry_after is not None:
            response.headers["Retry-After"] = fault.retry_after
        return response


def _decode_body(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    try:
        if encoding == "gzip":
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
    except (OSError, EOFError, zlib.error) as exc:
        raise BadRequestBodyError(f"request body is not valid {encoding}: {exc}") from exc
    if encoding not in ("", "identity"):
        raise BadRequestBodyError(f"unsupported content-encoding {encoding!r}")
    return body
