"""`plex-cognite check` proves what `run` needs: each missing precondition is one FAIL line on stderr naming it."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plex_cognite.cli import main
from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import SimulatedPlant
from tests.cli._configs import TINY, closed_port, config_for, write


@pytest.fixture
def plant() -> SimulatedPlant:
    return SimulatedPlant(seed=3, size=TINY)


@pytest.fixture
def plex(plant: SimulatedPlant) -> Iterator[FakePlex]:
    with FakePlex(plant) as fake:
        yield fake


@pytest.fixture
def cdf() -> Iterator[FakeCDF]:
    with FakeCDF() as fake:
        yield fake


@pytest.fixture
def full_config(plex: FakePlex, cdf: FakeCDF, plant: SimulatedPlant, tmp_path: Path, redis_url: str) -> dict[str, Any]:
    """Every precondition in use: data set, pipeline, RAW state and dead letters, Redis cache, Data Source."""
    config = config_for(plex.base_url, cdf, plant, tmp_path)
    username, password = plex.datasource_credentials()
    config["plex"]["datasource"] = {"base_url": plex.datasource_url, "username": username, "password": password}
    config["cdf"]["data_set_external_id"] = "plex"
    config["cdf"]["extraction_pipeline_external_id"] = "plex-cognite"
    config["state"] = {"backend": "raw", "raw_db": "plex_state"}
    config["dead_letters"] = {"backend": "raw", "raw_db": "plex_dead_letters"}
    config["cache"] = {"backend": "tiered", "redis_url": redis_url}
    return config


def provision(cdf: FakeCDF, *, data_set: bool = True, pipeline: bool = True) -> None:
    """Create the CDF resources a deployment sets up before the first run."""
    data_set_id = cdf.preload("datasets", [{"externalId": "plex" if data_set else "other", "name": "Plex"}])[0]["id"]
    if pipeline:
        cdf.preload("extpipes", [{"externalId": "plex-cognite", "name": "Plex", "dataSetId": data_set_id}])


def fail_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("FAIL")]


def test_check_passes_when_every_precondition_holds_and_then_run_succeeds(
    full_config: dict[str, Any], cdf: FakeCDF, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    provision(cdf)
    config = write(tmp_path / "c.yaml", full_config)

    assert main(["check", "--config", str(config)]) == 0
    captured = capsys.readouterr()
    assert fail_lines(captured.err) == []
    for subject in (
        "ok   config",
        "ok   Plex http://",
        "ok   Plex PCN",
        "ok   Plex Data Source",
        "ok   CDF credentials",
        "ok   CDF project test-project",
        "ok   CDF data set plex",
        "ok   CDF extraction pipeline plex-cognite",
        "ok   RAW database plex_state (state)",
        "ok   RAW database plex_dead_letters (dead_letters)",
        "ok   Redis redis://",
    ):
        assert subject in captured.out, subject
    assert "plan:   production: 2 window(s) per PCN x 1 PCN(s)" in captured.out
    assert "check: every precondition of run holds" in captured.out

    assert main(["run", "--config", str(config), "--once"]) == 0
    assert len(cdf.events) > 0


def test_the_plan_counts_windows_and_calls_at_the_configured_rate(
    full_config: dict[str, Any], cdf: FakeCDF, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    provision(cdf)
    full_config["plex"]["rate_limit_per_minute"] = 200
    full_config["plex"]["pcns"] = [full_config["plex"]["pcns"][0]]
    full_config["extraction"].update(start="2025-01-01T00:00:00Z", end="2026-12-02T00:00:00Z", window="1d")
    assert main(["check", "--config", str(write(tmp_path / "c.yaml", full_config))]) == 0
    out = capsys.readouterr().out
    # 700 days: 700 windows for each of production, scrap and workcenter_status, + 3 master data lists + jobs.
    assert "plan:   workcenter_status: 700 window(s) per PCN x 1 PCN(s)" in out
    assert "at least 2104 Plex call(s); at 200 calls/min (plex.rate_limit_per_minute) that is at least 11 min" in out


def _without_data_set(config: dict[str, Any], cdf: FakeCDF) -> str:
    provision(cdf, data_set=False)
    return "FAIL CDF data set plex: does not exist in project test-project; create it or fix cdf.data_set_external_id"


def _without_pipeline(config: dict[str, Any], cdf: FakeCDF) -> str:
    provision(cdf, pipeline=False)
    return "FAIL CDF extraction pipeline plex-cognite: does not exist"


def _with_an_unentitled_pcn(config: dict[str, Any], cdf: FakeCDF) -> str:
    provision(cdf)
    config["plex"]["pcns"] = [config["plex"]["pcns"][0], "999999"]
    return "FAIL Plex PCN 999999: Plex 401 REQUEST_NOT_AUTHENTICATED on /mdm/v1/buildings: the API key was rejected"


def _with_cdf_on_a_closed_port(config: dict[str, Any], cdf: FakeCDF) -> str:
    url = f"http://127.0.0.1:{closed_port()}"
    config["cdf"]["base_url"] = url
    return f"FAIL CDF {url}: CDF at {url} is unreachable: connection refused"


def _with_redis_on_a_closed_port(config: dict[str, Any], cdf: FakeCDF) -> str:
    provision(cdf)
    url = f"redis://127.0.0.1:{closed_port()}/0"
    config["cache"]["redis_url"] = url
    return f"FAIL Redis {url} (cache.redis_url): cannot reach it"


def _with_wrong_datasource_password(config: dict[str, Any], cdf: FakeCDF) -> str:
    provision(cdf)
    config["plex"]["datasource"]["password"] = "wrong"
    return "FAIL Plex Data Source http://127.0.0.1:"


@pytest.mark.parametrize(
    "break_it",
    [
        _without_data_set,
        _without_pipeline,
        _with_an_unentitled_pcn,
        _with_cdf_on_a_closed_port,
        _with_redis_on_a_closed_port,
        _with_wrong_datasource_password,
    ],
    ids=lambda f: f.__name__.strip("_"),
)
def test_a_missing_precondition_is_one_fail_line_on_stderr_and_a_non_zero_exit(
    break_it: Any, full_config: dict[str, Any], cdf: FakeCDF, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = copy.deepcopy(full_config)
    expected = break_it(config, cdf)

    assert main(["check", "--config", str(write(tmp_path / "c.yaml", config))]) == 1
    captured = capsys.readouterr()
    failures = fail_lines(captured.err)
    assert len(failures) == 1, captured.err
    assert failures[0].startswith(expected), failures[0]
    assert "FAIL" not in captured.out
    assert "plex-cognite: check failed: run would not start" in captured.err


def test_run_fails_where_check_failed(
    full_config: dict[str, Any], cdf: FakeCDF, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    provision(cdf, data_set=False)
    config = write(tmp_path / "c.yaml", full_config)
    assert main(["check", "--config", str(config)]) == 1
    assert main(["run", "--config", str(config), "--once"]) != 0
    assert "plex" in capsys.readouterr().err


def test_a_missing_raw_database_is_created_as_run_would(
    full_config: dict[str, Any], cdf: FakeCDF, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    provision(cdf)
    assert main(["check", "--config", str(write(tmp_path / "c.yaml", full_config))]) == 0
    assert "plex_state" in cdf.raw_tables()
    assert "ok   RAW database plex_state (state): created" in capsys.readouterr().out


def test_client_credentials_are_checked_through_the_token_endpoint(
    full_config: dict[str, Any], cdf: FakeCDF, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    provision(cdf)
    del full_config["cdf"]["token"]
    full_config["cdf"].update(client_id=cdf.client_id, client_secret=cdf.client_secret, token_url=cdf.token_url)
    assert main(["check", "--config", str(write(tmp_path / "good.yaml", full_config))]) == 0
    assert "ok   CDF credentials: credentials accepted (client_credentials" in capsys.readouterr().out

    full_config["cdf"]["client_secret"] = "wrong-secret"
    assert main(["check", "--config", str(write(tmp_path / "bad.yaml", full_config))]) == 1
    captured = capsys.readouterr()
    assert [line.split(":")[0] for line in fail_lines(captured.err)] == ["FAIL CDF credentials"]
    assert "wrong-secret" not in captured.out + captured.err


def test_a_wrong_cdf_token_fails_the_credentials_line(
    full_config: dict[str, Any], cdf: FakeCDF, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    full_config["cdf"]["token"] = "not-the-token"
    assert main(["check", "--config", str(write(tmp_path / "c.yaml", full_config))]) == 1
    captured = capsys.readouterr()
    failures = fail_lines(captured.err)
    assert len(failures) == 1
    assert failures[0].startswith("FAIL CDF credentials:")
    assert "401" in failures[0]
    assert "not-the-token" not in captured.out + captured.err


def test_a_project_the_credentials_do_not_reach_is_named(
    full_config: dict[str, Any], cdf: FakeCDF, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    full_config["cdf"]["project"] = "other-project"
    assert main(["check", "--config", str(write(tmp_path / "c.yaml", full_config))]) == 1
    failures = fail_lines(capsys.readouterr().err)
    assert failures == [
        "FAIL CDF project other-project: the credentials have no access to it (they reach: test-project); "
        "fix cdf.project"
    ]
