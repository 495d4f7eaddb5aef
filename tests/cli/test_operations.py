"""`plex-cognite run` in production shape: health and metrics served, runs reported to the extraction pipeline."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import SimulatedPlant
from tests.e2e.conftest import E2E_SIZE
from tests.test_cli import write_config

pytestmark = pytest.mark.timeout(120)
PIPELINE = "plex-cognite"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def with_pipeline(config: Path, cdf: FakeCDF, **extra: object) -> None:
    [data_set] = cdf.preload("datasets", [{"externalId": "plex", "name": "Plex"}])
    cdf.preload("extpipes", [{"externalId": PIPELINE, "name": "Plex", "dataSetId": data_set["id"]}])
    settings = yaml.safe_load(config.read_text())
    settings["cdf"]["extraction_pipeline_external_id"] = PIPELINE
    for section, values in extra.items():
        settings.setdefault(section, {}).update(values)
    config.write_text(yaml.safe_dump(settings))


def test_continuous_run_serves_health_and_metrics_reports_runs_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    plant = SimulatedPlant(seed=8, size=E2E_SIZE)
    port = free_port()
    with FakePlex(plant) as plex, FakeCDF() as cdf:
        config = write_config(tmp_path / "c.yaml", plex.base_url, cdf, plant)
        with_pipeline(
            config,
            cdf,
            extraction={"interval": "1s"},
            metrics={"enabled": True, "port": port},
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "plex_cognite.cli", "run", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            passes, deadline = 0, time.monotonic() + 90
            while passes < 2 and time.monotonic() < deadline:
                passes += process.stdout.readline().startswith("total")
            assert passes == 2
            base = f"http://127.0.0.1:{port}"
            assert httpx.get(f"{base}/healthz").status_code == 200
            ready = httpx.get(f"{base}/readyz")
            assert ready.status_code == 200, ready.text
            scrape = httpx.get(f"{base}/metrics").text
            for metric in (
                "plex_cognite_records_read_total",
                "plex_cognite_api_request_duration_seconds_count",
                "plex_cognite_extraction_duration_seconds_count",
                "plex_cognite_passes_total",
                "plex_cognite_cache_misses_total",
            ):
                assert metric in scrape, metric
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
        statuses = [run["status"] for run in cdf.extpipe_runs]
        assert statuses.count("success") >= 2
        assert "seen" in statuses
        assert "failure" not in statuses


def test_a_rejected_plex_key_is_reported_as_a_short_failure_run(tmp_path: Path) -> None:
    plant = SimulatedPlant(seed=8, size=E2E_SIZE)
    with FakePlex(plant) as plex, FakeCDF() as cdf:
        config = write_config(tmp_path / "c.yaml", plex.base_url, cdf, plant, api_key="wrong-key")
        with_pipeline(config, cdf)
        done = subprocess.run(
            [sys.executable, "-m", "plex_cognite.cli", "run", "--config", str(config), "--once"],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        assert done.returncode == 1, done.stderr
        [run] = cdf.extpipe_runs
        assert run["status"] == "failure"
        assert "401" in run["message"]
        assert len(run["message"]) <= 1000
        assert "wrong-key" not in run["message"]
