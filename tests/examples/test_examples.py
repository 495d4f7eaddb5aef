"""The examples are documentation that runs: each runs here against the fakes, and the notebook on a real kernel."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbclient
import nbformat
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name: str) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_custom_stream_writes_containers_and_a_rerun_writes_nothing() -> None:
    out = run_example("custom_stream.py")
    assert "RAW plex/containers now has" in out
    assert "standalone re-run: 0 written" in out


def test_notebook_script_runs_inside_a_running_loop() -> None:
    out = run_example("notebook.py")
    assert "differences from the expected CDF content: none" in out


@pytest.mark.slow
def test_quickstart_notebook_executes_on_a_real_jupyter_kernel() -> None:
    notebook = nbformat.read(EXAMPLES / "quickstart.ipynb", as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), "commit it stripped"
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3").execute(cwd=str(EXAMPLES))
    printed = "".join(
        output.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    )
    assert "container rows in RAW" in printed
    assert "ok" in printed
