"""The loopback HTTP server base shared by FakeCDF and FakePlex, driven with real httpx."""

from __future__ import annotations

import gzip
import re
import threading
from collections.abc import Iterator

import httpx
import pytest

from plex_cognite.testing._faults import Fault
from plex_cognite.testing._http import LoopbackServer, Request, Response, Router


def _error(status: int, message: str) -> Response:
    return Response.json({"error": {"code": status, "message": message}}, status)


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    router = Router()

    @router.route("POST", r"/echo/(?P<name>[^/]+)")
    def echo(request: Request) -> Response:
        return Response.json({"name": request.params["name"], "body": request.json()}, items=1)

    @router.route("GET", r"/query")
    def query(request: Request) -> Response:
        return Response.json({"q": request.query_value("q"), "all": request.query.get("q")})

    @router.route("POST", r"/form")
    def form(request: Request) -> Response:
        return Response.json(request.form())

    @router.route("GET", r"/boom")
    def boom(request: Request) -> Response:
        raise RuntimeError("kaput")

    with LoopbackServer(router, error_response=_error) as running:
        yield running


def test_binds_loopback_on_an_ephemeral_port(server: LoopbackServer) -> None:
    assert server.base_url.startswith("http://127.0.0.1:")
    assert server.port > 0
    assert server.running


def test_gzip_json_body_and_decoded_route_params(server: LoopbackServer) -> None:
    body = gzip.compress(b'{"k": [1, 2]}')
    response = httpx.post(f"{server.base_url}/echo/a%2Fb", content=body, headers={"content-encoding": "gzip"})
    assert response.status_code == 200
    assert response.json() == {"name": "a/b", "body": {"k": [1, 2]}}
    assert response.headers["x-request-id"].startswith("fake-")


def test_chunked_upload_query_and_form(server: LoopbackServer) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"a":'
        yield b"1}"

    with httpx.Client(base_url=server.base_url) as client:
        assert client.post("/echo/x", content=chunks()).json()["body"] == {"a": 1}
        assert client.get("/query", params=[("q", "1"), ("q", "2")]).json() == {"q": "2", "all": ["1", "2"]}
        assert client.post("/form", data={"grant_type": "x", "scope": "a b"}).json() == {
            "grant_type": "x",
            "scope": "a b",
        }


def test_bad_gzip_and_bad_json_are_400_in_the_fakes_error_shape(server: LoopbackServer) -> None:
    bad_gzip = httpx.post(f"{server.base_url}/echo/x", content=b"nope", headers={"content-encoding": "gzip"})
    assert bad_gzip.status_code == 400
    assert "gzip" in bad_gzip.json()["error"]["message"]
    bad_json = httpx.post(f"{server.base_url}/echo/x", content=b"{nope")
    assert bad_json.status_code == 400


def test_unknown_route_is_404_and_handler_crash_is_500(server: LoopbackServer) -> None:
    assert httpx.get(f"{server.base_url}/nowhere").status_code == 404
    crash = httpx.get(f"{server.base_url}/boom")
    assert crash.status_code == 500
    assert "kaput" in crash.json()["error"]["message"]


def test_keep_alive_reuses_one_connection_across_requests(server: LoopbackServer) -> None:
    with httpx.Client(base_url=server.base_url) as client:
        for _ in range(5):
            assert client.get("/query").status_code == 200
    assert len(server._connections) <= 1


def test_status_fault_with_retry_after_then_normal(server: LoopbackServer) -> None:
    server.faults.add(Fault("status", status=429, retry_after="7", path=r"^/echo/", times=1))
    first = httpx.post(f"{server.base_url}/echo/x", json={})
    second = httpx.post(f"{server.base_url}/echo/x", json={})
    assert (first.status_code, first.headers["retry-after"]) == (429, "7")
    assert first.json()["error"]["code"] == 429
    assert second.status_code == 200
    assert [r.fault for r in server.log.records] == ["status", None]


def test_drop_fault_resets_the_connection(server: LoopbackServer) -> None:
    server.faults.add(Fault("drop", times=1))
    with pytest.raises(httpx.ReadError):
        httpx.post(f"{server.base_url}/echo/x", json={})
    assert server.log.records[-1].status == 0
    assert httpx.post(f"{server.base_url}/echo/x", json={}).status_code == 200


def test_commit_then_fail_runs_the_handler_then_answers_503() -> None:
    calls: list[str] = []

    def handle(request: Request) -> Response:
        calls.append(request.path)
        return Response.json({}, items=3)

    with LoopbackServer(handle, error_response=_error) as server:
        server.faults.add(Fault("commit_then_fail", times=1))
        response = httpx.post(f"{server.base_url}/write", json={})
        assert response.status_code == 503
        assert calls == ["/write"]
        record = server.log.records[0]
        assert (record.status, record.items, record.fault) == (503, 3, "commit_then_fail")


def test_latency_fault_delays_but_answers(server: LoopbackServer) -> None:
    server.faults.add(Fault("latency", delay_s=0.2, times=1))
    response = httpx.get(f"{server.base_url}/query")
    assert response.status_code == 200
    assert server.log.records[0].duration_s >= 0.2


def test_request_log_counts_by_method_and_path(server: LoopbackServer) -> None:
    for _ in range(3):
        httpx.post(f"{server.base_url}/echo/x", json={})
    httpx.get(f"{server.base_url}/query")
    assert server.log.count("POST", "/echo/x") == 3
    assert server.log.count(path=re.compile(r"/echo/.*")) == 3
    assert server.log.counter() == {"POST /echo/x": 3, "GET /query": 1}
    server.log.reset()
    assert len(server.log) == 0


def test_concurrent_clients_are_served_in_parallel(server: LoopbackServer) -> None:
    server.faults.add(Fault("latency", delay_s=0.3, times=None))
    results: list[int] = []

    def call() -> None:
        results.append(httpx.get(f"{server.base_url}/query").status_code)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 6
    assert max(r.duration_s for r in server.log.records) < 1.5


def test_stop_closes_idle_keep_alive_connections() -> None:
    server = LoopbackServer(lambda request: Response.json({}), error_response=_error).start()
    with httpx.Client(base_url=server.base_url) as client:
        client.get("/")
        server.stop()
        assert not server.running
        with pytest.raises(httpx.TransportError):
            client.get("/")


def test_chunked_streaming_response() -> None:
    def stream(request: Request) -> Response:
        return Response(chunks=(f'{{"n":{i}}}\n'.encode() for i in range(1000)), items=1000)

    with LoopbackServer(stream, error_response=_error) as server, httpx.Client(base_url=server.base_url) as client:
        response = client.get("/")
        assert response.headers["transfer-encoding"] == "chunked"
        assert len(response.text.splitlines()) == 1000
        assert client.get("/").status_code == 200  # the keep-alive connection is still usable
        assert client.head("/").content == b""
