"""Quick Start, logging: `get_logger(__name__).info("extraction_started", ...)` with no setup call.

The snippet runs in a fresh interpreter, so nothing the test session configured (pytest's log handlers) leaks in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import plex_cognite

API_KEY = "qs-plex-api-key-0001"

SNIPPET = f"""
from plex_cognite import get_logger

logger = get_logger(__name__)
logger.info("extraction_started", pcn="340884", api_key="{API_KEY}", streams=["jobs", "production"])
"""


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PLEX_COGNITE_")}
    env["PYTHONPATH"] = str(Path(plex_cognite.__file__).parent.parent)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=60, check=True
    )


def test_logging_snippet_prints_one_line_with_its_fields_and_the_secret_masked() -> None:
    result = run_python(SNIPPET)
    output = result.stdout + result.stderr
    lines = output.splitlines()
    assert len(lines) == 1, output
    line = lines[0]
    assert "extraction_started" in line
    assert "pcn=340884" in line
    assert "streams=['jobs', 'production']" in line
    assert "api_key=**********" in line
    assert API_KEY not in output


def test_logging_snippet_follows_the_applications_logging_configuration() -> None:
    result = run_python(
        "import logging, sys\n"
        "logging.basicConfig(level=logging.INFO, stream=sys.stdout, format='%(levelname)s|%(name)s|%(message)s')\n"
        + SNIPPET
    )
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        "INFO|__main__|extraction_started pcn='340884' api_key='**********' streams=['jobs', 'production']"
    ]


def test_logging_snippet_after_configure_logging_writes_json_lines() -> None:
    result = run_python(
        "import sys\nfrom plex_cognite import configure_logging\n"
        "configure_logging('INFO', json=True, stream=sys.stdout)\n" + SNIPPET
    )
    (line,) = result.stdout.splitlines()
    event = json.loads(line)
    assert (event["event"], event["pcn"], event["api_key"]) == ("extraction_started", "340884", "**********")
    assert API_KEY not in result.stdout + result.stderr
