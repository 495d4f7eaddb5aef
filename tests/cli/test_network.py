"""Network failures say what was unreachable, why, and what to check; a closed port fails within the budget."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cognite.client import global_config

from plex_cognite._reach import reach
from plex_cognite.cdf.client import build_async_cognite_client
from plex_cognite.cli import main
from plex_cognite.config import CogniteSettings
from plex_cognite.errors import ErrorCategory, PlexAPIError, UnreachableError, classify, network_failure, one_line
from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import SimulatedPlant
from tests.cli._configs import TINY, closed_port, config_for, write


@pytest.fixture
def fakes() -> Iterator[tuple[FakePlex, FakeCDF, SimulatedPlant]]:
    plant = SimulatedPlant(seed=4, size=TINY)
    with FakePlex(plant) as plex, FakeCDF() as cdf:
        yield plex, cdf, plant


@pytest.mark.parametrize("service", ["cdf", "plex"])
def test_run_against_a_closed_port_fails_within_the_budget_naming_the_url(
    service: str,
    fakes: tuple[FakePlex, FakeCDF, SimulatedPlant],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    plex, cdf, plant = fakes
    config = config_for(plex.base_url, cdf, plant, tmp_path)
    url = f"http://127.0.0.1:{closed_port()}"
    config[service]["base_url"] = url
    config[service]["connect_budget_s"] = 1.0

    started = time.monotonic()
    assert main(["run", "--config", str(write(tmp_path / "c.yaml", config)), "--once"]) == 1
    elapsed = time.monotonic() - started

    assert 1.0 <= elapsed < 6.0
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    name = "CDF" if service == "cdf" else "Plex"
    assert err.startswith(f"plex-cognite: failed: {name} at {url} is unreachable: connection refused")
    assert f"check {service}.base_url" in err
    assert "try again later" not in err.lower()


def test_the_sdks_connection_refused_names_the_cdf_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(global_config, "max_retries_connect", 0)
    url = f"http://127.0.0.1:{closed_port()}"
    client = build_async_cognite_client(CogniteSettings(base_url=url, project="p", token="t"))

    with pytest.raises(Exception) as raised:
        asyncio.run(client.assets.list(limit=1))

    assert type(raised.value).__name__ == "CogniteConnectionRefused"
    assert network_failure(raised.value) == ("refused", url)
    line = one_line(raised.value)
    assert line.startswith(f"CDF at {url} is unreachable: connection refused; ")
    assert "cdf.base_url" in line
    assert "try again later" not in line.lower()


def test_httpx_connect_errors_name_the_url_and_reason() -> None:
    url = f"http://127.0.0.1:{closed_port()}"

    async def get() -> None:
        async with httpx.AsyncClient() as http:
            await http.get(url + "/mdm/v1/buildings")

    with pytest.raises(httpx.ConnectError) as raised:
        asyncio.run(get())
    assert network_failure(raised.value) == ("refused", url)
    assert one_line(raised.value).startswith(f"the server at {url} is unreachable: connection refused")


def test_dns_and_tls_failures_are_told_apart_from_refusals() -> None:
    dns = httpx.ConnectError("[Errno -2] Name or service not known")
    dns.__cause__ = socket.gaierror(-2, "Name or service not known")
    tls = httpx.ConnectError("handshake failed")
    tls.__cause__ = ssl.SSLCertVerificationError("certificate verify failed")
    timeout = httpx.ConnectTimeout("timed out")

    assert network_failure(dns) == ("dns", None)
    assert network_failure(tls) == ("tls", None)
    assert network_failure(timeout) == ("timeout", None)
    assert "DNS lookup failed" in one_line(dns)
    assert "TLS handshake failed" in one_line(tls)
    assert "connection timed out" in one_line(timeout)
    assert network_failure(PlexAPIError(503, "down")) is None


def test_https_to_a_plain_http_server_is_a_tls_failure() -> None:
    with FakeCDF() as cdf:
        url = cdf.base_url.replace("http://", "https://")
        with pytest.raises(UnreachableError) as raised:
            asyncio.run(reach(url, service="CDF", setting="cdf.base_url", budget_s=0.5, timeout_s=5))
    assert raised.value.reason == "tls"
    assert str(raised.value).startswith(f"CDF at {url} is unreachable: TLS handshake failed")
    assert classify(raised.value).category is ErrorCategory.FATAL


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and then never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join()
    for sock in accepted:
        sock.close()
    server.close()


def test_a_tls_peer_that_never_answers_is_a_timeout(silent_server: int) -> None:
    url = f"https://127.0.0.1:{silent_server}"
    started = time.monotonic()
    with pytest.raises(UnreachableError) as raised:
        asyncio.run(reach(url, service="Plex", setting="plex.base_url", budget_s=5, timeout_s=0.5))
    assert time.monotonic() - started < 3
    assert raised.value.reason == "timeout"
    assert "connection timed out after 0.5 s" in str(raised.value)
    assert "check plex.base_url" in str(raised.value)


def test_a_service_that_comes_up_within_the_budget_is_reached() -> None:
    port = closed_port()
    server = socket.socket()

    def listen_later() -> None:
        time.sleep(0.5)
        server.bind(("127.0.0.1", port))
        server.listen(1)

    thread = threading.Thread(target=listen_later)
    thread.start()
    try:
        asyncio.run(reach(f"http://127.0.0.1:{port}", service="CDF", setting="cdf.base_url", budget_s=5))
    finally:
        thread.join()
        server.close()


def test_the_wrong_plex_key_is_one_short_line_and_the_full_text_is_at_verbose(
    fakes: tuple[FakePlex, FakeCDF, SimulatedPlant], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plex, cdf, plant = fakes
    config = config_for(plex.base_url, cdf, plant, tmp_path)
    config["plex"]["api_key"] = "wrong"
    path = write(tmp_path / "c.yaml", config)

    assert main(["run", "--config", str(path), "--once"]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("plex-cognite:")]
    assert err == [
        f"plex-cognite: run failed: PCN {plant.pcn} master_data: Plex 401 REQUEST_NOT_AUTHENTICATED on "
        "/mdm/v1/buildings: the API key was rejected (expired, or not entitled to this PCN); "
        "check plex.api_key, plex.pcns and plex.tenant_ids"
    ]

    assert main(["--verbose", "run", "--config", str(path), "--once"]) == 1
    assert "Plex keys can expire every 31 days" in capsys.readouterr().err
