"""`plex-cognite dead-letters list | show | replay | purge` against a real run's queue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plex_cognite.cli.main import main
from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import SimulatedPlant
from tests.e2e.conftest import E2E_SIZE
from tests.test_cli import write_config


def test_list_show_replay_and_purge_the_queue_of_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plant = SimulatedPlant(seed=12, size=E2E_SIZE)
    with FakePlex(plant) as plex, FakeCDF() as cdf:
        config = str(write_config(tmp_path / "c.yaml", plex.base_url, cdf, plant))
        assert main(["run", "--config", config, "--once"]) == 0
        stored = (tmp_path / "dead.jsonl").read_text().splitlines()
        assert stored
        capsys.readouterr()

        assert main(["dead-letters", "list", "--config", config]) == 0
        listing = capsys.readouterr().out
        assert listing.startswith(f"{len(stored)} dead letter(s) in {tmp_path / 'dead.jsonl'}")
        assert "workcenter_status" in listing
        assert "jobs" in listing

        assert main(["dead-letters", "show", "--config", config, "--stream", "jobs"]) == 0
        shown = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert shown
        assert {letter["stream"] for letter in shown} == {"jobs"}
        assert all("payload" in letter and letter["reason"] for letter in shown)

        assert main(["dead-letters", "replay", "--config", config]) == 0
        replay = capsys.readouterr().out
        assert "removed from the queue: 0" in replay  # the plant's rows are malformed for good
        assert len((tmp_path / "dead.jsonl").read_text().splitlines()) == len(stored)

        assert main(["dead-letters", "purge", "--config", config, "--stream", "jobs"]) == 2
        assert "add --yes" in capsys.readouterr().err
        assert main(["dead-letters", "purge", "--config", config, "--stream", "jobs", "--yes"]) == 0
        assert f"{len(shown)} dead letter(s) deleted" in capsys.readouterr().out
        remaining = [json.loads(line) for line in (tmp_path / "dead.jsonl").read_text().splitlines()]
        assert len(remaining) == len(stored) - len(shown)
        assert "jobs" not in {letter["stream"] for letter in remaining}


def test_since_takes_a_time_or_a_duration() -> None:
    from datetime import UTC, datetime

    from plex_cognite.cli._dead_letters import since_time

    now = datetime(2026, 1, 2, tzinfo=UTC)
    assert since_time("6h", now=now) == datetime(2026, 1, 1, 18, tzinfo=UTC)
    assert since_time("2025-06-01T00:00Z") == datetime(2025, 6, 1, tzinfo=UTC)
    assert since_time("2025-06-01") == datetime(2025, 6, 1, tzinfo=UTC)
    with pytest.raises(Exception, match="not a time or a duration"):
        since_time("yesterday")
