"""FakePlex Data Source API: formats 1 and 2, row limits, errors[] codes, search and metadata."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from plex_cognite.testing.fake_plex import DATA_SOURCES, FakePlex
from plex_cognite.testing.plant import SimulatedPlant
from tests.testing._support import HTTP

PLANT = SimulatedPlant(seed=6)
OTHER = SimulatedPlant(seed=6, pcn="300757")
PRODUCTION = 230486
WINDOW = {"Start_Date": "2025-01-06T00:00:00Z", "End_Date": "2025-01-06T12:00:00Z"}


@pytest.fixture(scope="module")
def plex() -> Iterator[FakePlex]:
    with FakePlex([PLANT, OTHER], row_limits={PRODUCTION: 50}) as fake:
        yield fake


def execute(
    plex: FakePlex, source: int, body: Any, *, fmt: int = 1, pcn: str | None = None, **kw: Any
) -> httpx.Response:
    params = {"format": "2"} if fmt == 2 else {}
    return HTTP.post(
        f"{plex.datasource_url}/api/datasources/{source}/execute",
        params=params,
        json=body,
        headers=plex.datasource_headers(pcn),
        **kw,
    )


def test_format_1_returns_one_table(plex: FakePlex) -> None:
    part = next(PLANT.parts())
    body = execute(plex, 1791, {"inputs": {"Part_No": part["number"]}}).json()
    assert body["outputs"] == {}
    assert body["rowLimitExceeded"] is False
    assert isinstance(body["transactionNo"], str)
    (table,) = body["tables"]
    assert table["columns"] == ["Part_Key", "Part_No_Revision", "Name", "Part_Status", "Old_Part_No"]
    assert table["rows"][0][2] == part["name"]


def test_format_2_returns_rows_as_objects_and_takes_bare_inputs(plex: FakePlex) -> None:
    part = next(PLANT.parts())
    body = execute(plex, 1791, {"Part_No": part["number"]}, fmt=2).json()
    assert body["rows"][0]["Name"] == part["name"]
    assert "tables" not in body


def test_row_limit_cuts_rows_and_sets_the_flag(plex: FakePlex) -> None:
    limited = execute(plex, PRODUCTION, {"inputs": WINDOW}, fmt=2).json()
    assert limited["rowLimitExceeded"] is True
    assert len(limited["rows"]) == 50
    small = execute(plex, PRODUCTION, {"inputs": {**WINDOW, "End_Date": "2025-01-06T01:00:00Z"}}, fmt=2).json()
    assert small["rowLimitExceeded"] is False
    assert len(small["rows"]) < 50
    assert all(row["Record_Date"].endswith("Z") for row in small["rows"])


def test_outputs_only_source(plex: FakePlex) -> None:
    body = execute(plex, 18764, {"inputs": {"Part_Key": 8_000_000}}).json()
    assert body["outputs"] == {"Name": next(PLANT.parts())["name"]}
    assert body["tables"] == []


def test_each_account_sees_its_own_pcn(plex: FakePlex) -> None:
    number = next(OTHER.parts())["number"]
    body = execute(plex, 1791, {"inputs": {"Part_No": number}}, pcn="300757", fmt=2).json()
    assert body["rows"][0]["Name"] == next(OTHER.parts())["name"]


@pytest.mark.parametrize(
    ("source", "inputs", "status", "code"),
    [
        (1791, {}, 400, "DATA_SOURCE_INPUT_REQUIRED"),
        (1791, {"part_no": "1"}, 400, "DATA_SOURCE_INPUT_NOT_FOUND"),  # names are case-sensitive
        (1791, {"Part_No": None}, 400, "DATA_SOURCE_INPUT_NOT_NULLABLE"),
        (18764, {"Part_Key": "abc"}, 400, "DATA_SOURCE_INPUT_TYPE_MISMATCH"),
        (PRODUCTION, {**WINDOW, "Start_Date": "2025-01-06"}, 400, "DATA_SOURCE_INPUT_FORMAT_INVALID"),
        (6429, {}, 403, "DATA_SOURCE_ACCESS_DENIED"),
        (999, {}, 404, "DATA_SOURCE_NOT_FOUND"),
    ],
)
def test_errors_carry_data_source_codes(
    plex: FakePlex, source: int, inputs: dict[str, Any], status: int, code: str
) -> None:
    response = execute(plex, source, {"inputs": inputs})
    assert response.status_code == status
    body = response.json()
    assert [error["code"] for error in body["errors"]] == [code]
    assert isinstance(body["errors"][0]["message"], str)
    assert isinstance(body["transactionNo"], str)


def test_bad_credentials_wrong_method_and_bad_json(plex: FakePlex) -> None:
    url = f"{plex.datasource_url}/api/datasources/1791/execute"
    denied = HTTP.post(url, json={}, auth=("ds-user", "wrong"))
    assert denied.status_code == 401
    assert denied.json()["errors"][0]["code"] == "USER_ACCESS_DENIED"
    assert HTTP.post(url, json={}).status_code == 401
    wrong_method = HTTP.get(url, headers=plex.datasource_headers())
    assert wrong_method.status_code == 405
    assert wrong_method.json()["errors"][0]["code"] == "METHOD_NOT_ALLOWED"
    bad_json = HTTP.post(url, content=b"{not json", headers=plex.datasource_headers())
    assert bad_json.status_code == 400


def test_search_and_metadata(plex: FakePlex) -> None:
    auth = plex.datasource_credentials()
    found = HTTP.get(f"{plex.datasource_url}/api/datasources/search", params={"name": "part"}, auth=auth).json()
    assert {s["name"] for s in found} == {"Part_Get", "Part_Name_Output_Get"}
    everything = HTTP.get(f"{plex.datasource_url}/api/datasources/search", auth=auth).json()
    assert {s["id"] for s in everything} == set(DATA_SOURCES)
    meta = HTTP.get(f"{plex.datasource_url}/api/datasources/{PRODUCTION}", auth=auth).json()
    assert meta["name"] == "Production_History_Get"
    assert {"name": "Start_Date", "type": "datetime", "required": True, "nullable": False} in meta["inputs"]
    assert [c["name"] for c in meta["columns"]][:2] == ["Workcenter_Key", "Workcenter_Code"]
    assert HTTP.get(f"{plex.datasource_url}/api/datasources/123456", auth=auth).status_code == 404


def test_pretty_output(plex: FakePlex) -> None:
    response = HTTP.post(
        f"{plex.datasource_url}/api/datasources/1791/execute",
        params={"format": "2", "pretty": "true"},
        json={"Part_No": next(PLANT.parts())["number"]},
        headers=plex.datasource_headers(),
    )
    assert b"\n  " in response.content
    assert response.json()["rows"]
