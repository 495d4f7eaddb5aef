"""FakeCDF as a separate process (`python -m plex_cognite.testing.fake_cdf`), with state kept in --data."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cognite.client import ClientConfig, CogniteClient
from cognite.client.credentials import Token
from cognite.client.data_classes import EventWrite


@contextmanager
def fake_cdf_process(tmp_path: Path, data: Path) -> Iterator[CogniteClient]:
    portfile = tmp_path / "port"
    portfile.unlink(missing_ok=True)
    command = [sys.executable, "-m", "plex_cognite.testing.fake_cdf", "--port", "0", "--portfile", str(portfile)]
    command += ["--token", "proc-token", "--data", str(data)]
    process = subprocess.Popen(command, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while not portfile.exists():
            assert process.poll() is None, process.stderr.read() if process.stderr else "exited"
            assert time.monotonic() < deadline, "FakeCDF process did not write its port file"
            time.sleep(0.02)
        port = int(portfile.read_text())
        config = ClientConfig(
            client_name="t",
            project="test-project",
            credentials=Token("proc-token"),
            base_url=f"http://127.0.0.1:{port}",
        )
        yield CogniteClient(config)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_state_survives_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with fake_cdf_process(tmp_path, data) as client:
        client.events.create([EventWrite(external_id="e1"), EventWrite(external_id="e2")])
        client.raw.rows.insert("db", "t", {"k": {"v": 1}}, ensure_parent=True)
    assert (data / "fake_cdf_state.json").exists()
    with fake_cdf_process(tmp_path, data) as client:
        assert sorted(e.external_id for e in client.events.list(limit=None)) == ["e1", "e2"]  # type: ignore[type-var]
        assert client.raw.rows.retrieve("db", "t", "k").columns == {"v": 1}  # type: ignore[union-attr]
        created = client.events.create(EventWrite(external_id="e3"))
        assert created.id > max(e.id for e in client.events.list(external_id_prefix="e", limit=2))
