"""Logging with no setup: one redacted line per event, the host's configuration when there is one.

Each scenario runs in a fresh interpreter, so the test session's own logging (pytest's handlers) cannot leak in.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import plex_cognite

SRC = Path(plex_cognite.__file__).parent
SECRET = "s3cr3t-plex-key-value"


def run(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC.parent)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=60, check=True
    )


def test_without_setup_an_info_event_prints_one_redacted_line_on_stderr() -> None:
    result = run(f"""
        from plex_cognite.observability.logs import get_logger
        log = get_logger("my_extractor")
        log.debug("too_detailed", rows=1)
        log.info("extraction_started", pcn="340884", api_key="{SECRET}", headers={{"Authorization": "Bearer abcdef"}})
    """)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "extraction_started" in lines[0]
    assert "pcn=340884" in lines[0]
    assert "[my_extractor]" in lines[0]
    assert "api_key=**********" in lines[0]
    assert SECRET not in result.stderr
    assert "abcdef" not in result.stderr
    assert result.stdout == ""


def test_without_handlers_a_level_set_on_a_logger_is_honoured() -> None:
    result = run("""
        import logging
        from plex_cognite.observability.logs import get_logger
        logging.getLogger("plex_cognite").setLevel(logging.DEBUG)
        logging.getLogger("quiet").setLevel(logging.ERROR)
        get_logger("plex_cognite.plex").debug("window_split", pcn="340884")
        get_logger("quiet.module").warning("dropped")
    """)
    assert "window_split" in result.stderr
    assert "dropped" not in result.stderr


def test_host_logging_configuration_is_followed_and_still_redacted() -> None:
    result = run(f"""
        import logging, sys
        logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format="HOST %(levelname)s %(name)s %(message)s")
        from plex_cognite.observability.logs import get_logger
        log = get_logger("my_extractor")
        log.info("below_the_host_level", pcn="340884")
        log.warning("slow_window", pcn="340884", api_key="{SECRET}")
    """)
    assert result.stderr == ""
    assert result.stdout.splitlines() == ["HOST WARNING my_extractor slow_window pcn='340884' api_key='**********'"]


def test_library_module_loggers_redact_without_any_setup() -> None:
    result = run(f"""
        from plex_cognite.plex import client, datasource, _history, _stream
        from plex_cognite.cache import redis
        for module in (client, datasource, _history, _stream, redis):
            module._log.info("probe", module=module.__name__, api_key="{SECRET}", password="{SECRET}")
    """)
    lines = result.stderr.splitlines()
    assert len(lines) == 5, result.stderr
    assert SECRET not in result.stderr
    assert all("api_key=**********" in line for line in lines)


def test_importing_the_library_configures_nothing() -> None:
    result = run("""
        import importlib, logging, pkgutil, structlog
        import plex_cognite
        for info in pkgutil.walk_packages(plex_cognite.__path__, "plex_cognite."):
            if not info.name.endswith("__main__"):
                importlib.import_module(info.name)
        print(len(logging.getLogger().handlers), structlog.is_configured())
    """)
    assert result.stdout.strip() == "0 False"


#: (module, name) pairs that build a logger without our processors: `logging.getLogger`, structlog's factories.
_FORBIDDEN = {
    ("logging", "getLogger"),
    ("structlog", "get_logger"),
    ("structlog", "getLogger"),
    ("structlog", "wrap_logger"),
    ("structlog.stdlib", "get_logger"),
}


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def test_every_module_obtains_its_logger_through_get_logger() -> None:
    """Only observability/logs.py may build loggers; anything else would bypass redaction."""
    offenders: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if relative == "observability/logs.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module is not None:
                offenders.extend(
                    f"{relative}:{node.lineno} imports {node.module}.{alias.name}"
                    for alias in node.names
                    if (node.module, alias.name) in _FORBIDDEN
                )
            elif isinstance(node, ast.Attribute) and (_dotted(node.value), node.attr) in _FORBIDDEN:
                offenders.append(f"{relative}:{node.lineno} uses {_dotted(node.value)}.{node.attr}")
    assert offenders == [], "use plex_cognite.observability.logs.get_logger instead:\n" + "\n".join(offenders)
