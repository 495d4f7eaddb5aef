"""The CLI configures process-wide logging; put it back after each test so other test modules see the defaults."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

_LOGGERS = ("", "httpx", "httpx2", "httpcore", "httpcore2", "hpack", "h2", "urllib3", "cognite.client")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in _LOGGERS]
    levels = [logger.level for logger in loggers]
    handlers = list(logging.root.handlers)
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)
    logging.root.handlers[:] = handlers
