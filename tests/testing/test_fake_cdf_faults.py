"""FakeCDF fault injection against the real cognite-sdk's retry rules (creates retry only 429 and network errors)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cognite.client import CogniteClient
from cognite.client.data_classes import EventWrite
from cognite.client.exceptions import CogniteAPIError, CogniteConnectionError, CogniteDuplicatedError

from plex_cognite.testing import _faults
from plex_cognite.testing.fake_cdf import FakeCDF
from tests.testing._support import api, fast_retries

Fault = _faults.Fault


@pytest.fixture(autouse=True)
def _fast_retries() -> Iterator[None]:
    with fast_retries():
        yield


def test_429_on_create_is_retried_and_writes_once(fake_cdf: FakeCDF, cognite_client: CogniteClient) -> None:
    fake_cdf.inject(Fault("status", status=429, retry_after="1", method="POST", path=r"^/events$", times=1))
    cognite_client.events.create(EventWrite(external_id="e1"))
    assert [r.status for r in fake_cdf.request_log] == [429, 201]
    assert len(fake_cdf.events) == 1


def test_status_fault_body_and_retry_after_header(fake_cdf: FakeCDF) -> None:
    fake_cdf.inject(Fault("status", status=429, retry_after="3", times=1))
    response = api(fake_cdf, "POST", "/events/list", {})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.json() == {"error": {"code": 429, "message": "Too many requests (injected fault)"}}
    assert "cdf-is-auto-retryable" not in response.headers


def test_503_on_create_is_not_retried_and_writes_nothing(fake_cdf: FakeCDF, cognite_client: CogniteClient) -> None:
    fake_cdf.inject(Fault("status", status=503, path=r"^/events$", times=1))
    with pytest.raises(CogniteAPIError) as caught:
        cognite_client.events.create(EventWrite(external_id="e1"))
    assert caught.value.code == 503
    assert fake_cdf.request_counts("POST", "/events") == 1
    assert fake_cdf.events == []


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_on_byids_are_retried(fake_cdf: FakeCDF, cognite_client: CogniteClient, status: int) -> None:
    fake_cdf.preload("events", [{"externalId": "e1"}])
    fake_cdf.inject(Fault("status", status=status, path=r"^/events/byids$", times=2))
    assert cognite_client.events.retrieve(external_id="e1") is not None
    assert fake_cdf.request_counts("POST", "/events/byids") == 3


def test_500_is_never_retried(fake_cdf: FakeCDF, cognite_client: CogniteClient) -> None:
    fake_cdf.inject(Fault("status", status=500, path=r"^/events/byids$", times=1))
    with pytest.raises(CogniteAPIError) as caught:
        cognite_client.events.retrieve(external_id="e1")
    assert caught.value.code == 500
    assert fake_cdf.request_counts("POST", "/events/byids") == 1


def test_persistent_fault_exhausts_the_sdk_retries(fake_cdf: FakeCDF, cognite_client: CogniteClient) -> None:
    fake_cdf.inject(Fault("status", status=503, path=r"^/events/byids$"))
    with pytest.raises(CogniteAPIError):
        cognite_client.events.retrieve(external_id="e1")
    assert fake_cdf.request_counts("POST", "/events/byids") == 4  # 1 + max_retries (3)
    fake_cdf.clear_faults()
    assert cognite_client.events.retrieve(external_id="e1") is None


def test_dropped_connection_is_retried_as_a_network_error(fake_cdf: FakeCDF, cognite_client: CogniteClient) -> None:
    fake_cdf.inject(Fault("drop", path=r"^/events$", times=1))
    cognite_client.events.create(EventWrite(external_id="e1"))
    assert [r.status for r in fake_cdf.request_log] == [0, 201]
    assert len(fake_cdf.events) == 1


def test_always_dropping_raises_connection_error(fake_cdf: FakeCDF, cognite_client: CogniteClient) -> None:
    fake_cdf.inject(Fault("drop", path=r"^/events/list$"))
    with pytest.raises(CogniteConnectionError):
        cognite_client.events.list(limit=5)


def test_commit_then_fail_applies_the_write_and_answers_503(fake_cdf: FakeCDF, cognite_client: CogniteClient) -> None:
    fake_cdf.inject(Fault("commit_then_fail", path=r"^/events$", times=1))
    with pytest.raises(CogniteAPIError) as caught:
        cognite_client.events.create(EventWrite(external_id="e1"))
    assert caught.value.code == 503
    assert [e["externalId"] for e in fake_cdf.events] == ["e1"]
    with pytest.raises(CogniteDuplicatedError):  # a naive resend now meets the committed write
        cognite_client.events.create(EventWrite(external_id="e1"))


def test_commit_then_drop_makes_the_sdk_resend_into_409(fake_cdf: FakeCDF, cognite_client: CogniteClient) -> None:
    fake_cdf.inject(Fault("commit_then_drop", path=r"^/events$", times=1))
    with pytest.raises(CogniteDuplicatedError) as caught:
        cognite_client.events.create(EventWrite(external_id="e1"))
    assert caught.value.duplicated == [{"externalId": "e1"}]
    assert len(fake_cdf.events) == 1
    assert [r.status for r in fake_cdf.request_log] == [0, 409]


def test_latency_fault_slows_but_succeeds(fake_cdf: FakeCDF, cognite_client: CogniteClient) -> None:
    fake_cdf.inject(Fault("latency", delay_s=0.2, times=1))
    cognite_client.events.create(EventWrite(external_id="e1"))
    assert fake_cdf.request_log[0].duration_s >= 0.2


def test_probabilistic_faults_are_reproducible_by_seed() -> None:
    def statuses(seed: int) -> list[int]:
        with FakeCDF(seed=seed) as cdf:
            cdf.inject(Fault("status", status=503, probability=0.5))
            return [api(cdf, "POST", "/events/list", {}).status_code for _ in range(12)]

    first = statuses(7)
    assert first == statuses(7)
    assert set(first) == {200, 503}
