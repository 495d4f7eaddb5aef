from __future__ import annotations

import gc
import json
import os
import tracemalloc
import weakref
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from plex_cognite.core.state import LocalStateStore, MemoryStateStore, StreamState, _line_key
from plex_cognite.errors import StateError

T0 = datetime(2025, 1, 1, tzinfo=UTC)
T1 = datetime(2025, 1, 2, tzinfo=UTC)


def sample_state() -> StreamState:
    state = StreamState(watermark=T1)
    state.windows.add(T0, T1)
    state.set_hash("PCN1_PART_a", b"\x01" * 8)
    state.set_hash("PCN1_PART_b", b"\x02" * 8)
    state.deferred["PCN1_JOB_x"] = {"external_id": "PCN1_JOB_x"}
    return state


async def test_local_store_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "state.json"
    store = LocalStateStore(path)
    state = sample_state()
    await store.commit("1", "parts", state)
    assert state.dirty_hashes == frozenset()
    loaded = await LocalStateStore(path).load("1", "parts")
    assert loaded.watermark == T1
    assert list(loaded.windows) == [(T0, T1)]
    assert loaded.hash_of("PCN1_PART_b") == b"\x02" * 8
    assert loaded.deferred == {"PCN1_JOB_x": {"external_id": "PCN1_JOB_x"}}
    assert (await LocalStateStore(path).load("1", "jobs")).hash_count == 0


async def test_local_store_hashes_are_compact(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    await LocalStateStore(path).commit("1", "parts", sample_state())
    header, record = (json.loads(line) for line in path.read_text().splitlines())
    assert header == {"format": "plex-cognite-state", "version": 2}
    assert record["set"]["PCN1_PART_a"] == "AQEBAQEBAQE="


async def test_a_commit_appends_only_what_changed(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    await LocalStateStore(path).commit("1", "parts", sample_state())
    store = LocalStateStore(path)
    state = await store.load("1", "parts")
    state.set_hash("PCN1_PART_b", b"\x09" * 8)
    state.forget_hash("PCN1_PART_a")
    state.windows.add(T1, T1 + (T1 - T0))
    before = path.read_bytes()
    await store.commit("1", "parts", state)
    await store.commit("1", "parts", state)  # nothing changed: a line with no hashes
    after = path.read_bytes()
    assert after.startswith(before)
    first, second = (json.loads(line) for line in after[len(before) :].splitlines())
    assert (first["set"], first["drop"], first["whole"]) == ({"PCN1_PART_b": "CQkJCQkJCQk="}, ["PCN1_PART_a"], False)
    assert second["set"] == {}
    loaded = await LocalStateStore(path).load("1", "parts")
    assert dict(loaded.hashes()) == {"PCN1_PART_b": b"\x09" * 8}
    assert list(loaded.windows) == [(T0, T1 + (T1 - T0))]


async def test_a_state_the_store_did_not_load_replaces_the_stream_whole(tmp_path: Path) -> None:
    store = LocalStateStore(tmp_path / "state.json")
    await store.commit("1", "parts", sample_state())
    fresh = StreamState()
    fresh.set_hash("only", b"\x07" * 8)
    await store.commit("1", "parts", fresh)
    assert dict((await LocalStateStore(tmp_path / "state.json").load("1", "parts")).hashes()) == {"only": b"\x07" * 8}


async def test_a_torn_last_line_was_never_acknowledged_and_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store = LocalStateStore(path)
    state = sample_state()
    await store.commit("1", "parts", state)
    with path.open("ab") as handle:
        handle.write(b'{"key":"1:parts","whole":false,"meta":{},"set":{"PCN1_PART_a":"AAAA')
    reopened = LocalStateStore(path)
    loaded = await reopened.load("1", "parts")
    assert loaded.hash_of("PCN1_PART_a") == b"\x01" * 8
    loaded.set_hash("new", b"\x05" * 8)
    await reopened.commit("1", "parts", loaded)
    assert (await LocalStateStore(path).load("1", "parts")).hash_of("new") == b"\x05" * 8


async def test_a_state_file_of_the_earlier_format_is_read_and_rewritten_as_a_log(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    earlier = {"1:parts": {**sample_state().meta_json(), "hashes": {"PCN1_PART_a": "AQEBAQEBAQE="}}}
    path.write_text(json.dumps({"streams": earlier, "version": 1}))
    store = LocalStateStore(path)
    state = await store.load("1", "parts")
    assert state.hash_of("PCN1_PART_a") == b"\x01" * 8
    await store.commit("1", "jobs", StreamState())
    assert json.loads(path.read_text().splitlines()[0])["version"] == 2
    assert (await LocalStateStore(path).load("1", "parts")).hash_of("PCN1_PART_a") == b"\x01" * 8


@pytest.fixture
def small_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state file whose log may be compacted from 2,000 bytes on (not 4 MiB)."""
    monkeypatch.setattr("plex_cognite.core.state._COMPACT_MIN_BYTES", 2000)
    return tmp_path / "state.json"


async def test_the_log_is_compacted_and_keeps_every_stream(small_log: Path) -> None:
    path = small_log
    store = LocalStateStore(path)
    await store.commit("1", "jobs", sample_state())
    state = await store.load("1", "parts")
    for round_ in range(200):
        state.set_hash(f"x{round_ % 7}", round_.to_bytes(8, "big"))
        await store.commit("1", "parts", state)
    assert path.stat().st_size < 2000
    loaded = await LocalStateStore(path).load("1", "parts")
    assert dict(loaded.hashes()) == {f"x{r % 7}": r.to_bytes(8, "big") for r in range(193, 200)}
    assert (await LocalStateStore(path).load("1", "jobs")).hash_of("PCN1_PART_a") == b"\x01" * 8


async def test_a_log_that_only_grows_with_new_digests_is_not_compacted(small_log: Path) -> None:
    # A first run: every commit adds digests and supersedes little, so rewriting the log would gain nothing.
    path = small_log
    store = LocalStateStore(path)
    state = await store.load("1", "jobs")
    for batch in range(40):
        for i in range(20):
            state.set_hash(f"PCN1_JOB_{batch:02d}_{i:02d}", (batch * 20 + i).to_bytes(8, "big"))
        await store.commit("1", "jobs", state)
    assert path.stat().st_size > 4 * 2000  # far past the floor and 4x the first (compacting) write ...
    assert len(path.read_text().splitlines()) == 1 + 40  # ... yet every commit was appended: header + 40 lines
    loaded = await LocalStateStore(path).load("1", "jobs")
    assert dict(loaded.hashes()) == dict(state.hashes())


async def test_a_compaction_holds_one_streams_digests_at_a_time(
    small_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = small_log
    store = LocalStateStore(path)
    for stream in ("jobs", "parts", "scrap"):
        await store.commit("1", stream, sample_state())
    replayed: list[list[str]] = []
    replay = LocalStateStore._replay

    def recording(self: LocalStateStore, only: str | None, seen: set[str] | None = None) -> dict[str, object]:
        entries = replay(self, only, seen)
        replayed.append(sorted(entries))
        return entries  # type: ignore[return-value]

    monkeypatch.setattr(LocalStateStore, "_replay", recording)
    state = await store.load("1", "parts")
    for round_ in range(200):  # the same seven digests over and over: the log is mostly superseded lines
        state.set_hash(f"x{round_ % 7}", round_.to_bytes(8, "big"))
        await store.commit("1", "parts", state)
    assert path.stat().st_size < 4000  # compacted
    assert replayed
    assert max(map(len, replayed)) == 1  # every replay, compactions' included, built one stream's entry only
    for stream in ("jobs", "scrap"):
        assert (await LocalStateStore(path).load("1", stream)).hash_of("PCN1_PART_a") == b"\x01" * 8


async def test_loading_a_stream_skips_the_other_streams_lines_unparsed(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store = LocalStateStore(path)
    await store.commit("1", "jobs", sample_state())
    await store.commit("1", "parts", sample_state())
    header, jobs, parts = path.read_text().splitlines()
    broken = jobs.replace('"set":{', '"set":{oops', 1)  # still starts with its key, but is no JSON
    path.write_text("\n".join([header, broken, parts]) + "\n")
    assert (await LocalStateStore(path).load("1", "parts")).hash_of("PCN1_PART_b") == b"\x02" * 8
    with pytest.raises(StateError, match="unreadable or corrupt"):
        await LocalStateStore(path).load("1", "jobs")


def test_a_line_key_with_escapes_is_read_by_parsing_the_line() -> None:
    line = orjson.dumps({"key": 'a"b\\c', "whole": True, "meta": {}, "set": {}}) + b"\n"
    assert _line_key(line) == 'a"b\\c'
    assert _line_key(b'{"key":"1:jobs","whole":false}\n') == "1:jobs"
    with pytest.raises(orjson.JSONDecodeError):
        _line_key(b"not json\n")


async def test_compaction_splits_a_big_stream_over_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Neither writing nor replaying the log holds a big stream's digests as one JSON object.
    monkeypatch.setattr("plex_cognite.core.state._HASHES_PER_LINE", 4)
    path = tmp_path / "state.json"
    state = sample_state()
    for i in range(9):
        state.set_hash(f"PCN1_PART_{i}", i.to_bytes(8, "big"))
    await LocalStateStore(path).commit("1", "parts", state)  # the first commit writes the file compacted
    _header, *records = (json.loads(line) for line in path.read_text().splitlines())
    assert [(r["whole"], len(r["set"])) for r in records] == [(True, 4), (False, 4), (False, 3)]
    assert all(r["meta"] == {} for r in records[1:])
    loaded = await LocalStateStore(path).load("1", "parts")
    assert dict(loaded.hashes()) == dict(state.hashes())
    assert loaded.meta_json() == state.meta_json()


async def _nine_new_digests(path: Path) -> tuple[LocalStateStore, StreamState]:
    """A store over a committed `sample_state()`, and that state loaded with nine more digests set."""
    await LocalStateStore(path).commit("1", "parts", sample_state())
    store = LocalStateStore(path)
    state = await store.load("1", "parts")
    for i in range(9):
        state.set_hash(f"PCN1_PART_{i}", i.to_bytes(8, "big"))
    return store, state


async def test_a_big_commit_is_appended_over_several_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("plex_cognite.core.state._HASHES_PER_LINE", 4)
    path = tmp_path / "state.json"
    store, state = await _nine_new_digests(path)
    state.forget_hash("PCN1_PART_a")
    state.windows.add(T1, T1 + (T1 - T0))
    before = path.read_bytes()
    await store.commit("1", "parts", state)
    added = [json.loads(line) for line in path.read_bytes()[len(before) :].splitlines()]
    assert [(r["whole"], len(r["set"])) for r in added] == [(False, 4), (False, 4), (False, 1)]
    assert added[0]["drop"] == ["PCN1_PART_a"]
    assert "windows" in added[0]["meta"]
    assert all(r["meta"] == {} and "drop" not in r for r in added[1:])
    loaded = await LocalStateStore(path).load("1", "parts")
    assert dict(loaded.hashes()) == dict(state.hashes())
    assert loaded.meta_json() == state.meta_json()


async def test_a_commit_torn_after_some_of_its_lines_keeps_those(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The lines before the tear hold digests of acknowledged writes: keeping them is safe, and the tear is dropped.
    monkeypatch.setattr("plex_cognite.core.state._HASHES_PER_LINE", 4)
    path = tmp_path / "state.json"
    store, state = await _nine_new_digests(path)
    before = len(path.read_bytes())
    await store.commit("1", "parts", state)
    data = path.read_bytes()
    second_end = data.index(b"\n", data.index(b"\n", before) + 1) + 1
    path.write_bytes(data[: second_end + 20])  # a crash part-way through the commit's third line
    reopened = LocalStateStore(path)
    loaded = await reopened.load("1", "parts")
    kept, written = dict(loaded.hashes()), dict(state.hashes())
    assert kept.items() <= written.items()
    assert len(kept) == len(written) - 1  # 8 of the 9 new digests: the two complete lines of 4
    missing = next(xid for xid in written if xid not in kept)
    loaded.set_hash(missing, written[missing])
    await reopened.commit("1", "parts", loaded)  # the torn line goes: the log is rewritten
    assert dict((await LocalStateStore(path).load("1", "parts")).hashes()) == written


async def test_compaction_carries_another_streams_corrupt_digest_over(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    bad = {"hashes": {"PCN1_PART_a": 12, "PCN1_PART_b": "AQEBAQEBAQE="}}
    path.write_text(json.dumps({"version": 1, "streams": {"1:parts": bad}}))  # the earlier format: rewritten
    store = LocalStateStore(path)
    await store.commit("1", "jobs", sample_state())
    keys = [json.loads(line).get("key") for line in path.read_text().splitlines()]
    assert keys == [None, "1:jobs", "1:parts"]  # rewritten, sorted by stream
    assert (await LocalStateStore(path).load("1", "jobs")).hash_of("PCN1_PART_b") == b"\x02" * 8
    with pytest.raises(StateError, match=r"PCN 1, stream parts.*PCN1_PART_a"):
        await LocalStateStore(path).load("1", "parts")


async def test_local_store_leaves_no_temp_files(tmp_path: Path) -> None:
    store = LocalStateStore(tmp_path / "state.json")
    for _ in range(3):
        await store.commit("1", "parts", sample_state())
    assert sorted(os.listdir(tmp_path)) == ["state.json"]


async def test_corrupt_state_file_is_a_clear_error_not_a_reset(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"version": 1, "streams": {"1:parts": {')
    with pytest.raises(StateError, match=r"corrupt.*never resets state"):
        await LocalStateStore(path).load("1", "parts")
    assert path.read_text().startswith('{"version": 1')  # untouched


async def test_corrupt_entry_names_the_stream(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"version": 1, "streams": {"1:parts": {"hashes": {"x": "not base64!"}}}}))
    with pytest.raises(StateError, match="PCN 1, stream parts"):
        await LocalStateStore(path).load("1", "parts")


async def test_earlier_format_hashes_that_are_not_an_object_name_the_stream(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"version": 1, "streams": {"1:parts": {"hashes": ["AQEBAQEBAQE="]}}}))
    with pytest.raises(StateError, match=r"entry for 1:parts is corrupt \(hashes must be an object"):
        await LocalStateStore(path).load("1", "parts")


async def test_foreign_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("[1, 2, 3]")
    with pytest.raises(StateError, match="not a plex-cognite state file"):
        await LocalStateStore(path).load("1", "parts")


async def test_memory_store_returns_copies() -> None:
    store = MemoryStateStore()
    state = sample_state()
    await store.commit("1", "parts", state)
    loaded = await store.load("1", "parts")
    loaded.set_hash("PCN1_PART_c", b"\x03" * 8)
    assert (await store.load("1", "parts")).hash_of("PCN1_PART_c") is None


def test_dirty_tracking() -> None:
    state = StreamState()
    state.set_hash("a", b"1" * 8)
    state.mark_clean()
    state.set_hash("a", b"1" * 8)
    assert state.dirty_hashes == frozenset()
    state.set_hash("a", b"2" * 8)
    state.forget_hash("b")
    assert state.dirty_hashes == {"a"}
    state.forget_hash("a")
    assert state.hash_of("a") is None


def test_a_first_run_holds_each_id_once_until_it_commits() -> None:
    # Every id of a first run is changed until the stream commits (a list stream commits rarely): the
    # changes are flags in the digest table, not a second copy of every id as a string (about 14 MiB for the
    # 100k jobs of a big plant).
    ids = [f"PCN340884_JOB_713f4824-0005-4000-8000-{i:012x}" for i in range(20_000)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        state = StreamState()
        for i, xid in enumerate(ids):
            state.set_hash(xid.encode().decode(), i.to_bytes(8, "little"))  # an id string of its own, as items have
        per_id = (tracemalloc.get_traced_memory()[0] - before) / len(ids)
    finally:
        tracemalloc.stop()
    assert len(dict(state.hash_changes()[0])) == len(ids)
    # Measured: about 90 bytes an id; about 290 with a set of the changed ids.
    assert per_id < 130, per_id


def test_hash_changes_split_what_was_set_from_what_was_dropped() -> None:
    state = StreamState()
    for xid in ("kept", "reset", "gone", "back"):
        state.set_hash(xid, b"1" * 8)
    state.mark_clean()
    state.set_hash("reset", b"2" * 8)
    state.set_hash("new", b"3" * 8)
    state.forget_hash("gone")
    state.forget_hash("back")
    state.set_hash("back", b"4" * 8)  # dropped, then set again: only set
    state.set_hash("brief", b"5" * 8)
    state.forget_hash("brief")  # set, then dropped: only dropped
    pairs, dropped = state.hash_changes()
    assert dict(pairs) == {"reset": b"2" * 8, "new": b"3" * 8, "back": b"4" * 8}
    assert sorted(dropped) == ["brief", "gone"]
    assert state.dirty_hashes == {"reset", "new", "back", "brief", "gone"}
    state.mark_clean()
    assert (list(state.hash_changes()[0]), state.hash_changes()[1]) == ([], [])


async def test_the_store_does_not_keep_a_finished_streams_state_alive(tmp_path: Path) -> None:
    # A stream's digests are megabytes on a big plant: once its extractor drops its state, nothing else holds it.
    store = LocalStateStore(tmp_path / "state.json")
    state = await store.load("1", "jobs")
    state.set_hash("PCN1_JOB_a", b"\x01" * 8)
    await store.commit("1", "jobs", state)
    gone = weakref.ref(state)
    del state
    gc.collect()
    assert gone() is None
    # Another state object committed for the stream is written whole: it replaces the stream's entry.
    other = StreamState()
    other.set_hash("PCN1_JOB_b", b"\x02" * 8)
    await store.commit("1", "jobs", other)
    loaded = await LocalStateStore(tmp_path / "state.json").load("1", "jobs")
    assert dict(loaded.hashes()) == {"PCN1_JOB_b": b"\x02" * 8}


async def test_unchanged_deferred_items_are_not_repeated_on_every_commit(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store = LocalStateStore(path)
    state = await store.load("1", "jobs")
    state.deferred.update({f"PCN1_JOB_{i}": {"external_id": f"PCN1_JOB_{i}", "pad": "x" * 200} for i in range(50)})
    await store.commit("1", "jobs", state)
    size = path.stat().st_size
    state.set_hash("PCN1_JOB_a", b"\x01" * 8)
    await store.commit("1", "jobs", state)
    assert path.stat().st_size - size < 200
    del state.deferred["PCN1_JOB_3"]
    await store.commit("1", "jobs", state)
    loaded = await LocalStateStore(path).load("1", "jobs")
    assert len(loaded.deferred) == 49
    assert loaded.hash_of("PCN1_JOB_a") == b"\x01" * 8
