"""FakeCDF as a separate process (`python -m plex_cognite.testing.fake_cdf`), with state kept in --data."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cognite.client import ClientConfig, CogniteClient
from cognite.client.credentials import Token
from cognite.client.data_classes import EventWrite

from tests._fakes import fake_process


@contextmanager
def fake_cdf_process(tmp_path: Path, data: Path) -> Iterator[CogniteClient]:
    args = ("--token", "proc-token", "--data", str(data))
    with fake_process("plex_cognite.testing.fake_cdf", tmp_path / "port", *args) as (port,):
        config = ClientConfig(
            client_name="t",
            project="test-project",
            credentials=Token("proc-token"),
            base_url=f"http://127.0.0.1:{port}",
        )
        yield CogniteClient(config)


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
