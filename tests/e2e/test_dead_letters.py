"""The dead-letter queue end to end: exactly once under crashes and lookback, and replayable after a mapping fix."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
from collections import Counter
from functools import partial
from pathlib import Path

import pytest
import yaml

from plex_cognite.cdf.items import EventItem
from plex_cognite.core.deadletters import LocalDeadLetterStore, RawDeadLetterStore
from plex_cognite.errors import RecordValidationError
from plex_cognite.extractors import JobsExtractor, MappingContext, MasterDataExtractor, job_event
from plex_cognite.plex.models import Job
from plex_cognite.replay import replay_dead_letters
from plex_cognite.runner import run_extractors
from plex_cognite.testing.demo import demo_settings, verify_cdf
from plex_cognite.testing.fake_cdf import STATE_FILE, FakeCDF
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import PlantSize, SimulatedPlant

from .conftest import E2E_SIZE
from .test_crash_recovery import _cli, _config, _Servers

pytestmark = pytest.mark.timeout(180)


def letter_keys(path: Path) -> list[str]:
    return [json.loads(line)["key"] for line in path.read_text().splitlines()]


async def keys_of_one_clean_run(plant: SimulatedPlant, workdir: Path) -> set[str]:
    """The letters a single uninterrupted run files: what every other way of running must end up with."""
    with FakePlex(plant) as plex, FakeCDF() as cdf:
        settings = demo_settings(plex.base_url, cdf, plant, workdir, window="3h")
        assert (await run_extractors(settings)).ok
    keys = letter_keys(workdir / "dead-letters.jsonl")
    assert len(keys) == len(set(keys)) > 0
    return set(keys)


@pytest.mark.parametrize("backend", ["local", "raw"])
def test_sigkill_repeatedly_then_finish_files_each_rejected_row_exactly_once(backend: str, tmp_path: Path) -> None:
    plant = SimulatedPlant(0, "340884", PlantSize.named("small"))
    expected = asyncio.run(keys_of_one_clean_run(plant, tmp_path / "clean"))
    servers = _Servers(tmp_path)
    try:
        config = _config(tmp_path, servers, plant, "classic")
        if backend == "raw":
            settings = yaml.safe_load(config.read_text())
            settings["dead_letters"] = {"backend": "raw", "raw_db": "plex_cognite", "raw_table": "dead_letters"}
            config.write_text(yaml.safe_dump(settings))
        rng = random.Random(20261203)
        for _ in range(4):
            process = _cli(config)
            time.sleep(rng.uniform(0.8, 2.5))
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        final = _cli(config)
        _, err = final.communicate(timeout=120)
        assert final.returncode == 0, err.decode()[-2000:]
    finally:
        servers.stop()

    with FakeCDF() as cdf:
        cdf.load(servers.data / STATE_FILE)
        if backend == "local":
            keys = letter_keys(tmp_path / "dead.jsonl")
        else:
            keys = list(cdf.raw_rows("plex_cognite", "dead_letters"))
            stored = asyncio.run(RawDeadLetterStore(cdf.async_cognite_client()).read())
            assert {letter.key for letter in stored} == set(keys)
        assert Counter(keys).most_common(1)[0][1] == 1, "a row was dead-lettered more than once"
        assert set(keys) == expected


async def test_lookback_over_three_runs_keeps_one_letter_per_row(plant: SimulatedPlant, tmp_path: Path) -> None:
    expected = await keys_of_one_clean_run(plant, tmp_path / "clean")
    with FakePlex(plant) as plex, FakeCDF() as cdf:
        settings = demo_settings(plex.base_url, cdf, plant, tmp_path, window="3h", lookback="2d")
        reports = [await run_extractors(settings) for _ in range(3)]
        assert all(report.ok for report in reports)
        assert reports[0].total("dead_lettered") == len(expected)
        assert [report.total("dead_lettered") for report in reports[1:]] == [0, 0]  # new letters per pass
        keys = letter_keys(tmp_path / "dead-letters.jsonl")
        assert sorted(keys) == sorted(expected)
        assert verify_cdf(cdf, plant, settings) == []


def strict_job_event(job: Job, ctx: MappingContext) -> EventItem:
    """A mapping with a bug: it refuses every job that has no earliest start (the default falls back instead)."""
    if job.earliest_start_date_time is None:
        raise RecordValidationError(f"job {job.job_number} has no earliest start")
    return job_event(job, ctx)


async def test_replay_after_a_mapping_fix_writes_the_rejected_jobs_and_empties_the_queue_of_them(
    tmp_path: Path,
) -> None:
    plant = SimulatedPlant(seed=11, size=E2E_SIZE)
    with FakePlex(plant) as plex, FakeCDF() as cdf:
        settings = demo_settings(plex.base_url, cdf, plant, tmp_path, streams=["master_data", "jobs"])
        buggy = [MasterDataExtractor, partial(JobsExtractor, transform=strict_job_event)]
        first = await run_extractors(settings, extractors=buggy)
        assert first.ok
        letters = await LocalDeadLetterStore(tmp_path / "dead-letters.jsonl").read(stream="jobs")
        refused = [letter for letter in letters if "has no earliest start" in letter.reason]
        assert refused, "the plant has jobs without an earliest start"
        assert verify_cdf(cdf, plant, settings) != []  # those jobs are missing from CDF

        report = await replay_dead_letters(settings)  # the configured (fixed) mapping
        assert report.replayed == len(refused)
        assert report.removed == len(refused)
        assert verify_cdf(cdf, plant, settings) == []
        remaining = await LocalDeadLetterStore(tmp_path / "dead-letters.jsonl").read()
        assert not [letter for letter in remaining if "has no earliest start" in letter.reason]
        assert all(letter.key not in {r.key for r in refused} for letter in remaining)
        assert report.still_failing == len([letter for letter in remaining if letter.stream == "jobs"])

        requests_before = len(cdf.request_log)
        again = await replay_dead_letters(settings)
        assert (again.replayed, again.written, again.requests) == (0, 0, 0)
        writes = [r for r in cdf.request_log[requests_before:] if r.method == "POST" and "byids" not in r.path]
        assert [r.path for r in writes if r.path.startswith("/events")] == []
