"""Progress: a live table on a terminal, plain lines otherwise, with the window facts when the runner gives them."""

from __future__ import annotations

import io
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from plex_cognite.cli._progress import LiveProgress, ProgressPrinter, progress_display
from plex_cognite.core.extractor import StreamReport
from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import SimulatedPlant
from tests.cli._configs import TINY, config_for, write


@dataclass
class WindowedSnapshot:
    """A snapshot with the optional window facts (what the runner will send)."""

    pcn: str
    stream: str
    read: int
    written: int
    unchanged: int
    position: datetime
    windows_done: int
    windows_total: int
    records_per_s: float
    eta_s: float


SNAPSHOT = WindowedSnapshot("340884", "production", 120, 100, 20, datetime(2025, 1, 3, tzinfo=UTC), 3, 731, 12.0, 240.0)


def test_plain_lines_show_the_window_facts_when_the_snapshot_has_them() -> None:
    out = io.StringIO()
    printer = ProgressPrinter(out, interval_s=0.0)
    printer(SNAPSHOT)
    assert out.getvalue().splitlines() == [
        "progress: production[340884] read=120 written=100 unchanged=20 12.0/s window 2025-01-03 3/731 eta 4 min"
    ]


def test_plain_lines_do_not_repeat_the_same_counts() -> None:
    out = io.StringIO()
    printer = ProgressPrinter(out, interval_s=0.0)
    printer(StreamReport("1", "jobs", read=5, written=4))
    printer(StreamReport("1", "jobs", read=5, written=4))
    printer(StreamReport("1", "jobs", read=6, written=5))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[1].startswith("progress: jobs[1] read=6 written=5 unchanged=0")


def test_the_live_table_shows_counts_rate_window_and_time_left() -> None:
    display = LiveProgress(io.StringIO())
    display(SNAPSHOT)
    display(StreamReport("340884", "jobs", read=7, written=7))
    rendered = io.StringIO()
    Console(file=rendered, width=160).print(display.table())
    text = rendered.getvalue()
    production = next(line for line in text.splitlines() if "production" in line).split()
    assert production == ["340884", "production", "120", "100", "20", "12.0", "2025-01-03", "3/731", "4", "min"]
    assert any(line.split()[:5] == ["340884", "jobs", "7", "7", "0"] for line in text.splitlines())


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_the_live_table_and_a_pipe_gets_lines() -> None:
    assert isinstance(progress_display(_Terminal()), LiveProgress)
    assert isinstance(progress_display(io.StringIO()), ProgressPrinter)


def test_run_does_not_log_every_http_request_unless_verbose(tmp_path: Path) -> None:
    plant = SimulatedPlant(seed=6, size=TINY)
    with FakePlex(plant) as plex, FakeCDF() as cdf:
        config = config_for(plex.base_url, cdf, plant, tmp_path)
        config["logging"] = {"level": "INFO", "json": True}
        path = write(tmp_path / "c.yaml", config)
        command = [sys.executable, "-m", "plex_cognite.cli", "run", "--config", str(path), "--once"]
        quiet = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert quiet.returncode == 0, quiet.stderr[-2000:]
        assert "run finished" in quiet.stderr
        assert "HTTP Request" not in quiet.stderr
        verbose = subprocess.run([*command[:3], "--verbose", *command[3:]], capture_output=True, text=True, timeout=120)
        assert verbose.returncode == 0
        assert "HTTP Request" in verbose.stderr


@dataclass
class ReportWithTotal:
    """A StreamReport-like snapshot that counts completed windows in `windows` and knows the total."""

    pcn: str
    stream: str
    read: int
    written: int
    unchanged: int
    windows: int
    windows_total: int


def test_completed_windows_are_shown_against_the_total_once_it_is_known() -> None:
    out = io.StringIO()
    printer = ProgressPrinter(out, interval_s=0.0)
    printer(ReportWithTotal("1", "scrap", 10, 10, 0, windows=4, windows_total=9))
    printer(StreamReport("1", "jobs", read=3, windows=0))
    assert out.getvalue().splitlines()[-1] == (
        "progress: scrap[1] read=10 written=10 unchanged=0 4/9; jobs[1] read=3 written=0 unchanged=0"
    )


def test_the_live_table_leaves_out_columns_no_stream_has_yet() -> None:
    display = LiveProgress(io.StringIO())
    display(StreamReport("340884", "jobs", read=7, written=7))
    rendered = io.StringIO()
    Console(file=rendered, width=160).print(display.table())
    assert rendered.getvalue().splitlines()[0].split() == ["pcn", "stream", "read", "written", "unchanged"]
