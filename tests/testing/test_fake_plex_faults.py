"""FakePlex fault injection (shared with FakeCDF) and the separate-process form."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from plex_cognite.testing.fake_plex import FakePlex, Fault
from plex_cognite.testing.plant import SimulatedPlant
from tests._fakes import fake_process
from tests.testing._support import HTTP

PLANT = SimulatedPlant(seed=4)
PARTS = "/mdm/v1/parts"


@pytest.fixture
def plex() -> Iterator[FakePlex]:
    with FakePlex(PLANT, seed=9) as fake:
        yield fake


def get(plex: FakePlex, path: str = PARTS) -> httpx.Response:
    return HTTP.get(plex.base_url + path, headers=plex.headers(), timeout=5)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_status_faults_answer_a_connect_error_body(plex: FakePlex, status: int) -> None:
    plex.inject(Fault("status", status=status, path=f"^{PARTS}$", times=1))
    failed = get(plex)
    assert failed.status_code == status
    assert set(failed.json()) == {"code", "message"}
    assert get(plex).status_code == 200  # used up after one hit
    assert [r.fault for r in plex.request_log] == ["status", None]


def test_429_with_and_without_retry_after(plex: FakePlex) -> None:
    plex.inject(Fault("status", status=429, retry_after="3", times=1))
    plex.inject(Fault("status", status=429, times=1))
    first, second = get(plex), get(plex)
    assert (first.status_code, first.headers.get("retry-after")) == (429, "3")
    assert (second.status_code, second.headers.get("retry-after")) == (429, None)
    assert first.json()["code"] == "TOO_MANY_REQUESTS"


def test_faults_match_method_and_full_path(plex: FakePlex) -> None:
    plex.inject(Fault("status", status=503, path=r"^/scheduling/v1/jobs$"))
    assert get(plex, "/scheduling/v1/jobs").status_code == 503
    assert get(plex, "/mdm/v1/buildings").status_code == 200
    plex.clear_faults()
    assert get(plex, "/scheduling/v1/jobs").status_code == 200


def test_latency_fault_delays_then_answers(plex: FakePlex) -> None:
    plex.inject(Fault("latency", delay_s=0.05, times=1))
    assert get(plex).status_code == 200
    record = plex.request_log[-1]
    assert record.fault is None
    assert record.duration_s >= 0.05


def test_dropped_connection(plex: FakePlex) -> None:
    plex.inject(Fault("drop", times=1))
    with pytest.raises(httpx.TransportError):
        get(plex)
    assert plex.request_log[-1].status == 0
    assert get(plex).status_code == 200


def test_commit_then_fail_on_a_read_answers_503(plex: FakePlex) -> None:
    plex.inject(Fault("commit_then_fail", times=1))
    assert get(plex).status_code == 503


def test_probability_is_deterministic_by_seed() -> None:
    def pattern(seed: int) -> list[int]:
        with FakePlex(PLANT, seed=seed) as fake:
            fake.inject(Fault("status", status=503, probability=0.5))
            return [get(fake, "/mdm/v1/buildings").status_code for _ in range(12)]

    first = pattern(3)
    assert first == pattern(3)
    assert set(first) == {200, 503}


def test_faults_reach_the_data_source_api_with_its_error_shape(plex: FakePlex) -> None:
    plex.inject(Fault("status", status=503, path=r"^/api/datasources/", times=1))
    response = HTTP.post(
        plex.datasource_url + "/api/datasources/1791/execute",
        json={"inputs": {"Part_No": "100000"}},
        headers=plex.datasource_headers(),
    )
    assert response.status_code == 503
    assert response.json()["errors"][0]["code"] == "REQUEST_PROCESSING_ERROR"


def test_runs_as_a_separate_process(tmp_path: Path) -> None:
    args = ("--seed", "4", "--pcn", PLANT.pcn, "--pcn", "300757")
    with fake_process("plex_cognite.testing.fake_plex", tmp_path / "ports", *args) as (connect_port, datasource_port):
        headers = {"X-Plex-Connect-Api-Key": "test-key", "X-Plex-Connect-Customer-Id": "300757"}
        response = HTTP.get(f"http://127.0.0.1:{connect_port}/mdm/v1/buildings", headers=headers)
        assert response.json() == SimulatedPlant(seed=4, pcn="300757").buildings()
        search = HTTP.get(f"http://127.0.0.1:{datasource_port}/api/datasources/search", auth=("ds-user", "ds-pass"))
        assert search.status_code == 200
