"""Structured logging: structlog over the standard library, with context binding and secret redaction.

Nothing is configured on import. Every module of the library, and any user code, logs through
`get_logger(__name__)`, which works with no setup at all::

    from plex_cognite import get_logger

    get_logger(__name__).info("extraction_started", pcn="340884", api_key=settings.plex.api_key)
    # 2025-01-01T12:00:00.000000Z [info     ] extraction_started  [__main__] api_key=********** pcn=340884

Where an event goes depends on the host application:

- **Logging not configured** (no handler on the logger or any ancestor, root included): one console line per
  event on `sys.stderr`, INFO and above (or the level set on a `plex_cognite...` logger), like structlog's own
  default.
- **Logging configured** (`logging.basicConfig`, `dictConfig`, a framework's setup, or `configure_logging`): the
  event goes to the standard `logging` logger of that name, so the application's handlers, formats and levels
  apply (a plain formatter shows `event key=value ...`).

`configure_logging()` installs one root handler that renders every record, ours and those of the cognite-sdk,
httpx and any other library, the same way: JSON lines when the stream is not a terminal, readable console lines
when it is.

```python
from plex_cognite.observability.logs import bind_context, configure_logging, get_logger, new_run_id

configure_logging("INFO")
log = get_logger(__name__)
with bind_context(run_id=new_run_id(), pcn="340884"):
    log.info("window done", stream="production", rows=1200)  # carries run_id and pcn
```

Every event passes `redact_secrets`, configured or not: values under keys that look like credentials (`api_key`,
`secret`, `password`, `token`, `authorization`, ...) and every `SecretStr` are masked, in nested dicts and lists
too.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from contextvars import Token
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TextIO

import structlog
from pydantic import SecretBytes, SecretStr
from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = [
    "REDACTED",
    "ContextBinding",
    "bind_context",
    "capture_logs",
    "clear_context",
    "configure_logging",
    "get_logger",
    "new_run_id",
    "redact_secrets",
    "redact_text",
    "unbind_context",
]

#: What a masked value is replaced with.
REDACTED = "**********"

#: Keys whose values are masked (case-insensitive, anywhere in the key: `X-Plex-Connect-Api-Key`, `cdf_token`).
SECRET_KEY_PATTERN = re.compile(
    r"api[_-]?key|secret|passw(?:or)?d|token|authori[sz]ation|credential|cookie|private[_-]?key", re.IGNORECASE
)
# Credentials inside free text (for example a header echoed in an exception message).
_INLINE_SECRET = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{4,}")
_MAX_DEPTH = 20
_LEVELS = {"CRITICAL": 50, "ERROR": 40, "WARNING": 30, "WARN": 30, "INFO": 20, "DEBUG": 10, "NOTSET": 0}
#: Libraries whose INFO logs (one line per HTTP request) drown an extractor's own.
CHATTY_LIBRARIES = ("httpx", "httpx2", "httpcore", "httpcore2", "hpack", "h2", "urllib3", "cognite.client")


def _mask_inline(match: re.Match[str]) -> str:
    return f"{match.group(1)} {REDACTED}"


def redact_text(text: str) -> str:
    """Mask `Bearer <token>` and `Basic <credentials>` inside free text (error messages, URLs in messages)."""
    return _INLINE_SECRET.sub(_mask_inline, text)


def _redact_value(value: object, depth: int) -> object:
    if isinstance(value, SecretStr | SecretBytes):
        return REDACTED
    if depth > _MAX_DEPTH:
        return "<nested too deep>"
    if isinstance(value, Mapping):
        return {
            key: REDACTED if SECRET_KEY_PATTERN.search(str(key)) else _redact_value(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(item, depth + 1) for item in value]
    if isinstance(value, str):
        return _INLINE_SECRET.sub(_mask_inline, value)
    return value


def redact_secrets(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """A structlog processor that masks credentials anywhere in the event.

    Values under keys matching `SECRET_KEY_PATTERN` become `REDACTED`, whatever their type; `SecretStr` and
    `SecretBytes` values become `REDACTED` wherever they are; nested mappings, lists, tuples and sets are walked;
    `Bearer <token>` / `Basic <credentials>` inside strings are masked. Nested containers are copied, never
    mutated, so a caller's objects are untouched.
    """
    for key, value in list(event_dict.items()):
        if key in ("exc_info", "_record", "_from_structlog"):
            continue
        event_dict[key] = REDACTED if SECRET_KEY_PATTERN.search(key) else _redact_value(value, 0)
    return event_dict


class _State:
    """The handler `configure_logging` installed, so a second call replaces it instead of stacking handlers."""

    handler: logging.Handler | None = None


_PLAIN_SKIP = frozenset({"event", "timestamp", "level", "logger", "exc_info", "stack_info"})


class _EventDict(dict[str, Any]):
    """The event as it travels in a `LogRecord`: `ProcessorFormatter` renders it, any other formatter gets `str()`.

    So an application that never calls `configure_logging` (or pytest's `caplog`) sees `event key=value ...`.
    """

    def __str__(self) -> str:
        fields = " ".join(f"{key}={value!r}" for key, value in self.items() if key not in _PLAIN_SKIP)
        event = str(self.get("event", ""))
        return f"{event} {fields}" if fields else event


def _resolve_exc_info(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    # Capture the exception now, while it is being handled, not when (or in which thread) a handler formats it.
    exc_info = event_dict.get("exc_info")
    if exc_info is True:
        event_dict["exc_info"] = sys.exc_info()
    elif isinstance(exc_info, BaseException):
        event_dict["exc_info"] = (type(exc_info), exc_info, exc_info.__traceback__)
    if event_dict.get("exc_info") in (False, None, (None, None, None)):
        event_dict.pop("exc_info", None)
    return event_dict


#: Level of each logging method name structlog passes to processors.
_METHOD_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "msg": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "exception": logging.ERROR,
    "critical": logging.CRITICAL,
    "fatal": logging.CRITICAL,
}
#: Threshold when the host has configured no logging and set no level on our loggers.
_UNCONFIGURED_LEVEL = logging.INFO


def _host_logging(logger: WrappedLogger) -> bool:
    """True when the host application configured stdlib logging for this logger (a handler on it or an ancestor)."""
    return isinstance(logger, logging.Logger) and logger.hasHandlers()


def _unconfigured_level(logger: logging.Logger) -> int:
    """The threshold without handlers: a level set on the logger or a non-root ancestor, else INFO."""
    current: logging.Logger | None = logger
    while current is not None and current.parent is not None:  # the root logger has no parent
        if current.level != logging.NOTSET:
            return current.level
        current = current.parent
    return _UNCONFIGURED_LEVEL


def _filter_by_level(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Drop events below the threshold: the host's levels when it configured logging, INFO otherwise."""
    level = _METHOD_LEVELS.get(method_name, logging.INFO)
    if not isinstance(logger, logging.Logger):
        return event_dict
    enabled = logger.isEnabledFor(level) if _host_logging(logger) else level >= _unconfigured_level(logger)
    if not enabled:
        raise structlog.DropEvent
    return event_dict


class _Unconfigured:
    """How events are printed while the host has configured no logging: one console line each on stderr."""

    lock = threading.Lock()
    plain = structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    colored: structlog.dev.ConsoleRenderer | None = None

    @classmethod
    def write(cls, event_dict: EventDict) -> None:
        stream = sys.stderr  # looked up per event, so redirections (and pytest's capsys) apply
        if stream is None:  # pythonw: no console at all
            return
        renderer = cls.plain
        if _is_tty(stream):
            if cls.colored is None:
                cls.colored = structlog.dev.ConsoleRenderer(colors=True)
            renderer = cls.colored
        event_dict.pop("_record", None)
        event_dict.pop("_from_structlog", None)
        line = renderer(None, "", event_dict)
        with cls.lock:
            try:
                stream.write(f"{line}\n")
                stream.flush()
            except (OSError, ValueError):  # a closed or broken stderr must not break the caller
                pass


def _to_stdlib(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> Any:
    """Final processor: pass the event to the stdlib logger for `ProcessorFormatter` (or any formatter) to render.

    While the host has configured no logging at all, print the event on stderr instead (the stdlib would drop it,
    or print only its bare message through its last-resort handler).
    """
    if not _host_logging(logger):
        _Unconfigured.write(event_dict)
        raise structlog.DropEvent
    kwargs: dict[str, Any] = {"extra": {"_logger": logger, "_name": method_name}}
    if "exc_info" in event_dict:
        kwargs["exc_info"] = event_dict["exc_info"]
    return (_EventDict(event_dict),), kwargs


def _drop_formatted_message(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    # Another handler may have formatted the record first, leaving `message` (a copy of `event`) behind.
    event_dict.pop("message", None)
    event_dict.pop("asctime", None)
    return event_dict


_TIMESTAMPER = structlog.processors.TimeStamper(fmt="iso", utc=True)

#: The chain every plex-cognite logger runs (mutated in place only by `capture_logs`).
_CHAIN: list[Processor] = [
    _filter_by_level,
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.stdlib.PositionalArgumentsFormatter(),
    _TIMESTAMPER,
    structlog.processors.StackInfoRenderer(),
    _resolve_exc_info,
    redact_secrets,
    _to_stdlib,
]

#: Added to records from other libraries (httpx, the cognite-sdk) before rendering.
_FOREIGN_PRE_CHAIN: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.stdlib.ExtraAdder(),
    _drop_formatted_message,
    _TIMESTAMPER,
]


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """Return a structlog logger that writes through the standard `logging` logger `name`.

    The one way the library (and code built on it) obtains a logger. Safe to call at import time: it configures
    nothing. With no logging configured it prints one line per event on stderr; once the application configures
    stdlib logging (or calls `configure_logging`) its handlers and levels apply. Secrets are redacted either way.

    Args:
        name: Logger name, normally `__name__`.

    Returns:
        A bound logger (`log.info("event", key=value)`, `log.bind(...)`, `log.exception(...)`).
    """
    return structlog.stdlib.BoundLogger(logging.getLogger(name), _CHAIN, {})


def _level_number(level: str | int) -> int:
    if isinstance(level, int):
        return level
    try:
        return _LEVELS[level.strip().upper()]
    except KeyError:
        from plex_cognite.errors import ConfigurationError

        raise ConfigurationError(
            f"logging.level: unknown log level {level!r}; use DEBUG, INFO, WARNING, ERROR or CRITICAL",
            field="logging.level",
        ) from None


def _is_tty(stream: TextIO) -> bool:
    isatty: Callable[[], bool] | None = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except ValueError:  # a closed stream
        return False


def configure_logging(
    level: str | int = "INFO",
    json: bool | None = None,
    stream: TextIO | None = None,
    *,
    library_level: str | int | None = "WARNING",
) -> None:
    """Route all logging (ours and every library's) to one handler with one format.

    Calling it again replaces the previous configuration (no duplicate handlers). It also configures structlog
    globally, so `structlog.get_logger()` in application code renders the same way.

    Args:
        level: Root log level (`"DEBUG"`, `"INFO"`, ... or a number).
        json: JSON lines (True), console lines (False), or None: JSON unless `stream` is a terminal.
        stream: Where to write; default `sys.stderr` (looked up at call time).
        library_level: Level for chatty libraries (`CHATTY_LIBRARIES`: httpx logs every request at INFO);
            None leaves their levels alone.

    Raises:
        ConfigurationError: `level` is not a known level name.
    """
    target = stream if stream is not None else sys.stderr
    use_json = not _is_tty(target) if json is None else json
    renderer: Processor
    if use_json:
        renderer = structlog.processors.JSONRenderer()
        processors: list[Processor] = [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ]
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=_is_tty(target), exception_formatter=structlog.dev.plain_traceback
        )
        processors = [structlog.stdlib.ProcessorFormatter.remove_processors_meta, redact_secrets, renderer]

    handler = logging.StreamHandler(target)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(processors=processors, foreign_pre_chain=_FOREIGN_PRE_CHAIN)
    )
    root = logging.getLogger()
    if _State.handler is not None:
        root.removeHandler(_State.handler)
    root.addHandler(handler)
    root.setLevel(_level_number(level))
    if library_level is not None:
        for name in CHATTY_LIBRARIES:
            logging.getLogger(name).setLevel(_level_number(library_level))
    _State.handler = handler
    structlog.configure(
        processors=_CHAIN,
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


class ContextBinding:
    """Values bound by `bind_context`; as a context manager it restores the previous values on exit."""

    def __init__(self, tokens: Mapping[str, Token[Any]]) -> None:
        self._tokens = dict(tokens)

    def __enter__(self) -> ContextBinding:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.unbind()

    def unbind(self) -> None:
        """Restore what the bound keys held before (once; later calls do nothing)."""
        tokens, self._tokens = self._tokens, {}
        structlog.contextvars.reset_contextvars(**tokens)


def bind_context(**values: object) -> ContextBinding:
    """Bind values to every log event of the current thread or asyncio task (contextvars).

    Works as a plain call (bound until `unbind_context`/`clear_context`) and as a context manager (restored on
    exit). asyncio tasks inherit the values bound when they were created; what a task binds stays in that task.

    Args:
        **values: For example `run_id=new_run_id()`, `pcn="340884"`, `stream="production"`.

    Returns:
        A `ContextBinding`; `with bind_context(pcn=...):` unbinds on exit.
    """
    return ContextBinding(structlog.contextvars.bind_contextvars(**values))


def unbind_context(*keys: str) -> None:
    """Remove keys from the current logging context."""
    structlog.contextvars.unbind_contextvars(*keys)


def clear_context() -> None:
    """Remove every key from the current logging context."""
    structlog.contextvars.clear_contextvars()


def new_run_id() -> str:
    """Return a new run id: UTC start time plus random hex, sortable and unique (`20250101T120000Z-1a2b3c4d5e6f`)."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:12]}"


@contextmanager
def capture_logs() -> Iterator[list[MutableMapping[str, Any]]]:
    """Collect the event dicts of plex-cognite loggers instead of emitting them (a test helper).

    Context and redaction still apply, so tests see exactly what would be logged; levels are not filtered.

    Yields:
        The list that receives one dict per event (with `event`, `log_level`, context and fields).
    """
    captured: list[MutableMapping[str, Any]] = []

    def collect(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        event_dict["log_level"] = structlog.stdlib.add_log_level(logger, method_name, {})["level"]
        captured.append(event_dict)
        raise structlog.DropEvent

    saved = list(_CHAIN)
    _CHAIN[:] = [structlog.contextvars.merge_contextvars, redact_secrets, collect]
    try:
        yield captured
    finally:
        _CHAIN[:] = saved
