"""Extraction pipeline runs: the real AsyncCogniteClient reporting to FakeCDF's `/extpipes/runs`."""

from __future__ import annotations

import asyncio

import pytest
from cognite.client import AsyncCogniteClient

from plex_cognite.cdf.pipeline_runs import MAX_MESSAGE_LENGTH, ExtractionPipelineReporter, run_message
from plex_cognite.errors import PlexAPIError
from plex_cognite.observability.metrics import ExtractorMetrics
from plex_cognite.testing import _faults
from plex_cognite.testing.fake_cdf import FakeCDF

PIPELINE = "plex-cognite"


@pytest.fixture
def pipeline(fake_cdf: FakeCDF) -> str:
    [data_set] = fake_cdf.preload("datasets", [{"externalId": "plex", "name": "Plex"}])
    fake_cdf.preload("extpipes", [{"externalId": PIPELINE, "name": "Plex", "dataSetId": data_set["id"]}])
    return PIPELINE


def runs(fake_cdf: FakeCDF) -> list[tuple[str, str | None]]:
    return [(run["status"], run.get("message")) for run in fake_cdf.extpipe_runs]


async def test_success_seen_and_failure_are_reported_in_order(
    fake_cdf: FakeCDF, aclient: AsyncCogniteClient, pipeline: str
) -> None:
    metrics = ExtractorMetrics()
    reporter = ExtractionPipelineReporter(aclient, pipeline, metrics=metrics)
    assert await reporter.seen()
    assert await reporter.success()
    assert await reporter.failure(PlexAPIError(401, "Unauthorized"))
    assert runs(fake_cdf) == [
        ("seen", None),
        ("success", None),
        (
            "failure",
            "Plex 401: the API key was rejected (expired, or not entitled to this PCN); "
            "check plex.api_key, plex.pcns and plex.tenant_ids",
        ),
    ]
    assert fake_cdf.get("extpipes", pipeline)["lastMessage"] == runs(fake_cdf)[-1][1]  # type: ignore[index]
    assert (reporter.reported, reporter.failed_reports) == (3, 0)
    assert metrics.value("extpipe_reports_total", status="failure", outcome="ok") == 1


async def test_a_long_failure_message_is_one_line_of_at_most_1000_characters_without_secrets(
    fake_cdf: FakeCDF, aclient: AsyncCogniteClient, pipeline: str
) -> None:
    key = "plex-key-0123456789"
    reason = f"window 2025-01-01 failed with key {key}, header Bearer abc.def.ghi\n" + "detail " * 400
    reporter = ExtractionPipelineReporter(aclient, pipeline, secrets=[key])
    assert await reporter.failure(reason)
    [(status, message)] = runs(fake_cdf)
    assert status == "failure"
    assert message is not None
    assert len(message) == MAX_MESSAGE_LENGTH
    assert message.endswith("...")
    assert "\n" not in message
    assert key not in message
    assert "abc.def.ghi" not in message


async def test_a_500_on_the_runs_endpoint_is_logged_and_counted_not_raised(
    fake_cdf: FakeCDF, aclient: AsyncCogniteClient, pipeline: str
) -> None:
    fake_cdf.inject(_faults.Fault("status", status=500, method="POST", path=r"^/extpipes/runs$"))
    metrics = ExtractorMetrics()
    reporter = ExtractionPipelineReporter(aclient, pipeline, metrics=metrics)
    assert await reporter.success() is False
    assert await reporter.seen() is False
    assert runs(fake_cdf) == []
    assert (reporter.reported, reporter.failed_reports) == (0, 2)
    assert metrics.value("extpipe_reports_total", status="success", outcome="error") == 1


async def test_an_unknown_pipeline_does_not_raise(fake_cdf: FakeCDF, aclient: AsyncCogniteClient) -> None:
    reporter = ExtractionPipelineReporter(aclient, "no-such-pipeline")
    assert await reporter.failure("boom") is False
    assert reporter.failed_reports == 1


def test_run_message_joins_lines_and_masks_secrets() -> None:
    assert run_message("a\n\n  b  \nc", secrets=["b"]) == "a | *** | c"
    assert run_message(ValueError("bad\nvalue")) == "ValueError: bad"
    assert len(run_message("x" * 5000, limit=10)) == 10


async def test_heartbeats_send_seen_while_the_block_runs_and_stop_after(
    fake_cdf: FakeCDF, aclient: AsyncCogniteClient, pipeline: str
) -> None:
    reporter = ExtractionPipelineReporter(aclient, pipeline)
    async with reporter.heartbeats(0.05):
        await asyncio.sleep(0.4)
    await asyncio.sleep(0.1)  # a beat cancelled in flight may still reach the server after the block
    sent = len(fake_cdf.extpipe_runs)
    assert sent >= 2  # one at once, more every 0.05 s
    await asyncio.sleep(0.3)
    assert len(fake_cdf.extpipe_runs) == sent  # stopped with the block
    assert {status for status, _ in runs(fake_cdf)} == {"seen"}
    with pytest.raises(ValueError, match="interval_s"):
        async with reporter.heartbeats(0):
            pass
