"""SIGTERM / SIGINT during `plex-cognite run --once`: a partial report, 143 / 130, and a re-run that completes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plex_cognite.testing._faults import Fault
from plex_cognite.testing.demo import verify_cdf
from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import PlantSize, SimulatedPlant
from tests.e2e.conftest import settings_for
from tests.test_cli import write_config

pytestmark = pytest.mark.timeout(120)


def start_run(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "plex_cognite.cli", "run", "--config", str(config), "--once"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_first_commit(state_file: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not state_file.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before it could be stopped"


def test_sigterm_mid_run_prints_the_partial_report_exits_143_and_a_rerun_completes(tmp_path: Path) -> None:
    plant = SimulatedPlant(seed=4, size=PlantSize.named("small"))
    with FakePlex(plant) as plex, FakeCDF() as cdf:
        config = write_config(tmp_path / "c.yaml", plex.base_url, cdf, plant)
        slow = plex.faults.add(Fault("latency", delay_s=0.6, path="history"))  # history reads: a long run
        process = start_run(config)
        wait_for_first_commit(tmp_path / "state.json", process)
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)

        assert process.returncode == 143, err[-2000:]
        assert "stopped by SIGTERM" in err
        assert "the report above is partial" in err
        assert "total" in out  # the partial report
        assert "Traceback" not in err

        plex.faults.clear()
        del slow
        rerun = start_run(config)
        out, err = rerun.communicate(timeout=90)
        assert rerun.returncode == 0, err[-2000:]
        assert verify_cdf(cdf, plant, settings_for(plex, cdf, plant, tmp_path)) == []


SECOND_SIGNAL = """
import asyncio, os, signal, time
from plex_cognite.cli._run import GracefulStop

async def main():
    stop = GracefulStop()
    stop.install()
    os.kill(os.getpid(), signal.SIGTERM)
    await stop.wait()                      # the first signal asks for a graceful stop
    print("graceful stop requested", flush=True)
    os.kill(os.getpid(), signal.SIGINT)    # the second one must not wait for it
    await asyncio.sleep(30)

asyncio.run(main())
"""


def test_a_second_signal_stops_at_once() -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", SECOND_SIGNAL], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 130, done.stderr
    assert time.monotonic() - started < 15
    assert "graceful stop requested" in done.stdout
    assert "SIGTERM: stopping after committing what CDF acknowledged" in done.stderr
    assert "SIGINT again: stopping now" in done.stderr
