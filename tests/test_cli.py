"""The `plex-cognite` command: exit codes, one-line errors, no secrets, and the demo."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from plex_cognite.cli import main
from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import PlantSize, SimulatedPlant

TINY = PlantSize(
    buildings=1,
    workcenters=3,
    parts=10,
    jobs=30,
    production_entries=120,
    scrap_entries=20,
    workcenter_status_entries=40,
    containers=5,
    history_days=2,
)


def write_config(path: Path, plex_url: str, cdf: FakeCDF, plant: SimulatedPlant, api_key: str = "test-key") -> Path:
    config = {
        "plex": {
            "base_url": plex_url,
            "api_key": api_key,
            "pcns": [plant.pcn],
            "http2": False,
            "rate_limit_per_minute": 10000,
            "retry": {"initial_wait_s": 0.01, "max_wait_s": 0.05},
        },
        "cdf": {"base_url": cdf.base_url, "project": cdf.project, "token": cdf.token},
        "extraction": {"start": plant.start.isoformat(), "end": plant.end.isoformat(), "window": "1d"},
        "state": {"path": str(path.parent / "state.json")},
        "dead_letters": {"path": str(path.parent / "dead.jsonl")},
        "logging": {"level": "ERROR"},
    }
    path.write_text(yaml.safe_dump(config))
    return path


def test_demo_runs_and_verifies(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "verification: every event is linked, and CDF matches the plant exactly" in out
    assert "master_data" in out
    assert "workcenter_status" in out


def test_demo_with_the_datamodeling_sink_verifies_the_node_graph(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--sink", "datamodeling"]) == 0
    out = capsys.readouterr().out
    assert "verification: the node graph and its datapoints match the plant exactly" in out
    assert "instance space 'plex' holds 57 CogniteAsset, 196 CogniteActivity and 24 CogniteTimeSeries nodes" in out
    assert "CDF now holds" not in out  # no classic resources


def test_config_errors_are_one_line_per_problem_naming_the_field_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({"plex": {"api_key": "k", "pcns": ["12a"]}, "cdf": {}, "extraction": {}}))
    assert main(["run", "--config", str(config), "--once"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert all(line.startswith("plex-cognite: configuration error: ") for line in lines)
    assert lines[0].endswith("bad.yaml: 4 problems")
    fields = [line.removeprefix("plex-cognite: configuration error: ").split(":")[0] for line in lines[1:]]
    assert fields == ["plex.pcns[0]", "cdf.base_url", "cdf.project", "extraction.start"]


def test_a_single_config_problem_is_a_single_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "plex": {"api_key": "k", "pcns": ["12a"]},
                "cdf": {"base_url": "https://x.cognitedata.com", "project": "p", "token": "t"},
                "extraction": {"start": "2025-01-01"},
            }
        )
    )
    assert main(["check", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert err.startswith("plex-cognite: configuration error: ")
    assert "plex.pcns[0]" in err


def test_missing_config_file_is_a_config_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--config", str(tmp_path / "absent.yaml")]) == 2
    assert "not found" in capsys.readouterr().err


def test_run_once_succeeds_and_a_second_run_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plant = SimulatedPlant(seed=1, size=TINY)
    with FakePlex(plant) as plex, FakeCDF() as cdf:
        config = write_config(tmp_path / "c.yaml", plex.base_url, cdf, plant)
        assert main(["run", "--config", str(config), "--once"]) == 0
        out = capsys.readouterr().out
        assert "total" in out
        assert "FAILED" not in out
        assert main(["run", "--config", str(config), "--once"]) == 0
        lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("total")]
        assert lines
        assert lines[0].split()[2] == "0"


def test_run_failure_is_one_line_exit_1_without_secrets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plant = SimulatedPlant(seed=1, size=TINY)
    with FakePlex(plant) as plex, FakeCDF() as cdf:
        config = write_config(tmp_path / "c.yaml", plex.base_url, cdf, plant, api_key="wrong-secret-key")
        assert main(["run", "--config", str(config), "--once"]) == 1
        captured = capsys.readouterr()
        err_lines = [line for line in captured.err.splitlines() if line.startswith("plex-cognite:")]
        assert len(err_lines) == 1
        assert "401" in err_lines[0]
        assert "wrong-secret-key" not in captured.out + captured.err
        assert "Traceback" not in captured.err
        assert main(["--verbose", "run", "--config", str(config), "--once"]) == 1


def test_check_reports_both_apis(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plant = SimulatedPlant(seed=1, size=TINY)
    with FakePlex(plant) as plex, FakeCDF() as cdf:
        config = write_config(tmp_path / "c.yaml", plex.base_url, cdf, plant)
        assert main(["check", "--config", str(config)]) == 0
        out = capsys.readouterr().out
        assert "ok   Plex PCN" in out
        assert "ok   CDF project" in out
        assert "ok   state file" in out
        bad = write_config(tmp_path / "bad.yaml", plex.base_url, cdf, plant, api_key="nope")
        assert main(["check", "--config", str(bad)]) == 1
        captured = capsys.readouterr()
        assert "FAIL Plex PCN" in captured.err
        assert "FAIL" not in captured.out


def test_unknown_demo_size_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["demo", "--size", "huge"])
    assert exited.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_progress_printer_prints_every_stream_after_the_interval() -> None:
    import io

    from plex_cognite.cli._progress import ProgressPrinter
    from plex_cognite.core.extractor import StreamReport

    out = io.StringIO()
    printer = ProgressPrinter(out, interval_s=0.0)
    printer(StreamReport("1", "jobs", read=5, written=4))
    printer(StreamReport("1", "production", read=9))
    lines = out.getvalue().splitlines()
    assert lines[-1] == "progress: jobs[1] read=5 written=4 unchanged=0; production[1] read=9 written=0 unchanged=0"


def test_run_without_once_repeats_on_the_interval_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    plant = SimulatedPlant(seed=2, size=TINY)
    with FakePlex(plant) as plex, FakeCDF() as cdf:
        config = write_config(tmp_path / "c.yaml", plex.base_url, cdf, plant)
        settings = yaml.safe_load(config.read_text())
        settings["extraction"]["interval"] = "1s"
        config.write_text(yaml.safe_dump(settings))
        process = subprocess.Popen(
            [sys.executable, "-m", "plex_cognite.cli", "run", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            totals: list[str] = []
            deadline = time.monotonic() + 60
            while len(totals) < 2 and time.monotonic() < deadline:
                line = process.stdout.readline()
                if line.startswith("total"):
                    totals.append(line)
            assert len(totals) == 2, "the second pass never came"
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
    # "total  <read>  <written>  ...": the first pass wrote the plant, the second found nothing new to write.
    first_written, second_written = (int(line.split()[2]) for line in totals)
    assert first_written > 0
    assert second_written == 0
