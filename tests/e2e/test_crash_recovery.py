"""SIGKILL the CLI at random points, then re-run: nothing lost, nothing duplicated (classic resources or nodes).

Both fakes run as separate processes (`python -m plex_cognite.testing.fake_plex|fake_cdf`), so killing the extractor
keeps the servers' state; FakeCDF saves its store on SIGTERM, and the test inspects it afterwards.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from plex_cognite.config import SinkKind
from plex_cognite.testing.demo import verify_cdf
from plex_cognite.testing.fake_cdf import STATE_FILE, FakeCDF
from plex_cognite.testing.plant import PlantSize, SimulatedPlant

from .conftest import settings_for

pytestmark = pytest.mark.timeout(120)


def _spawn(module: str, portfile: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0", "--portfile", str(portfile), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _port(portfile: Path, process: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if portfile.exists() and portfile.read_text().strip():
            return int(portfile.read_text().split()[0])
        if process.poll() is not None:
            raise RuntimeError(f"fake server exited early with {process.returncode}")
        time.sleep(0.05)
    raise TimeoutError(f"no port in {portfile}")


class _Servers:
    def __init__(self, tmp: Path) -> None:
        self.data = tmp / "cdf-data"
        # Latency stretches a run to a few seconds, so the kills land mid-run.
        self.plex = _spawn(
            "plex_cognite.testing.fake_plex", tmp / "plex.port", "--seed", "0", "--size", "small", "--latency", "0.05"
        )
        self.cdf = _spawn("plex_cognite.testing.fake_cdf", tmp / "cdf.port", "--data", str(self.data))
        self.plex_url = f"http://127.0.0.1:{_port(tmp / 'plex.port', self.plex)}"
        self.cdf_url = f"http://127.0.0.1:{_port(tmp / 'cdf.port', self.cdf)}"

    def stop(self) -> None:
        for process in (self.plex, self.cdf):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in (self.plex, self.cdf):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[_Servers]:
    running = _Servers(tmp_path)
    try:
        yield running
    finally:
        running.stop()


def _config(tmp: Path, servers: _Servers, plant: SimulatedPlant, sink: SinkKind) -> Path:
    config = {
        "plex": {
            "base_url": servers.plex_url,
            "api_key": "${FAKE_PLEX_KEY}",
            "pcns": [plant.pcn],
            "rate_limit_per_minute": 10000,
            "http2": False,
            "retry": {"initial_wait_s": 0.05, "max_wait_s": 0.5},
        },
        "cdf": {"base_url": servers.cdf_url, "project": "test-project", "token": "${FAKE_CDF_TOKEN}", "sink": sink},
        "extraction": {"start": plant.start.isoformat(), "end": plant.end.isoformat(), "window": "3h"},
        "state": {"backend": "local", "path": str(tmp / "state.json")},
        "dead_letters": {"backend": "local", "path": str(tmp / "dead.jsonl")},
        "logging": {"level": "ERROR"},
    }
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _cli(config: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "FAKE_PLEX_KEY": "test-key", "FAKE_CDF_TOKEN": "test-token"}
    return subprocess.Popen(
        [sys.executable, "-m", "plex_cognite.cli", "run", "--config", str(config), "--once"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


@pytest.mark.parametrize("sink", ["classic", "datamodeling"])
def test_sigkill_at_random_points_then_rerun_loses_and_duplicates_nothing(
    servers: _Servers, tmp_path: Path, sink: SinkKind
) -> None:
    plant = SimulatedPlant(0, "340884", PlantSize.named("small"))
    config = _config(tmp_path, servers, plant, sink)
    rng = random.Random(20251128)
    killed_mid_run = 0
    state_file = tmp_path / "state.json"
    for _ in range(3):
        process = _cli(config)
        # Kill right after a random number of state commits (plus a little jitter), not at a wall-clock time: the
        # kill then lands mid-run however fast the machine is, between a CDF write and its commit or just after one.
        commits_to_wait = rng.randint(1, 4)
        commits, last_seen = 0, state_file.stat().st_mtime_ns if state_file.exists() else 0
        deadline = time.monotonic() + 30
        while commits < commits_to_wait and process.poll() is None and time.monotonic() < deadline:
            seen = state_file.stat().st_mtime_ns if state_file.exists() else 0
            if seen != last_seen:
                commits, last_seen = commits + 1, seen
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.1))
        killed_mid_run += process.poll() is None
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    assert killed_mid_run >= 2, f"only {killed_mid_run} of 3 kills landed mid-run"
    final = _cli(config)
    out, err = final.communicate(timeout=90)
    assert final.returncode == 0, err.decode()[-2000:]

    servers.stop()
    with FakeCDF() as cdf:
        cdf.load(servers.data / STATE_FILE)
        settings = settings_for(_Url(servers.plex_url), cdf, plant, tmp_path, sink=sink)  # type: ignore[arg-type]
        assert verify_cdf(cdf, plant, settings) == []
    assert "test-key" not in out.decode() + err.decode()
    assert "test-token" not in out.decode() + err.decode()


class _Url:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
