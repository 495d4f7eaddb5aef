"""The fakes as processes tell a user everything needed to point a config at them, and show what landed."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml

from plex_cognite.cli import main
from plex_cognite.testing.fake_cdf import FakeCDF


@contextmanager
def started(module: str, *args: str, last_line: str) -> Iterator[dict[str, str]]:
    """Start `python -m module`, read its banner up to the line starting with `last_line`, yield `key: value`s."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        values: dict[str, str] = {}
        for _ in range(20):
            line = process.stdout.readline()
            assert line, f"{module} printed no banner: {process.stderr.read() if process.stderr else ''}"
            key, _, value = line.strip().partition(": ")
            values[key] = value
            if line.strip().startswith(last_line):
                break
        yield values
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_a_config_written_from_the_banners_alone_runs_and_inspect_shows_what_landed(tmp_path: Path) -> None:
    plex_args = ("--size", "small", "--api-key", "banner-key")
    with (
        started("plex_cognite.testing.fake_plex", *plex_args, last_line="simulated history") as plex,
        started("plex_cognite.testing.fake_cdf", "--token", "banner-token", last_line="see what landed") as cdf,
    ):
        history = re.fullmatch(r"extraction\.start (\S+), extraction\.end (\S+)", plex["simulated history"])
        assert history is not None, plex
        pcns = yaml.safe_load(plex["plex.pcns"])
        assert plex["plex.api_key"] == "banner-key"
        assert cdf["cdf.token"] == "banner-token"
        config = {
            "plex": {"base_url": plex["plex.base_url"], "api_key": plex["plex.api_key"], "pcns": pcns},
            "cdf": {"base_url": cdf["cdf.base_url"], "project": cdf["cdf.project"], "token": cdf["cdf.token"]},
            "extraction": {"start": history[1], "end": history[2], "window": "7d"},
            "state": {"path": str(tmp_path / "state.json")},
            "dead_letters": {"path": str(tmp_path / "dead.jsonl")},
            "logging": {"level": "ERROR"},
        }
        path = tmp_path / "c.yaml"
        path.write_text(yaml.safe_dump(config))
        assert main(["run", "--config", str(path), "--once"]) == 0

        url = cdf["cdf.base_url"]
        summary = httpx.get(f"{url}/_admin/summary").json()
        assert summary["counts"]["assets"] > 0
        assert summary["counts"]["events"] > 0
        assert summary["counts"]["datapoints"] > 0

        shown = subprocess.run(
            [sys.executable, "-m", "plex_cognite.testing.fake_cdf", "inspect", "--url", url, "--type", "assets"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.splitlines()
        assert shown[0] == f"FakeCDF project test-project at {url}"
        counts = dict(line.split() for line in shown[1:8])
        assert int(counts["assets"]) == summary["counts"]["assets"]
        assert int(counts["events"]) == summary["counts"]["events"]
        assert any(line.startswith('{"') and '"externalId": "PCN' in line for line in shown)


def test_the_admin_endpoints_are_read_only_and_validate_their_parameters() -> None:
    with FakeCDF() as cdf:
        cdf.preload("assets", [{"externalId": f"a{i}", "name": f"A{i}"} for i in range(5)])
        base = f"{cdf.base_url}/_admin"
        listed = httpx.get(f"{base}/objects", params={"type": "assets", "limit": "2"}).json()
        assert [item["externalId"] for item in listed["items"]] == ["a0", "a1"]
        assert httpx.post(f"{base}/summary").status_code == 405
        assert httpx.get(f"{base}/objects", params={"type": "nodes"}).status_code == 400
        assert httpx.get(f"{base}/objects", params={"type": "assets", "limit": "x"}).status_code == 400
        assert httpx.get(f"{base}/nothing").status_code == 404
        assert cdf.request_counts("POST", "/assets") == 0


def test_inspect_says_what_to_check_when_nothing_runs_there(capsys: pytest.CaptureFixture[str]) -> None:
    from plex_cognite.testing.cdf_inspect import inspect_main
    from tests.cli._configs import closed_port

    assert inspect_main(["--url", f"http://127.0.0.1:{closed_port()}"]) == 1
    assert "is FakeCDF running at that URL?" in capsys.readouterr().err
