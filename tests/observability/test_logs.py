"""Logging: real output in JSON and console form, context binding, stdlib integration, secret redaction."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import string
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from plex_cognite.errors import ConfigurationError
from plex_cognite.observability.logs import (
    REDACTED,
    SECRET_KEY_PATTERN,
    bind_context,
    capture_logs,
    clear_context,
    configure_logging,
    get_logger,
    new_run_id,
    redact_secrets,
    unbind_context,
)

log = get_logger("plex_cognite.tests")


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    library_levels = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name, library_level in library_levels.items():
        logging.getLogger(name).setLevel(library_level)
    structlog.reset_defaults()
    clear_context()


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_json_lines_carry_level_logger_and_utc_timestamp() -> None:
    out = io.StringIO()
    configure_logging("INFO", json=True, stream=out)

    log.info("window done", stream="production", rows=1200)

    [event] = json_lines(out)
    assert event["event"] == "window done"
    assert (event["level"], event["logger"]) == ("info", "plex_cognite.tests")
    assert (event["stream"], event["rows"]) == ("production", 1200)
    assert event["timestamp"].endswith("Z")
    moment = datetime.fromisoformat(event["timestamp"])
    assert moment.utcoffset() is not None
    assert moment.utcoffset() == UTC.utcoffset(None)
    assert abs((datetime.now(UTC) - moment).total_seconds()) < 60


def test_format_follows_the_stream_unless_told() -> None:
    pipe, terminal = io.StringIO(), FakeTerminal()

    configure_logging(stream=pipe)
    log.info("to a pipe", n=1)
    configure_logging(stream=terminal)
    log.info("to a terminal", n=2)

    assert json_lines(pipe)[0]["event"] == "to a pipe"
    console = terminal.getvalue()
    assert "to a terminal" in console
    assert not console.lstrip().startswith("{")


def test_console_lines_are_readable() -> None:
    out = io.StringIO()
    configure_logging("DEBUG", json=False, stream=out)

    log.debug("resolved assets", count=3, api_key="plex-key-123")

    line = out.getvalue()
    assert "resolved assets" in line
    assert "[debug" in line
    assert "count=3" in line
    assert "plex-key-123" not in line
    assert "\x1b[" not in line  # no colour codes when the stream is not a terminal


def test_exceptions_are_formatted_in_both_modes() -> None:
    out, console = io.StringIO(), io.StringIO()
    configure_logging(json=True, stream=out)
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        log.exception("batch failed", batch=7)
    configure_logging(json=False, stream=console)
    try:
        raise ValueError("bad record")
    except ValueError as exc:
        log.error("record rejected", exc_info=exc)

    [event] = json_lines(out)
    assert event["level"] == "error"
    assert "Traceback (most recent call last)" in event["exception"]
    assert "ZeroDivisionError: division by zero" in event["exception"]
    assert "ValueError: bad record" in console.getvalue()


def test_reconfiguring_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    before = len(logging.getLogger().handlers)

    configure_logging(json=True, stream=first)
    configure_logging(json=True, stream=second)
    log.info("once")

    assert len(logging.getLogger().handlers) == before + 1
    assert first.getvalue() == ""
    assert [e["event"] for e in json_lines(second)] == ["once"]


def test_level_filters_and_bad_level_is_a_configuration_error() -> None:
    out = io.StringIO()
    configure_logging("warning", json=True, stream=out)
    log.info("hidden")
    log.warning("shown")
    assert [e["event"] for e in json_lines(out)] == ["shown"]

    with pytest.raises(ConfigurationError, match=r"logging\.level: unknown log level 'loud'"):
        configure_logging("loud", stream=out)


def test_bound_context_is_on_every_event_and_unbound_on_exit() -> None:
    out = io.StringIO()
    configure_logging(json=True, stream=out)
    run_id = new_run_id()

    with bind_context(run_id=run_id, pcn="340884"):
        log.info("outer")
        with bind_context(pcn="12", stream="jobs"):
            log.info("inner")
        log.info("outer again")
    log.info("after")

    events = {e["event"]: e for e in json_lines(out)}
    assert events["outer"]["run_id"] == run_id
    assert (events["inner"]["pcn"], events["inner"]["stream"], events["inner"]["run_id"]) == ("12", "jobs", run_id)
    assert events["outer again"]["pcn"] == "340884"
    assert "stream" not in events["outer again"]
    assert "run_id" not in events["after"]


def test_plain_binding_lasts_until_unbound() -> None:
    out = io.StringIO()
    configure_logging(json=True, stream=out)

    bind_context(run_id="r1", pcn="1")
    log.info("a")
    unbind_context("pcn")
    log.info("b")

    a, b = json_lines(out)
    assert (a["run_id"], a["pcn"]) == ("r1", "1")
    assert b["run_id"] == "r1"
    assert "pcn" not in b


async def test_context_stays_inside_its_asyncio_task() -> None:
    with capture_logs() as events:
        bind_context(run_id="run")

        async def work(pcn: str) -> None:
            with bind_context(pcn=pcn):
                await asyncio.sleep(0)
                log.info("task", mine=pcn)

        await asyncio.gather(work("1"), work("2"), work("3"))
        log.info("parent")

    by_mine = {e["mine"]: e for e in events if e["event"] == "task"}
    assert {k: (v["pcn"], v["run_id"]) for k, v in by_mine.items()} == {k: (k, "run") for k in ("1", "2", "3")}
    assert "pcn" not in next(e for e in events if e["event"] == "parent")


def test_new_run_ids_are_unique_and_sortable() -> None:
    ids = [new_run_id() for _ in range(200)]
    assert len(set(ids)) == 200
    assert all(len(i) == 29 and i[8] == "T" and i[15:17] == "Z-" for i in ids)


def test_stdlib_and_httpx_records_use_the_same_format() -> None:
    out = io.StringIO()
    configure_logging("INFO", json=True, stream=out, library_level=None)
    transport = httpx.MockTransport(lambda request: httpx.Response(204))

    with bind_context(run_id="r-42"), httpx.Client(transport=transport) as client:
        client.get("http://plex.test/api/parts")
        logging.getLogger("cognite.client").warning("retrying %s", "POST /assets", extra={"token": "cdf-tok-9"})

    events = json_lines(out)
    http = next(e for e in events if e["logger"] == "httpx")
    assert http["event"].startswith("HTTP Request: GET http://plex.test/api/parts")
    assert (http["level"], http["run_id"]) == ("info", "r-42")
    assert http["timestamp"].endswith("Z")
    sdk = next(e for e in events if e["logger"] == "cognite.client")
    assert (sdk["event"], sdk["token"], sdk["run_id"]) == ("retrying POST /assets", REDACTED, "r-42")
    assert "message" not in sdk


def test_chatty_libraries_are_quiet_by_default() -> None:
    out = io.StringIO()
    configure_logging("INFO", json=True, stream=out)
    with httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200))) as client:
        client.get("http://plex.test/")
    assert out.getvalue() == ""


def test_without_configuration_events_reach_stdlib_handlers(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="plex_cognite.tests")
    with bind_context(pcn="340884"):
        log.info("plain %s", "message", password="hunter2", rows=3)

    [record] = caplog.records
    assert record.getMessage() == "plain message password='**********' rows=3 pcn='340884'"
    assert "hunter2" not in caplog.text


def test_importing_configures_nothing() -> None:
    code = (
        "import logging, structlog\n"
        "import plex_cognite.observability.logs, plex_cognite.config\n"
        "plex_cognite.observability.logs.get_logger('x').info('quiet')\n"
        "print(len(logging.getLogger().handlers), structlog.is_configured())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.split() == ["0", "False"]
    assert "quiet" not in done.stdout


def test_capture_logs_sees_context_and_redaction() -> None:
    with capture_logs() as events, bind_context(run_id="r"):
        log.debug("captured", client_secret="s3", nested={"ok": 1})
    assert events == [
        {"event": "captured", "client_secret": REDACTED, "nested": {"ok": 1}, "run_id": "r", "log_level": "debug"}
    ]


# --- redaction ---------------------------------------------------------------------------------------------------

SECRET_KEYS = st.sampled_from(
    ["api_key", "API_KEY", "apiKey", "X-Plex-Connect-Api-Key", "client_secret", "Password", "passwd",
     "Authorization", "token", "cdf_token", "refresh-token", "secret", "credentials", "Cookie"]
)  # fmt: skip
SAFE_KEYS = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=8).map(lambda k: f"k_{k}")
SAFE_VALUES = st.one_of(st.integers(), st.booleans(), st.none(), st.text(alphabet=string.ascii_letters, max_size=10))


@st.composite
def events_with_a_secret(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    secret = "SEKRET" + draw(st.text(alphabet=string.ascii_letters + string.digits, min_size=6, max_size=16))
    kind = draw(st.sampled_from(["key", "key_list", "key_dict", "secretstr"]))
    holder: Any
    if kind == "secretstr":
        holder = SecretStr(secret)
    else:
        value: Any = {"key": secret, "key_list": [secret], "key_dict": {"inner": secret}}[kind]
        holder = {draw(SECRET_KEYS): value}
    for wrapper in draw(st.lists(st.sampled_from(["dict", "list", "tuple"]), max_size=5)):
        neighbours = draw(st.lists(SAFE_VALUES, max_size=3))
        if wrapper == "dict":
            holder = {**{f"{k}_n": v for k, v in zip(draw(st.lists(SAFE_KEYS, max_size=3)), neighbours, strict=False)},
                      draw(SAFE_KEYS): holder}  # fmt: skip
        else:
            position = draw(st.integers(0, len(neighbours)))
            items = [*neighbours[:position], holder, *neighbours[position:]]
            holder = items if wrapper == "list" else tuple(items)
    if isinstance(holder, dict) and draw(st.booleans()):
        return holder, secret
    return {draw(SAFE_KEYS): holder}, secret


@given(events_with_a_secret())
@settings(max_examples=150, deadline=None)
def test_redaction_never_leaks_a_secret_placed_anywhere(case: tuple[dict[str, Any], str]) -> None:
    fields, secret = case
    redacted = redact_secrets(None, "info", {"event": "e", **fields})
    assert secret not in json.dumps(redacted, default=str)
    assert secret not in repr(redacted)


@given(events_with_a_secret())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_rendered_output_never_contains_the_secret(case: tuple[dict[str, Any], str]) -> None:
    fields, secret = case
    before = repr(fields)
    out, console = io.StringIO(), io.StringIO()
    configure_logging("INFO", json=True, stream=out)
    log.info("event with secret", **fields)
    configure_logging("INFO", json=False, stream=console)
    log.info("event with secret", **fields)

    assert secret not in out.getvalue()
    assert secret not in console.getvalue()
    assert json_lines(out)[0]["event"] == "event with secret"
    assert repr(fields) == before  # the caller's objects are not modified


def test_redaction_keeps_ordinary_values_and_masks_inline_credentials() -> None:
    event = redact_secrets(
        None,
        "info",
        {"event": "call", "url": "https://connect.plex.com/mdm/v1/parts", "note": "sent Bearer abc.def-123", "n": 5},
    )
    assert event == {
        "event": "call",
        "url": "https://connect.plex.com/mdm/v1/parts",
        "note": f"sent Bearer {REDACTED}",
        "n": 5,
    }
    assert SECRET_KEY_PATTERN.search("X-Plex-Connect-Api-Key")
    assert not SECRET_KEY_PATTERN.search("pcn")
