"""Helpers of the tests that run the extractor against both fakes (tests/e2e, tests/distributed)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import SimulatedPlant

_READ = re.compile(r"/(byids|list|search|aggregate)$|/token$")
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def write_requests(cdf: FakeCDF) -> list[str]:
    """`METHOD path` of every CDF request that writes (reads: byids, list, search, aggregate and token excluded)."""
    return [f"{r.method} {r.path}" for r in cdf.request_log if r.method in _WRITE_METHODS and not _READ.search(r.path)]


@pytest.fixture
def fakes(plant: SimulatedPlant) -> Iterator[tuple[FakePlex, FakeCDF]]:
    """FakePlex serving the directory's `plant` fixture, and an empty FakeCDF."""
    with FakePlex(plant) as plex, FakeCDF() as cdf:
        yield plex, cdf


@contextmanager
def fake_process(module: str, portfile: Path, *args: str, timeout_s: float = 20) -> Iterator[list[int]]:
    """Run `python -m <module> --port 0 --portfile <portfile> <args>`, yield the ports it wrote, then SIGTERM it.

    FakeCDF writes one port; FakePlex two (Connect, then Data Source). Asserts the process started in `timeout_s`
    and exited cleanly (status 0) after SIGTERM.
    """
    portfile.unlink(missing_ok=True)
    command = [sys.executable, "-m", module, "--port", "0", "--portfile", str(portfile), *args]
    process = subprocess.Popen(command, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + timeout_s
        while not portfile.exists():  # written atomically: once it exists, it is complete
            assert process.poll() is None, process.stderr.read() if process.stderr else "exited"
            assert time.monotonic() < deadline, f"{module} did not write its port file"
            time.sleep(0.02)
        yield [int(line) for line in portfile.read_text().split()]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
