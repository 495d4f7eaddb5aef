"""A sans-I/O incremental decoder for one top-level JSON array: feed bytes, get the complete elements so far.

Each element is decoded by the stdlib's C scanner (`JSONDecoder.raw_decode`), which is about three times faster
than a token-level push parser (ijson's yajl2_c `items_coro` with floats) on Plex's rows, and gives exactly what
`json.loads` gives (ints, floats, str, None). Memory is one chunk plus the element being assembled.

An element cut by a chunk boundary fails to decode (or, for a bare number or literal, ends exactly at the buffer
end); it is tried again once more text has arrived. Retries are geometric in the element's buffered length, so a
single huge element costs O(n), not O(n^2).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable
from json.scanner import make_scanner
from typing import Any, Literal, cast

__all__ = ["ArrayDecodeError", "ArrayDecoder"]

_WS = re.compile(r"[ \t\n\r]*")
_WS_CHARS = frozenset(" \t\n\r")
_NUMBER_TAIL = re.compile(r"[0-9+\-.eE]*")
# The C scanner `JSONDecoder.raw_decode` wraps (calling it directly saves a Python frame per element).
_SCAN_ONCE: Callable[[str, int], tuple[Any, int]] = cast("Any", make_scanner)(json.JSONDecoder())
# A decode error this far before the end of the buffer cannot be cured by more input (escapes are <= 12 chars).
_MARGIN = 16

_START, _FIRST, _NEXT, _AFTER, _END = range(5)


def _skip(pattern: re.Pattern[str], text: str, pos: int) -> int:
    match = pattern.match(text, pos)  # both patterns match the empty string, so this never fails
    return match.end() if match is not None else pos


class ArrayDecodeError(ValueError):
    """The body is not one well-formed JSON array (the message says where and why)."""


class ArrayDecoder:
    """Decode a JSON array fed in byte chunks of any size.

    Example:
        >>> decoder = ArrayDecoder()
        >>> decoder.feed(b'[{"a": 1}, {"a"')
        [{'a': 1}]
        >>> decoder.feed(b": 2.5}]")
        [{'a': 2.5}]
        >>> decoder.close()
        []
    """

    def __init__(self, *, resume: Literal["start", "first", "next"] = "start", after_byte: int = 0) -> None:
        """Start at the body's start, or part-way through a body whose start was read elsewhere.

        Args:
            resume: Where the bytes fed start: at the body's start (`"start"`, a UTF-8 byte-order mark allowed),
                just after its opening `[` (`"first"`), or just after a complete element (`"next"`).
            after_byte: How many bytes of the body were read elsewhere (named in error messages).
        """
        self._text = codecs.getincrementaldecoder("utf-8-sig" if resume == "start" else "utf-8")()
        self._buffer = ""
        self._pos = 0
        self._state = {"start": _START, "first": _FIRST, "next": _AFTER}[resume]
        self._need = 0  # characters buffered from _pos needed before retrying a cut element
        self._consumed = 0  # characters dropped from the buffer so far (for error positions)
        self._where = f" of the body after its first {after_byte} bytes" if resume != "start" else ""

    def feed(self, chunk: bytes | bytearray) -> list[Any]:
        """Add bytes; return the elements completed by them.

        Raises:
            ArrayDecodeError: The body so far cannot be the start of a JSON array.
        """
        try:
            text = self._text.decode(chunk)
        except UnicodeDecodeError as exc:
            raise ArrayDecodeError(f"body is not UTF-8: {exc}") from None
        self._consumed += self._pos
        self._buffer = self._buffer[self._pos :] + text
        self._pos = 0
        if len(self._buffer) < self._need:  # the cut element starts at 0 now
            return []
        return self._scan(final=False)

    def close(self) -> list[Any]:
        """Signal the end of the body; return the last elements.

        Raises:
            ArrayDecodeError: The array is empty-bodied, truncated, or followed by anything but whitespace.
        """
        try:
            self._buffer = self._buffer[self._pos :] + self._text.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise ArrayDecodeError(f"body is not UTF-8: {exc}") from None
        self._consumed += self._pos
        self._pos = 0
        elements = self._scan(final=True)
        if self._state == _START:
            raise ArrayDecodeError("empty body where a JSON array was expected")
        if self._state != _END:
            raise ArrayDecodeError("truncated JSON array (the body ended before its closing ']')")
        return elements

    def _scan(self, *, final: bool) -> list[Any]:
        elements: list[Any] = []
        buffer = self._buffer
        size = len(buffer)
        pos = self._pos
        state = self._state
        scan = _SCAN_ONCE
        while True:
            if pos < size and buffer[pos] in _WS_CHARS:
                pos = _skip(_WS, buffer, pos)
            if pos >= size:
                break
            char = buffer[pos]
            if state == _START:
                if char != "[":
                    raise ArrayDecodeError(f"expected a JSON array, got a body starting {buffer[pos : pos + 40]!r}")
                pos += 1
                state = _FIRST
            elif state == _AFTER:
                if char == ",":
                    state = _NEXT
                elif char == "]":
                    state = _END
                else:
                    raise self._error(f"expected ',' or ']' after an element, got {char!r}", pos)
                pos += 1
            elif state == _END:
                raise self._error(f"unexpected {buffer[pos : pos + 20]!r} after the closing ']'", pos)
            elif state == _FIRST and char == "]":
                pos += 1
                state = _END
            else:
                try:
                    try:
                        element, end = scan(buffer, pos)
                    except StopIteration as stop:  # what `raw_decode` turns into "Expecting value"
                        raise json.JSONDecodeError("Expecting value", buffer, stop.value) from None
                except json.JSONDecodeError as exc:
                    cut = exc.msg.startswith("Unterminated string") or exc.pos >= size - _MARGIN
                    if final or not cut:
                        raise self._error(f"malformed element: {exc.msg}", exc.pos) from None
                    self._need = 2 * (size - pos)
                    break
                if (
                    not final
                    and not isinstance(element, dict | list | str)
                    and _skip(_NUMBER_TAIL, buffer, end) >= size
                ):
                    # A bare number may continue in the next chunk: "12" of "123", or "0" of "0." of "0.5".
                    self._need = size - pos + 1
                    break
                elements.append(element)
                pos = end
                state = _AFTER
                self._need = 0
        self._pos = pos
        self._state = state
        return elements

    def _error(self, message: str, pos: int) -> ArrayDecodeError:
        return ArrayDecodeError(f"{message} (at character {self._consumed + pos}{self._where})")
