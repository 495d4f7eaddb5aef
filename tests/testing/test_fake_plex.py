"""FakePlex Connect API driven with real httpx: OpenAPI conformance, auth, tenancy, windows, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import SimulatedPlant, format_plex_ms, parse_plex_datetime
from tests._openapi import undeclared_fields, validate_httpx_response
from tests.testing._support import HTTP

CLEAN = SimulatedPlant(seed=11).with_size(malformed_every=0)
OTHER = SimulatedPlant(seed=11, pcn="300757")
HISTORY = "/production/v1/production-history"
MOVES = "/inventory/v1/inventory-history/container-location-moves"
WINDOW = {"beginDate": "2025-01-06T00:00:00Z", "endDate": "2025-01-08T00:00:00.0000000Z"}


@pytest.fixture(scope="module")
def plex() -> Iterator[FakePlex]:
    with FakePlex([CLEAN, OTHER]) as fake:
        yield fake


@pytest.fixture
def client(plex: FakePlex) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=plex.base_url, headers=plex.headers()) as http:
        yield http


def list_endpoints() -> list[tuple[str, str, dict[str, str]]]:
    job = next(CLEAN.jobs())
    part = next(CLEAN.parts())
    wc = CLEAN.workcenters()[0]
    return [
        ("/mdm/v1/tenants", "/mdm/v1/tenants", {}),
        (f"/mdm/v1/tenants/{CLEAN.tenant_id}", "/mdm/v1/tenants/{id}", {}),
        ("/mdm/v1/buildings", "/mdm/v1/buildings", {}),
        ("/mdm/v1/parts", "/mdm/v1/parts", {}),
        (f"/mdm/v1/parts/{part['id']}", "/mdm/v1/parts/{id}", {}),
        ("/production/v1/production-definitions/workcenters", "/production/v1/production-definitions/workcenters", {}),
        (
            f"/production/v1/production-definitions/workcenters/{wc['workcenterId']}",
            "/production/v1/production-definitions/workcenters/{id}",
            {},
        ),
        (
            "/production/v1/production-definitions/workcenter-statuses",
            "/production/v1/production-definitions/workcenter-statuses",
            {},
        ),
        ("/scheduling/v1/jobs", "/scheduling/v1/jobs", {}),
        (f"/scheduling/v1/jobs/{job['id']}", "/scheduling/v1/jobs/{id}", {}),
        (f"/scheduling/v1/jobs/{job['id']}/operations", "/scheduling/v1/jobs/{id}/operations", {}),
        (f"{HISTORY}/production-entries", f"{HISTORY}/production-entries", WINDOW),
        (f"{HISTORY}/scrap-entries", f"{HISTORY}/scrap-entries", WINDOW),
        (f"{HISTORY}/workcenter-status-entries", f"{HISTORY}/workcenter-status-entries", WINDOW),
        ("/inventory/v1/inventory-tracking/containers", "/inventory/v1/inventory-tracking/containers", {}),
        ("/inventory/v1/inventory-definitions/locations", "/inventory/v1/inventory-definitions/locations", {}),
        (MOVES, MOVES, WINDOW),
    ]


@pytest.mark.parametrize(
    ("path", "template", "params"), list_endpoints(), ids=[template for _, template, _ in list_endpoints()]
)
def test_every_endpoint_validates_against_the_openapi_file(
    client: httpx.Client, path: str, template: str, params: dict[str, str]
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 200
    validate_httpx_response(response)
    body = response.json()
    rows = body if isinstance(body, list) else [body]
    assert rows
    assert undeclared_fields(template, rows) == set()  # real field names only


def test_unknown_id_404_validates_too(client: httpx.Client) -> None:
    response = client.get("/scheduling/v1/jobs/00000000-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert response.json()["code"] == "RESOURCE_NOT_FOUND"
    validate_httpx_response(response)


def test_bodies_are_bare_arrays_of_the_plant_rows(client: httpx.Client) -> None:
    assert client.get("/scheduling/v1/jobs").json() == list(CLEAN.jobs())
    assert client.get("/mdm/v1/parts").json() == list(CLEAN.parts())
    workcenters = client.get("/production/v1/production-definitions/workcenters").json()
    assert workcenters == CLEAN.workcenters()
    assert "workcenterId" in workcenters[0]
    assert "id" not in workcenters[0]


def test_paging_and_unknown_parameters_are_ignored(client: httpx.Client) -> None:
    full = client.get("/scheduling/v1/jobs").content
    assert client.get("/scheduling/v1/jobs", params={"limit": 1, "offset": 5, "updatedAfter": "x"}).content == full


def test_documented_filters_filter(client: httpx.Client) -> None:
    jobs = client.get("/scheduling/v1/jobs", params=[("jobStatuses", "Open"), ("jobStatuses", "Released")]).json()
    assert jobs
    assert {job["jobStatus"] for job in jobs} == {"Open", "Released"}
    wc = CLEAN.workcenters()[2]["workcenterId"]
    entries = client.get(f"{HISTORY}/production-entries", params={**WINDOW, "workcenterId": wc}).json()
    assert entries
    assert {e["workcenterId"] for e in entries} == {wc}


def test_history_window_is_half_open(client: httpx.Client) -> None:
    rows = list(CLEAN.production_entries())
    pivot = parse_plex_datetime(rows[300]["transactionDate"])
    pivot_text = format_plex_ms(int(pivot.timestamp() * 1000), 0)
    before = client.get(
        f"{HISTORY}/production-entries", params={"beginDate": WINDOW["beginDate"], "endDate": pivot_text}
    )
    after = client.get(
        f"{HISTORY}/production-entries", params={"beginDate": pivot_text, "endDate": "2025-02-01T00:00Z"}
    )
    assert rows[300] not in before.json()
    assert rows[300] in after.json()
    assert before.json() + after.json() == rows


@settings(max_examples=10, deadline=None)
@given(
    stream=st.sampled_from(["production-entries", "scrap-entries", "workcenter-status-entries"]),
    begin_ms=st.integers(min_value=-3_600_000, max_value=8 * 86_400_000),
    length_ms=st.integers(min_value=0, max_value=2 * 86_400_000),
    style=st.integers(min_value=0, max_value=3),
)
def test_http_windows_match_the_plant(plex: FakePlex, stream: str, begin_ms: int, length_ms: int, style: int) -> None:
    start_ms = int(CLEAN.start.timestamp() * 1000)
    begin, end = format_plex_ms(start_ms + begin_ms, style), format_plex_ms(start_ms + begin_ms + length_ms, style)
    response = HTTP.get(
        f"{plex.base_url}{HISTORY}/{stream}", params={"beginDate": begin, "endDate": end}, headers=plex.headers()
    )
    rows = {
        "production-entries": CLEAN.production_entries,
        "scrap-entries": CLEAN.scrap_entries,
        "workcenter-status-entries": CLEAN.workcenter_status_entries,
    }[stream](parse_plex_datetime(begin), parse_plex_datetime(end))
    assert response.json() == list(rows)


def test_history_parameter_names_are_case_insensitive(client: httpx.Client) -> None:
    lower = client.get(f"{HISTORY}/scrap-entries", params=WINDOW).json()
    assert client.get(f"{HISTORY}/scrap-entries", params={k.upper(): v for k, v in WINDOW.items()}).json() == lower


@pytest.mark.parametrize(
    ("params", "codes"),
    [
        ({}, ["ARGUMENT_REQUIRED", "ARGUMENT_REQUIRED"]),
        ({"beginDate": "2025-01-06", "endDate": "2025-01-07T00:00:00Z"}, ["ARGUMENT_INVALID"]),
        ({"beginDate": "2025-01-06T00:00:00+00:00", "endDate": "2025-01-07T00:00:00Z"}, ["ARGUMENT_INVALID"]),
        ({"beginDate": "2025-01-06 00:00:00Z", "endDate": "2025-01-07T00:00:00Z"}, ["ARGUMENT_INVALID"]),
        ({"beginDate": "2025-01-06T00:00:00.12345678Z", "endDate": "2025-01-07T00:00:00Z"}, ["ARGUMENT_INVALID"]),
        ({"beginDate": "2025-01-08T00:00:00Z", "endDate": "2025-01-07T00:00:00Z"}, ["ARGUMENT_INVALID"]),
        ({"beginDate": "2025-01-06T00:00:00Z"}, ["ARGUMENT_REQUIRED"]),
    ],
)
def test_history_dates_are_required_in_the_z_format(
    client: httpx.Client, params: dict[str, str], codes: list[str]
) -> None:
    response = client.get(f"{HISTORY}/workcenter-status-entries", params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "REQUEST_VALIDATION_FAILED"
    assert isinstance(body["message"], str)
    assert [error["code"] for error in body["errors"]] == codes
    assert all(set(error) == {"code", "message"} for error in body["errors"])


def test_error_bodies_have_the_documented_shape(client: httpx.Client, plex: FakePlex) -> None:
    shapes: dict[int, Any] = {}
    shapes[400] = client.get("/scheduling/v1/jobs/not-a-uuid").json()
    shapes[401] = HTTP.get(plex.base_url + "/mdm/v1/parts").json()
    shapes[404] = client.get("/mdm/v1/no-such-thing").json()
    shapes[405] = client.post("/mdm/v1/parts", json={}).json()
    assert shapes[400]["code"] == "REQUEST_VALIDATION_FAILED"
    assert shapes[400]["errors"][0]["code"] == "ARGUMENT_INVALID"
    assert shapes[401] == {"code": "REQUEST_NOT_AUTHENTICATED", "message": "The request could not be authenticated."}
    assert shapes[404]["code"] == "RESOURCE_NOT_FOUND"
    assert shapes[405]["code"] == "METHOD_NOT_ALLOWED"
    assert all(set(body) <= {"code", "message", "errors"} for body in shapes.values())


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Plex-Connect-Api-Key": "wrong"},
        {"X-Plex-Connect-Api-Key": "TEST-KEY"},  # keys are case-sensitive
        {"X-Plex-Connect-Api-Key": "test-key", "X-Plex-Connect-Customer-Id": "999999"},
        {"X-Plex-Connect-Api-Key": "test-key", "X-Plex-Connect-Tenant-Id": "00000000-0000-4000-8000-000000000000"},
    ],
)
def test_bad_credentials_or_unknown_tenant_get_401(plex: FakePlex, headers: dict[str, str]) -> None:
    response = HTTP.get(plex.base_url + "/mdm/v1/buildings", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "REQUEST_NOT_AUTHENTICATED"


def test_a_key_in_the_query_string_is_refused(plex: FakePlex) -> None:
    response = HTTP.get(plex.base_url + "/mdm/v1/buildings", params={"api_key": "test-key"}, headers=plex.headers())
    assert response.status_code == 401


def test_auth_comes_before_routing(plex: FakePlex) -> None:
    assert HTTP.get(plex.base_url + "/no/such/path").status_code == 401


def test_customer_id_and_tenant_id_select_the_plant(plex: FakePlex) -> None:
    def buildings(headers: dict[str, str]) -> list[dict[str, Any]]:
        response = HTTP.get(plex.base_url + "/mdm/v1/buildings", headers=headers)
        assert response.status_code == 200
        return list(response.json())

    assert buildings(plex.headers("300757")) == OTHER.buildings()
    assert buildings(plex.headers("300757", tenant=True)) == OTHER.buildings()
    assert buildings({"X-Plex-Connect-Api-Key": "test-key"}) == CLEAN.buildings()  # the key's default tenant
    both = {**plex.headers(CLEAN.pcn), "X-Plex-Connect-Tenant-Id": OTHER.tenant_id}
    assert HTTP.get(plex.base_url + "/mdm/v1/buildings", headers=both).status_code == 401
    tenants = HTTP.get(plex.base_url + "/mdm/v1/tenants", headers=plex.headers()).json()
    assert {t["id"] for t in tenants} == {CLEAN.tenant_id, OTHER.tenant_id}


def test_ids_of_another_plant_are_not_found(client: httpx.Client) -> None:
    other_job = next(OTHER.jobs())["id"]
    assert client.get(f"/scheduling/v1/jobs/{other_job}").status_code == 404
    assert client.get(f"/scheduling/v1/jobs/{other_job}/operations").status_code == 404
    assert client.get(f"/mdm/v1/tenants/{'0' * 8}-0000-4000-8000-{'0' * 12}").status_code == 404


def test_malformed_rows_are_served_as_is() -> None:
    plant = SimulatedPlant(seed=2)
    bad = plant.malformed_rows("production")
    with FakePlex(plant) as fake:
        rows = HTTP.get(
            fake.base_url + f"{HISTORY}/production-entries",
            params={"beginDate": "2025-01-01T00:00Z", "endDate": "2025-02-01T00:00Z"},
            headers=fake.headers(),
        ).json()
    assert [rows[m.index] for m in bad] == [json.loads(json.dumps(m.row)) for m in bad]


def test_set_plant_serves_a_mutated_revision(simulated_plant: SimulatedPlant, fake_plex: FakePlex) -> None:
    part = next(simulated_plant.parts())
    url = f"{fake_plex.base_url}/mdm/v1/parts/{part['id']}"
    assert HTTP.get(url, headers=fake_plex.headers()).json() == part
    fake_plex.set_plant(simulated_plant.mutate(ids=[part["id"]]))
    assert HTTP.get(url, headers=fake_plex.headers()).json()["name"] != part["name"]


def test_request_log_counts_per_endpoint(fake_plex: FakePlex) -> None:
    for _ in range(3):
        HTTP.get(fake_plex.base_url + "/mdm/v1/buildings", headers=fake_plex.headers())
    HTTP.get(fake_plex.base_url + "/mdm/v1/buildings")
    assert fake_plex.request_counts("GET", "/mdm/v1/buildings") == 4
    assert fake_plex.request_counter()["GET /mdm/v1/buildings"] == 4
    assert [r.status for r in fake_plex.request_log] == [200, 200, 200, 401]
    fake_plex.reset_request_log()
    assert fake_plex.request_log == []


def test_large_bodies_are_streamed() -> None:
    with FakePlex(SimulatedPlant(seed=1).with_size(jobs=5000)) as fake:
        with HTTP.stream("GET", fake.base_url + "/scheduling/v1/jobs", headers=fake.headers()) as response:
            body = response.read()
            chunked = response.headers.get("transfer-encoding") == "chunked"
        assert chunked
        assert len(json.loads(body)) == 5000
        assert fake.request_log[-1].items == 5000


def test_constructor_validation() -> None:
    with pytest.raises(ValueError, match="own PCN"):
        FakePlex([CLEAN, CLEAN])
    with pytest.raises(ValueError, match="at least one"):
        FakePlex([])


def test_container_moves_need_a_date_window_like_every_history_endpoint(client: httpx.Client) -> None:
    missing = client.get(MOVES)
    bare_date = client.get(MOVES, params={"beginDate": "2025-01-06", "endDate": "2025-01-07T00:00:00Z"})
    assert (missing.status_code, bare_date.status_code) == (400, 400)
    assert {e["code"] for e in missing.json()["errors"]} == {"ARGUMENT_REQUIRED"}
    assert {e["code"] for e in bare_date.json()["errors"]} == {"ARGUMENT_INVALID"}


def test_container_moves_window_on_adjustment_date_and_filter(client: httpx.Client) -> None:
    moves = client.get(MOVES, params=WINDOW).json()
    assert moves == list(
        CLEAN.container_moves(parse_plex_datetime(WINDOW["beginDate"]), parse_plex_datetime(WINDOW["endDate"]))
    )
    serial = moves[0]["serialNo"]
    one = client.get(MOVES, params={**WINDOW, "serialNo": serial}).json()
    assert one
    assert {move["serialNo"] for move in one} == {serial}


def test_locations_and_containers_follow_inventory_mutations(plex: FakePlex, client: httpx.Client) -> None:
    locations = client.get("/inventory/v1/inventory-definitions/locations").json()
    assert locations == CLEAN.locations()
    containers = list(CLEAN.containers())
    consumed, changed = containers[0]["serialNo"], containers[1]["serialNo"]
    plex.set_plant(CLEAN.mutate_inventory(consume=[consumed], quantities={changed: 999.0}))
    try:
        served = {row["serialNo"]: row for row in client.get("/inventory/v1/inventory-tracking/containers").json()}
    finally:
        plex.set_plant(CLEAN)
    assert consumed not in served
    assert served[changed]["quantity"] == 999.0
    assert len(served) == len(containers) - 1
